"""`stagecoach run` (what `make run` calls): checks its ports, starts everything, prints the URLs, starts a part
again when it is killed, stops quietly on Ctrl-C, and resumes after a restart; the `stagecoach` command finds it from
any directory."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.console.signing import http_sign_in
from tests.serving import free_port

BIN = Path(sys.executable).parent


def _start(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([str(BIN / "stagecoach"), "run", "--ui-port", env["UI_PORT"]], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        lines.append(line.rstrip())
        if "Press Ctrl-C" in line or time.monotonic() > deadline:
            break
    assert any("Press Ctrl-C" in line for line in lines), "\n".join(lines)
    return proc, lines


def _stop(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> list[str]:
    """SIGTERM to `stagecoach run`, or SIGINT to its process group (what Ctrl-C in its terminal does); what it
    printed from then on."""
    if sig is signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    try:
        rest, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return rest.splitlines()


def _child(proc: subprocess.Popen[str], pattern: str) -> int:
    """The pid of the child of `stagecoach run` whose command line holds `pattern`."""
    found = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "--", pattern], capture_output=True, text=True)
    assert found.returncode == 0, found
    return int(found.stdout.split()[0])


def _line_with(proc: subprocess.Popen[str], text: str, timeout: float) -> str:
    """The next line `stagecoach run` prints holding `text` (stdout and stderr are one pipe)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if ready and text in (line := proc.stdout.readline()):
            return line.strip()
    raise AssertionError(f"no line with {text!r} within {timeout:.0f}s")


def test_run_says_which_port_is_busy_and_starts_nothing(tmp_path: Path) -> None:
    """With its ports taken by other programs, `make run` names each one and how to choose another, and stops"""
    holders = []
    for _ in range(3):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        holders.append(holder)
    api_port, temporal_port, ui_port = (h.getsockname()[1] for h in holders)
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "API_PORT": str(api_port),
           "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}"}
    try:
        done = subprocess.run([str(BIN / "stagecoach"), "run", "--ui-port", str(ui_port)], env=env,
                              capture_output=True, text=True, timeout=60)
    finally:
        for holder in holders:
            holder.close()
    assert done.returncode == 2, done
    assert f"port {api_port} on 127.0.0.1 (the API) is in use" in done.stderr
    assert f"API_PORT={api_port + 1} make run" in done.stderr
    assert f"TEMPORAL_ADDRESS=127.0.0.1:{temporal_port + 1} make run" in done.stderr
    assert f"make run UI_PORT={ui_port + 1}" in done.stderr
    assert "Stagecoach is running" not in done.stdout and not (tmp_path / "data").exists()


