"""`stagecoach`: apply and validate templates, start and steer processes, run the embedded stack."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.api_client import ApiClient, ApiError
from settings import get_settings

app = typer.Typer(help="Stagecoach: durable process automation for CRMs.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="print the API's JSON answer")]


def _api() -> ApiClient:
    settings = get_settings()
    url = os.environ.get("STAGECOACH_URL", settings.public_url)
    key = os.environ.get("STAGECOACH_API_KEY")
    key_file = settings.data_dir / "admin-api-key"
    if not key and key_file.exists():
        key = key_file.read_text().strip()
    return ApiClient(url, key)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def _out(data: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=2, default=str) if as_json else text)


def _template_body(path: Path) -> tuple[bytes, str]:
    if not path.exists():
        typer.echo(f"{path}: no such file", err=True)
        raise typer.Exit(2)
    kind = "application/json" if path.suffix == ".json" else "application/yaml"
    return path.read_bytes(), kind


@app.command()
def validate(path: Path, as_json: JsonOpt = False) -> None:
    """Check a template file without saving it."""
    body, kind = _template_body(path)
    data = _call(_api().post, "/templates/validate", content=body, headers={"Content-Type": kind})
    _out(data, as_json, f"{path}: valid ({len(data['template']['phases'])} phases)")


@app.command()
def apply(path: Path, as_json: JsonOpt = False) -> None:
    """Save a template file as a new version (unchanged content keeps the current version)."""
    body, kind = _template_body(path)
    data = _call(_api().post, "/templates", content=body, headers={"Content-Type": kind})
    _out(data, as_json, f"{data['key']} version {data['version']}")


@app.command()
def start(template: str, record_id: int,
          owner_id: Annotated[int | None, typer.Option(help="process owner (user id)")] = None,
          version: Annotated[int | None, typer.Option(help="template version; latest when omitted")] = None,
          request_id: Annotated[str | None, typer.Option(help="retrying with the same id starts nothing new")] = None,
          as_json: JsonOpt = False) -> None:
    """Start a process of TEMPLATE on record RECORD_ID."""
    body = {"template": template, "record_id": record_id, "owner_id": owner_id, "version": version,
            "request_id": request_id}
    data = _call(_api().post, "/processes", json={k: v for k, v in body.items() if v is not None})
    _out(data, as_json, f"{data['workflow_id']}\n  {data['temporal_ui_url']}")


@app.command("list")
def list_processes(template: str | None = None, record_id: int | None = None, owner_id: int | None = None,
                   status: str | None = None, phase: str | None = None, limit: int = 50,
                   as_json: JsonOpt = False) -> None:
    """Processes of any age, newest first; a finished one with who ended it and why."""
    params = {"template": template, "record_id": record_id, "owner_id": owner_id, "status": status,
              "phase": phase, "limit": limit}
    data = _call(_api().get, "/processes", params={k: v for k, v in params.items() if v is not None})
    lines = [f"{p['workflow_id']:<48} {p['status']:<10} {p['current_phase'] or '-':<20} record {p['record_id']}"
             + (f"  ended by {p['ended_by']}" if p.get("ended_by") else "")
             + (f": {p['end_reason']}" if p.get("end_reason") else "")
             for p in data["items"]]
    _out(data, as_json, "\n".join(lines) or "no processes")


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
    data = _call(_api().get, f"/processes/{workflow_id}")
    _out(data, as_json, _state_text(data))


@app.command()
def skip(workflow_id: str, phase: Annotated[str | None, typer.Option(help="the current phase when omitted")] = None,
         reason: str = "", as_json: JsonOpt = False) -> None:
    """Skip the current phase (or a named later one)."""
    data = _call(_api().post, f"/processes/{workflow_id}/skip", json={"phase": phase, "reason": reason})
    _out(data, as_json, _state_text(data))


@app.command()
def abort(workflow_id: str, reason: Annotated[str, typer.Option(help="why (required)")],
          as_json: JsonOpt = False) -> None:
    """Abort a process."""
    data = _call(_api().post, f"/processes/{workflow_id}/abort", json={"reason": reason})
    _out(data, as_json, _state_text(data))


@app.command()
def complete(workflow_id: str, phase: Annotated[str | None, typer.Option()] = None,
             answer: Annotated[list[str] | None, typer.Option(help="an answer the process keeps: NAME=VALUE")] = None,
             as_json: JsonOpt = False) -> None:
    """Complete the current manual phase, optionally with answers (decisions may use them)."""
    answers = {}
    for item in answer or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            typer.echo(f"--answer {item!r}: write it as NAME=VALUE", err=True)
            raise typer.Exit(2)
        answers[name] = value
    data = _call(_api().post, f"/processes/{workflow_id}/complete", json={"phase": phase, "answers": answers})
    _out(data, as_json, _state_text(data))


@app.command("load-examples")
def load_examples_command() -> None:
    """Load the example users, records and templates (safe to repeat)."""
    from cli.examples import load_examples

    counts = _call(load_examples, _api())
    typer.echo(", ".join(f"{v} {k}" for k, v in counts.items()))


@app.command()
def run(ui_port: Annotated[int, typer.Option(help="Temporal Web UI port")] = 8233,
        examples: Annotated[bool, typer.Option(help="load the example data")] = True) -> None:
    """Start the embedded stack: Temporal dev server, worker and API on SQLite (the data folder)."""
    from cli.embedded import run_embedded

    settings = get_settings()
    if "TEMPORAL_UI_URL" not in os.environ:
        settings.temporal_ui_url = f"http://127.0.0.1:{ui_port}"
    raise typer.Exit(run_embedded(settings, ui_port=ui_port, with_examples=examples))


if __name__ == "__main__":
    app()
