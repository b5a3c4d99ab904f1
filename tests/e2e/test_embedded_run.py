"""`stagecoach run` (what `make run` calls): starts everything, prints the URLs, and resumes after a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serving import free_port

BIN = Path(sys.executable).parent


def _start(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([str(BIN / "stagecoach"), "run", "--ui-port", env["UI_PORT"]], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    lines: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    for line in proc.stdout:
        lines.append(line.rstrip())
        if "Press Ctrl-C" in line or time.monotonic() > deadline:
            break
    assert any("Press Ctrl-C" in line for line in lines), "\n".join(lines)
    return proc, lines


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def test_run_starts_everything_and_a_restart_resumes_waiting_processes(tmp_path: Path) -> None:
    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "API_PORT": str(api_port),
           "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}", "UI_PORT": str(ui_port), "LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    env.pop("TEMPORAL_UI_URL", None)
    proc, lines = _start(tmp_path, env)
    try:
        output = "\n".join(lines)
        assert f"API docs:     http://127.0.0.1:{api_port}/docs" in output
        assert f"Temporal UI:  http://127.0.0.1:{ui_port}" in output
        key = (tmp_path / "data" / "admin-api-key").read_text().strip()
        assert key.startswith("sc_") and key in output
        assert oct((tmp_path / "data" / "admin-api-key").stat().st_mode & 0o777) == "0o600"
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers={"X-API-Key": key}, timeout=30)
        assert httpx.get(f"http://127.0.0.1:{ui_port}", timeout=10).status_code == 200
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
    finally:
        _stop(proc)

    proc, _ = _start(tmp_path, env)
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", headers={"X-API-Key": key}, timeout=30)
        assert api.get("/users").status_code == 200  # the same key still works: it was kept, not replaced
        deadline = time.monotonic() + 60
        while (state := api.get(f"/processes/{workflow_id}").json())["current_phase"] != "call":
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert state["status"] == "running" and state["phases"][0]["status"] == "done"
        skipped = api.post(f"/processes/{workflow_id}/skip", json={"reason": "resumed after a restart"})
        assert skipped.status_code == 200 and skipped.json()["phases"][1]["status"] == "skipped"
        assert len({t["key"] for t in api.get("/templates").json()}) == 2  # examples not loaded twice
        assert len(api.get("/users").json()) == 3
    finally:
        _stop(proc)
