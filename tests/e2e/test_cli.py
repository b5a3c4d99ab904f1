"""The `stagecoach` command against the API: validate, apply, start, list, show, skip, abort, --json."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from tests.e2e.conftest import Stack
from tests.e2e.test_process_over_http import template_yaml


async def test_the_command_line_steers_a_process(stack: Stack, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"STAGECOACH_URL": str(stack.http.base_url), "STAGECOACH_API_KEY": stack.keys["admin"]}

    async def cli(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
        return result.exit_code, result.output

    user = (await stack.http.post("/users", headers=stack.as_("admin"), json={
        "handle": f"cli{uuid.uuid4().hex[:6]}", "name": "Ada", "email": "ada@agency.example"})).json()
    record = (await stack.http.post("/records", headers=stack.as_("staff"), json={
        "kind": "lead", "title": "Shop lease", "email": "shop@example.org", "owner_id": user["id"]})).json()
    key = f"cli-{uuid.uuid4().hex[:6]}"
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(template_yaml(key))
    bad.write_text(template_yaml(key, body="{{ record.titel }}"))

    code, out = await cli("validate", str(bad))
    assert code == 1
    assert "phases[0].actions[0].send_email.body: unknown attribute 'record.titel' (did you mean 'title'?)" in out
    assert (await cli("validate", str(good)))[1].strip() == f"{good}: valid (3 phases)"
    assert (await cli("apply", str(good)))[1].strip() == f"{key} version 1"
    code, out = await cli("start", key, str(record["id"]), "--json")
    assert code == 0
    workflow_id = json.loads(out)["workflow_id"]

    for _ in range(300):
        code, out = await cli("show", workflow_id, "--json")
        if json.loads(out)["current_phase"] == "call":
            break
        await asyncio.sleep(0.1)
    code, out = await cli("show", workflow_id)
    assert code == 0 and " > call                 running" in out
    code, out = await cli("skip", workflow_id, "--phase", "cal")
    assert code == 1 and "PhaseNotFound (404): no phase 'cal'" in out
    code, out = await cli("abort", workflow_id, "--reason", "duplicate lead")
    assert code == 0 and "aborted" in out and "ended: duplicate lead" in out
    code, out = await cli("list", "--template", key)
    assert code == 0 and f"{workflow_id}" in out and ": duplicate lead" in out and "ended by " in out
    code, out = await cli("list", "--template", key, "--json")
    assert code == 0
