"""`stagecoach request-templates`: client request templates (docs/client_requests.md)."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import CharsetOpt, JsonOpt, api, call, definition_file, out

request_templates = typer.Typer(help="Client request templates: the questions a client answers in a form.",
                                no_args_is_help=True)


@request_templates.command("apply")
def apply_request_template(path: Path, as_json: JsonOpt = False, charset: CharsetOpt = None) -> None:
    """Save a client request template file as a new version (unchanged content keeps the current one)."""
    body, kind = definition_file(path, charset)
    response = call(api().send, "POST", "/client-request-templates", content=body, headers={"Content-Type": kind})
    data = response.json()
    saved = response.status_code == 201
    out({**data, "saved": saved}, as_json, f"{data['key']} version {data['version']}" if saved else
        f"{data['key']}: unchanged, nothing saved (version {data['version']} is the latest)")


@request_templates.command("validate")
def validate_request_template(path: Path, as_json: JsonOpt = False, charset: CharsetOpt = None) -> None:
    """Check a client request template file without saving it."""
    body, kind = definition_file(path, charset)
    data = call(api().post, "/client-request-templates/validate", content=body, headers={"Content-Type": kind})
    count = len(data["template"]["questions"])
    out(data, as_json, f"{path}: valid ({count} question{'s' if count != 1 else ''})")


@request_templates.command("list")
def list_request_templates(as_json: JsonOpt = False) -> None:
    """The client request templates, each at its newest version."""
    data = call(lambda: list(api().every("/client-request-templates")))
    out(data, as_json, "\n".join(f"{t['key']:<28} v{t['latest_version']:<4} {t['language']:<5} {t['title']}"
                                 for t in data) or "no client request templates")
