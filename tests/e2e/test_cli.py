"""The `stagecoach` command against the API: validate, apply, start, list, show, skip, abort, keys, users, records,
--json."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from collections.abc import Awaitable, Callable
from typing import Any

from typer.testing import CliRunner

from cli.examples import EXAMPLES, examples_in
from cli.main import app
from tests.e2e.conftest import Stack
from tests.e2e.test_process_over_http import template_yaml


def command_line(stack: Stack) -> Callable[..., Awaitable[tuple[int, str]]]:
    """`stagecoach ARGS...` against the stack's API with its admin key: the exit code and what it printed."""
    runner = CliRunner()
    env = {"STAGECOACH_URL": str(stack.http.base_url), "STAGECOACH_API_KEY": stack.keys["admin"]}

    async def cli(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
        return result.exit_code, result.output

    return cli


async def test_the_command_line_steers_a_process(stack: Stack, tmp_path: Path) -> None:
    cli = command_line(stack)
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
    windows = tmp_path / "windows.yaml"  # a file saved by a Windows editor
    windows.write_bytes(template_yaml(key, body="Caffè con {{ record }}").encode("windows-1252"))
    code, out = await cli("validate", str(windows))
    assert code == 1 and "the request body is not valid UTF-8: byte offset" in out and "charset=" in out
    assert (await cli("validate", str(windows), "--charset", "windows-1252"))[1].strip() == \
        f"{windows}: valid (3 phases)"
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
    # past one page, the last line says how to ask for the next, which holds the rest
    code, out = await cli("start", key, str(record["id"]))
    second = out.split()[0]
    code, out = await cli("list", "--template", key, "--limit", "1")
    assert code == 0 and second in out and workflow_id not in out, out
    more = out.strip().splitlines()[-1]
    assert more.startswith("... more: stagecoach list --page-token ") and f"--template {key}" in more, more
    code, out = await cli(*more.removeprefix("... more: stagecoach ").split())
    assert code == 0 and workflow_id in out and second not in out and "... more" not in out, out


def test_every_command_takes_json() -> None:
    """Every command and subcommand of `stagecoach` takes --json (the README says so)"""
    import typer.main

    group = typer.main.get_command(app)
    missing = []

    def walk(command: Any, name: str) -> None:
        if hasattr(command, "commands"):
            for sub_name, sub in command.commands.items():
                walk(sub, f"{name} {sub_name}".strip())
        elif not any("--json" in getattr(p, "opts", []) for p in command.params):
            missing.append(name)

    walk(group, "")
    assert not missing, missing
    assert {"keys", "users", "records"} <= set(group.commands)  # type: ignore[attr-defined]


async def test_keys_users_and_records_from_the_command_line(stack: Stack, tmp_path: Path) -> None:
    """`stagecoach keys`, `users` and `records` over the API; `apply` says when nothing new was saved"""
    cli = command_line(stack)
    tag = uuid.uuid4().hex[:6]
    code, out = await cli("users", "create", f"cli{tag}", "Bruno Esposito", f"bruno{tag}@agency.example",
                          "--role", "installer", "--json")
    assert code == 0, out
    user = json.loads(out)
    assert (await cli("users", "show", str(user["id"])))[1].split()[:2] == [str(user["id"]), f"cli{tag}"]
    code, out = await cli("users", "update", str(user["id"]), "--phone", "+39 02 555 0199")
    assert code == 0 and f"cli{tag}" in out
    code, out = await cli("users", "list", "--role", "installer")
    assert code == 0 and f"cli{tag}" in out

    code, out = await cli("records", "create", "lead", f"Roof {tag}", "--owner-id", str(user["id"]),
                          "--field", "rooms=3", "--json")
    assert code == 0, out
    record = json.loads(out)
    assert record["fields"] == {"rooms": "3"} and record["owner_id"] == user["id"]
    code, out = await cli("records", "update", str(record["id"]), "--status", "Contacted", "--field", "budget=900")
    assert code == 0 and "Contacted" in out and "fields.budget: 900" in out and "fields.rooms: 3" in out
    code, out = await cli("records", "list", "--q", f"Roof {tag}")
    assert code == 0 and f"Roof {tag}" in out
    code, out = await cli("records", "history", str(record["id"]))
    assert code == 0
    code, out = await cli("records", "update", str(record["id"]))
    assert code == 2 and "nothing to change" in out

    code, out = await cli("keys", "create", f"cli {tag}", "--role", "staff", "--user-id", str(user["id"]), "--json")
    assert code == 0, out
    key = json.loads(out)
    code, out = await cli("keys", "list", "--limit", "500")
    assert code == 0 and f"cli {tag} acting as user {user['id']}" in out
    code, out = await cli("keys", "revoke", str(key["id"]))
    assert code == 0 and "revoked" in out
    revoked = await stack.http.get("/records", headers={"X-API-Key": key["key"]})
    assert revoked.status_code == 401

    path = tmp_path / "one.yaml"
    template_key = f"cli-{tag}"
    path.write_text(template_yaml(template_key))
    assert (await cli("apply", str(path)))[1].strip() == f"{template_key} version 1"
    code, out = await cli("apply", str(path))
    assert code == 0 and out.strip() == f"{template_key}: unchanged, nothing saved (version 1 is the latest)"
    code, out = await cli("apply", str(path), "--json")
    assert json.loads(out)["saved"] is False

    code, out = await cli("load-examples", "--json")
    assert code == 0, out
    loaded = json.loads(out)
    assert (loaded["users"], loaded["records"], loaded["templates"], loaded["pipelines"]) == (3, 6, 2, 2)
    code, out = await cli("load-examples")
    assert code == 0 and out.strip() == "3 users, 6 records, 2 templates, 2 pipelines, 1 client request template (loaded before)"

    # the example pipelines: a warranty repair starts in Diagnosis and may only file a claim from there
    code, out = await cli("pipelines", "list", "--kind", "job")
    assert code == 0 and "repair-shop" in out and "Warranty repair" in out
    code, out = await cli("record-types", "show", "job", "Warranty repair")
    assert code == 0 and "Diagnosis -> Warranty claim filed" in out
    jobs = (await stack.http.get("/records", headers=stack.as_("admin"), params={"kind": "job",
                                                                                "q": "Phone battery"})).json()
    job_id = str(jobs[0]["id"])
    code, out = await cli("records", "allowed-moves", job_id)
    assert code == 0 and "next: Warranty claim filed" in out
    code, out = await cli("records", "move", job_id, "Quote sent")
    assert code != 0 and "allowed next: Warranty claim filed" in out
    code, out = await cli("pipelines", "board", "repair-shop", "--type", "Warranty repair")
    assert code == 0 and "Diagnosis (" in out and "Phone battery swelling" in out
    # validate answers what apply would do: the example as loaded is unchanged, not "would be version 2"
    example = Path(__file__).resolve().parents[2] / "examples" / "en" / "pipelines" / "repair-shop.yaml"
    code, out = await cli("pipelines", "validate", str(example))
    assert code == 0 and out.strip() == f"{example}: valid, unchanged (version 1 of repair-shop: apply keeps it)"
    code, out = await cli("pipelines", "apply", str(example))
    assert code == 0 and out.strip() == "repair-shop: unchanged, nothing saved (version 1)"



async def test_the_examples_in_each_language_load_side_by_side(stack: Stack) -> None:
    """`load-examples --language it` beside the English ones: Italian keys, types and titles of their own."""
    cli = command_line(stack)
    assert (await cli("load-examples", "--language", "en"))[0] == 0
    code, out = await cli("load-examples", "--language", "it", "--json")
    assert code == 0, out
    loaded = json.loads(out)
    assert (loaded["users"], loaded["records"], loaded["templates"], loaded["pipelines"],
            loaded["request_templates"]) == (3, 6, 2, 2, 1)
    assert loaded["new_users"] == 0  # the same office's people
    code, out = await cli("load-examples", "--language", "it")
    assert code == 0 and out.strip().endswith("(loaded before)"), out

    code, out = await cli("record-types", "show", "job", "Riparazione in garanzia")
    assert code == 0 and "Diagnosi -> Garanzia richiesta" in out, out
    code, out = await cli("record-types", "show", "job", "Warranty repair")  # the English pipeline unchanged
    assert code == 0 and "Diagnosis -> Warranty claim filed" in out, out
    keys = {t["key"] for t in (await stack.http.get("/templates", headers=stack.as_("admin"))).json()}
    assert {"nuovo-contatto", "documenti-mancanti", "new-lead-follow-up", "documents-pending"} <= keys
    leads = (await stack.http.get("/records", headers=stack.as_("admin"),
                                  params={"kind": "lead", "q": "Appartamento in Via Roma 3"})).json()
    assert [(r["type"], r["status"]) for r in leads] == [("Contatto dal sito", "Nuovo")]
    started = await stack.http.post("/processes", headers=stack.as_("admin"),
                                    json={"template": "nuovo-contatto", "record_id": leads[0]["id"]})
    assert started.status_code == 201, started.text


def test_the_examples_are_chosen_by_the_language_of_locale() -> None:
    assert examples_in("it") == examples_in("it_CH") == examples_in("it-IT") == EXAMPLES / "it"
    assert examples_in("en") == examples_in("de") == examples_in("fr_FR") == EXAMPLES / "en"
    english, italian = EXAMPLES / "en", EXAMPLES / "it"
    for kind in ("templates", "pipelines", "client-requests"):  # the same office in each language
        assert len(list((english / kind).glob("*.yaml"))) == len(list((italian / kind).glob("*.yaml"))) > 0, kind
    assert (english / "data.yaml").read_text().count("kind:") == (italian / "data.yaml").read_text().count("kind:")

async def test_client_request_templates_from_the_command_line(stack: Stack, tmp_path: Path) -> None:
    """`stagecoach request-templates validate / apply / list`: a mistake at its path, a version, the list"""
    cli = command_line(stack)
    key = f"cli-{uuid.uuid4().hex[:6]}"
    example = Path(__file__).resolve().parents[2] / "examples" / "en" / "client-requests" / "tax-return-documents.yaml"
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(example.read_text().replace("key: tax-return-documents", f"key: {key}"))
    bad.write_text(good.read_text().replace("type: multi_choice", "type: many"))
    code, out = await cli("request-templates", "validate", str(bad))
    assert code == 1 and "questions[3].type" in out
    assert (await cli("request-templates", "validate", str(good)))[1].strip() == f"{good}: valid (8 questions)"
    assert (await cli("request-templates", "apply", str(good)))[1].strip() == f"{key} version 1"
    assert "unchanged" in (await cli("request-templates", "apply", str(good)))[1]
    code, out = await cli("request-templates", "list", "--json")
    assert code == 0 and [t["latest_version"] for t in json.loads(out) if t["key"] == key] == [1]
