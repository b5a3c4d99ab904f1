"""`stagecoach`: apply and validate templates, start and steer processes, manage keys, users and records,
run the embedded stack. Every command takes `--json`; the admin key `make run` made is found from any directory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import client_requests, csv_files, pipelines, resources
from cli.admin import admin_app
from cli.common import CharsetOpt, JsonOpt, api, call, definition_file, out, pairs, segment
from processes.history_words import actor_in
from settings import get_settings

app = typer.Typer(help="Stagecoach: durable process automation for CRMs.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.add_typer(admin_app, name="admin")
app.add_typer(resources.keys, name="keys")
app.add_typer(resources.users, name="users")
app.add_typer(resources.records, name="records")
app.add_typer(pipelines.pipelines, name="pipelines")
app.add_typer(pipelines.record_types, name="record-types")
app.add_typer(client_requests.request_templates, name="request-templates")
resources.records.command("move")(pipelines.move)
resources.records.command("allowed-moves")(pipelines.allowed_moves)
app.command("import")(csv_files.import_file)
app.command("export")(csv_files.export_file)


def _noted(data: dict[str, Any]) -> str:
    """The API's notes on a template (SMS segments, texts not tried when saved), a line each."""
    return "".join(f"\n  note: {note}" for note in data.get("notes", []))


@app.command()
def validate(path: Path, as_json: JsonOpt = False, charset: CharsetOpt = None) -> None:
    """Check a template file without saving it."""
    body, kind = definition_file(path, charset)
    data = call(api().post, "/templates/validate", content=body, headers={"Content-Type": kind})
    phases = len(data["template"]["phases"])
    out(data, as_json, f"{path}: valid ({phases} phase{'s' if phases != 1 else ''})" + _noted(data))


@app.command()
def apply(path: Path, as_json: JsonOpt = False, charset: CharsetOpt = None) -> None:
    """Save a template file as a new version (unchanged content keeps the current version)."""
    body, kind = definition_file(path, charset)
    response = call(api().send, "POST", "/templates", content=body, headers={"Content-Type": kind})
    data = response.json()
    saved = response.status_code == 201
    out({**data, "saved": saved}, as_json, (f"{data['key']} version {data['version']}" if saved else
        f"{data['key']}: unchanged, nothing saved (version {data['version']} is the latest)") + _noted(data))


@app.command()
def start(template: str, record_id: int,
          owner_id: Annotated[int | None, typer.Option(help="process owner (user id)")] = None,
          version: Annotated[int | None, typer.Option(help="template version; latest when omitted")] = None,
          request_id: Annotated[str | None, typer.Option(help="retrying with the same id starts nothing new")] = None,
          as_json: JsonOpt = False) -> None:
    """Start a process of TEMPLATE on record RECORD_ID."""
    body = {"template": template, "record_id": record_id, "owner_id": owner_id, "version": version,
            "request_id": request_id}
    data = call(api().post, "/processes", json={k: v for k, v in body.items() if v is not None})
    out(data, as_json, f"{data['workflow_id']}\n  {data['temporal_ui_url']}")


@app.command("list")
def list_processes(template: str | None = None, record_id: int | None = None, owner_id: int | None = None,
                   status: str | None = None, phase: str | None = None,
                   limit: Annotated[int, typer.Option(min=1, max=200, help="processes on one page")] = 50,
                   page_token: Annotated[str | None, typer.Option(help="the next page, as the last line said")] = None,
                   as_json: JsonOpt = False) -> None:
    """Processes of any age, newest first; a finished one with who ended it and why. Past one page, the last line
    says how to ask for the next."""
    params = {"template": template, "record_id": record_id, "owner_id": owner_id, "status": status,
              "phase": phase, "limit": limit, "page_token": page_token}
    data = call(api().get, "/processes", params={k: v for k, v in params.items() if v is not None})
    lines = [f"{p['workflow_id']:<48} {p['status']:<10} {p['current_phase'] or '-':<20} record {p['record_id']}"
             + (f"  ended by {actor_in('en', p['ended_by'])}" if p.get("ended_by") else "")
             + (f": {p['end_reason']}" if p.get("end_reason") else "")
             for p in data["items"]]
    if data.get("next_page_token"):
        lines.append(f"... more: stagecoach list --page-token {data['next_page_token']}"
                     + "".join(f" --{name.replace('_', '-')} {value}" for name, value in params.items()
                               if value is not None and name not in ("page_token", "limit")) + f" --limit {limit}")
    out(data, as_json, "\n".join(lines) or "no processes")