def test_run_starts_everything_and_a_restart_resumes_waiting_processes(tmp_path: Path) -> None:
    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "API_PORT": str(api_port),
           "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}", "UI_PORT": str(ui_port), "LOG_LEVEL": "WARNING"}
    for name in ("DATABASE_URL", "TEMPORAL_UI_URL", "SMTP_HOST", "TIMEZONE", "LOOP_GUARD_TIMEZONE"):
        env.pop(name, None)
    proc, lines = _start(tmp_path, env)
    try:
        output = "\n".join(lines)
        assert f"API docs:     http://127.0.0.1:{api_port}/docs" in output
        assert f"Temporal UI:  http://127.0.0.1:{ui_port}" in output
        assert f"Email:        kept in http://127.0.0.1:{api_port}/console/outbox (no SMTP_HOST set" in output
        assert "Time zone:    UTC (TIMEZONE)" in output
        assert "Examples:     3 users, 6 records, 2 templates, 2 pipelines, 1 client request template (loaded now)" in output
        key = (tmp_path / "data" / "admin-api-key").read_text().strip()
        assert key.startswith("sc_") and key in output
        assert oct((tmp_path / "data" / "admin-api-key").stat().st_mode & 0o777) == "0o600"
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers={"X-API-Key": key}, timeout=30)
        assert httpx.get(f"http://127.0.0.1:{ui_port}", timeout=10).status_code == 200
        home = httpx.get(f"http://127.0.0.1:{api_port}/", timeout=10)
        assert home.status_code == 307 and home.headers["location"] == "/console"
        password = (tmp_path / "data" / "console-admin-password").read_text().strip()
        assert f"Console:      http://127.0.0.1:{api_port}/console" in output
        assert f"Sign in as:   admin, password {password} " in output
        assert oct((tmp_path / "data" / "console-admin-password").stat().st_mode & 0o777) == "0o600"
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as browser:
            signed = http_sign_in(browser, "admin", password)
            assert signed.status_code == 303 and browser.get("/console").status_code == 200, signed.text
        assert api.post("/users", json={"handle": "another", "name": "Another User",
                                        "email": "another@agency.example"}).status_code == 201
        described = subprocess.run([str(Path(sys.executable).parent / "temporal"), "operator", "namespace",
                                    "describe", "--namespace", "default", "--address", f"127.0.0.1:{temporal_port}",
                                    "--output", "json"], capture_output=True, text=True, timeout=30, check=True)
        retention = json.loads(described.stdout)["config"]["workflowExecutionRetentionTtl"]
        assert retention == f"{7 * 24 * 3600}s"  # a week, set explicitly (the dev server's own is a day)
        assert {t["key"] for t in api.get("/templates").json()} == {"new-lead-follow-up", "documents-pending"}
        lead = next(r for r in api.get("/records", params={"kind": "lead"}).json())
        started = api.post("/processes", json={"template": "new-lead-follow-up", "record_id": lead["id"]})
        assert started.status_code == 201, started.text
        workflow_id = started.json()["workflow_id"]
        # the command line, from a directory below another one, finds the key and the URL `make run` left
        below = tmp_path / "elsewhere" / "deeper"
        below.mkdir(parents=True)
        cli_env = {k: v for k, v in env.items() if k not in ("API_PORT", "STAGECOACH_URL", "STAGECOACH_API_KEY")}
        listed = subprocess.run([str(BIN / "stagecoach"), "users", "list", "--json"], cwd=below, text=True,
                                env={**cli_env, "DATA_DIR": "data"}, capture_output=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert {u["handle"] for u in json.loads(listed.stdout)} == {"admin", "maria", "luca", "chiara", "another"}
    finally:
        after_ctrl_c = _stop(proc, signal.SIGINT)
    assert proc.returncode == 0, after_ctrl_c
    noise = [line for line in after_ctrl_c if "WARN" in line or "dial" in line or "Traceback" in line]
    assert not noise, "\n".join(after_ctrl_c)
    assert after_ctrl_c[-1].startswith("Stopped."), after_ctrl_c

    smtp_port = free_port()  # nothing listens there: no email is sent in this test
    proc, lines = _start(tmp_path, {**env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port)})
    try:
        output = "\n".join(lines)
        assert f"Email:        sent through 127.0.0.1:{smtp_port}, and kept in http://127.0.0.1:{api_port}/console/outbox" \
            in output
        assert "Examples:     3 users, 6 records, 2 templates, 2 pipelines, 1 client request template (loaded before)" in output  # not the 4 users there are
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers={"X-API-Key": key}, timeout=30)
        assert api.get("/users").status_code == 200  # the same key still works: it was kept, not replaced
        deadline = time.monotonic() + 60
        while (state := api.get(f"/processes/{workflow_id}").json())["current_phase"] != "call":
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert state["status"] == "running" and state["phases"][0]["status"] == "done"
        # a part killed is started again, saying which and how; the rest keeps answering
        for part, pattern in (("the worker", "-m worker"), ("the Temporal dev server", "start-dev")):
            pid = _child(proc, pattern)
            os.kill(pid, signal.SIGKILL)
            said = _line_with(proc, "starting it again", 60)
            assert said.startswith(f"{part} (pid {pid}) was killed by signal 9: starting it again"), said
            assert api.get("/users").status_code == 200
        skipped = api.post(f"/processes/{workflow_id}/skip", json={"reason": "resumed after a restart"})
        assert skipped.status_code == 200 and skipped.json()["phases"][1]["status"] == "skipped"
        assert len({t["key"] for t in api.get("/templates").json()}) == 2  # examples not loaded twice
        assert len(api.get("/users").json()) == 5  # the console's admin, the examples' three and another
    finally:
        _stop(proc)