def _state_text(state: dict[str, Any]) -> str:
    lines = [f"{state['workflow_id']}  {state['status']}  template {state['template_key']} "
             f"v{state['template_version']}  record {state['record_id']}  owner {state['owner_id']}"]
    if state.get("incident"):
        i = state["incident"]
        lines.append(f"  INCIDENT in {i['phase_key']} at {i['step']}: {i['error_type']}: {i['message']}")
    for phase in state["phases"]:
        marker = ">" if phase["key"] == state.get("current_phase") else " "
        extra = " OVERDUE" if phase.get("overdue") else ""
        lines.append(f" {marker} {phase['key']:<20} {phase['status']:<8}{extra}")
    if state.get("parent_workflow_id"):
        lines.append(f"  follow-up of {state['parent_workflow_id']}")
    for follow_up in state.get("follow_ups", []):
        lines.append(f"  follow-up {follow_up['template']}: {follow_up['status']} {follow_up.get('workflow_id') or ''}")
    if state.get("end_reason"):
        lines.append(f"  ended: {state['end_reason']}")
    lines.append(f"  {state['temporal_ui_url']}")
    return "\n".join(lines)


@app.command()
def show(workflow_id: str, as_json: JsonOpt = False) -> None:
    """One process: phases, statuses, incident."""
    data = call(api().get, f"/processes/{segment(workflow_id)}")
    out(data, as_json, _state_text(data))


@app.command()
def skip(workflow_id: str, phase: Annotated[str | None, typer.Option(help="the current phase when omitted")] = None,
         reason: str = "", as_json: JsonOpt = False) -> None:
    """Skip the current phase (or a named later one)."""
    data = call(api().post, f"/processes/{segment(workflow_id)}/skip", json={"phase": phase, "reason": reason})
    out(data, as_json, _state_text(data))


@app.command()
def abort(workflow_id: str, reason: Annotated[str, typer.Option(help="why (required)")],
          as_json: JsonOpt = False) -> None:
    """Abort a process."""
    data = call(api().post, f"/processes/{segment(workflow_id)}/abort", json={"reason": reason})
    out(data, as_json, _state_text(data))


@app.command()
def complete(workflow_id: str, phase: Annotated[str | None, typer.Option()] = None,
             answer: Annotated[list[str] | None, typer.Option(help="an answer the process keeps: NAME=VALUE")] = None,
             as_json: JsonOpt = False) -> None:
    """Complete the current manual phase, optionally with answers (decisions may use them)."""
    answers = pairs(answer, "--answer")
    data = call(api().post, f"/processes/{segment(workflow_id)}/complete", json={"phase": phase, "answers": answers})
    out(data, as_json, _state_text(data))


@app.command("load-examples")
def load_examples_command(
        language: Annotated[str | None, typer.Option(
            help="the examples' language: en or it (default: LOCALE's; any other gets the English ones)")] = None,
        as_json: JsonOpt = False) -> None:
    """Load the example users, records, templates and pipelines (safe to repeat: what exists is left as it is)."""
    from cli.examples import examples_in, load_examples

    loaded = call(load_examples, api(), examples_in(language or get_settings().locale))
    out(loaded.as_dict(), as_json, loaded.text())


@app.command("codec-server")
def codec_server(port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 8081,
                 ui_origin: Annotated[list[str] | None, typer.Option(
                     help="the Temporal UI's address, allowed to call it from the browser")] = None,
                 as_json: JsonOpt = False) -> None:
    """Decode encrypted payloads for the Temporal UI or CLI, with PAYLOAD_ENCRYPTION_KEYS (docs/deployment.md)."""
    import uvicorn

    from cli.codec_server import codec_app
    from workflows.codec import EncryptionCodec, KeyringInvalid, parse_keyring

    keys = get_settings().payload_encryption_keys
    if keys is None:
        typer.echo("PAYLOAD_ENCRYPTION_KEYS (or PAYLOAD_ENCRYPTION_KEYS_FILE) is not set", err=True)
        raise typer.Exit(2)
    try:
        codec = EncryptionCodec(parse_keyring(keys.get_secret_value()))
    except KeyringInvalid as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    origins = ui_origin or ["http://127.0.0.1:8080", "http://localhost:8080", "http://127.0.0.1:8233"]
    url = f"http://127.0.0.1:{port}"
    out({"codec_endpoint": url, "ui_origins": origins}, as_json, f"codec server on {url} (for {', '.join(origins)})")
    uvicorn.run(codec_app(codec, origins), host="127.0.0.1", port=port)


@app.command()
def run(ui_port: Annotated[int, typer.Option(help="Temporal Web UI port (make run UI_PORT=...)")] = 8233,
        examples: Annotated[bool, typer.Option(help="load the example data")] = True,
        as_json: Annotated[bool, typer.Option("--json", help="once running, print what the banner says as JSON")]
        = False) -> None:
    """Start the embedded stack: Temporal dev server, worker and API on SQLite (the data folder)."""
    from cli.embedded import run_embedded

    settings = get_settings()
    if "TEMPORAL_UI_URL" not in os.environ:
        settings.temporal_ui_url = f"http://127.0.0.1:{ui_port}"
    raise typer.Exit(run_embedded(settings, ui_port=ui_port, with_examples=examples, as_json=as_json))


if __name__ == "__main__":
    app()
