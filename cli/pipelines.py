"""`stagecoach pipelines` and `record-types`, and moving records (`records move`, `records allowed-moves`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import CharsetOpt, JsonOpt, api, call, definition_file, given, out, segment

pipelines = typer.Typer(help="Pipelines: a record kind's statuses, moves, record types and automations.",
                        no_args_is_help=True)
record_types = typer.Typer(help="Record types: each with its initial status and its own sequence of statuses.",
                           no_args_is_help=True)


def _summary_line(p: dict[str, Any]) -> str:
    return f"{p['key']:<28} v{p['latest_version']:<4} {p['record_kind']:<12} {p['name']}  types: {', '.join(p['types'])}"


@pipelines.command("apply")
def apply_pipeline(path: Path, as_json: JsonOpt = False, charset: CharsetOpt = None) -> None:
    """Save a pipeline file as a new version (unchanged content keeps the current one)."""
    body, kind = definition_file(path, charset)
    response = call(api().send, "POST", "/pipelines", content=body, headers={"Content-Type": kind})
    data = response.json()
    saved = response.status_code == 201
    moved = "".join(f"\n  {n} record(s) moved out of '{status}'" for status, n in data.get("remapped", {}).items())
    out({**data, "saved": saved}, as_json, (f"{data['key']} version {data['version']}" if saved else
                                            f"{data['key']}: unchanged, nothing saved (version {data['version']})")
        + moved)


@pipelines.command("validate")
def validate_pipeline(path: Path, as_json: JsonOpt = False, charset: CharsetOpt = None) -> None:
    """Check a pipeline file as `apply` would, without saving it."""
    body, kind = definition_file(path, charset)
    data = call(api().post, "/pipelines/validate", content=body, headers={"Content-Type": kind})
    if not data["changed"]:
        out(data, as_json, f"{path}: valid, unchanged (version {data['version']} of {data['key']}: apply keeps it)")
        return
    moving = "".join(f"\n  {n} record(s) would move out of '{status}'" for status, n in data["remapped"].items())
    out(data, as_json, f"{path}: valid (would be version {data['version']} of {data['key']})" + moving)


@pipelines.command("list")
def list_pipelines(kind: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False) -> None:
    data = call(api().get, "/pipelines", params=given(kind=kind))
    out(data, as_json, "\n".join(_summary_line(p) for p in data) or "no pipelines")


@pipelines.command("show")
def show_pipeline(key: str, version: Annotated[int | None, typer.Option()] = None, as_json: JsonOpt = False) -> None:
    data = call(api().get, f"/pipelines/{segment(key)}" + (f"/versions/{version}" if version else ""))
    definition = data["definition"]
    lines = [f"{data['key']} version {data['version']}: {data['name']} ({data['record_kind']})"]
    for status in definition["statuses"]:
        subs = ", ".join(s["name"] for s in status.get("substates", []))
        lines.append(f"  {status['name']}" + (f"  [substates: {subs}]" if subs else "")
                     + (f"  {len(status.get('automations', []))} automation(s)" if status.get("automations") else ""))
    lines += [f"  type {t['name']}: starts in {t.get('initial_status') or 'New'}" for t in definition["types"]]
    out(data, as_json, "\n".join(lines))


@pipelines.command("board")
def board(key: str, type: Annotated[str | None, typer.Option()] = None,
          owner_id: Annotated[int | None, typer.Option()] = None, channel: Annotated[str | None, typer.Option()] = None,
          limit: Annotated[int, typer.Option(help="records shown per status")] = 5,
          offset: Annotated[int, typer.Option(help="records of each status passed over first (the next page)")] = 0,
          as_json: JsonOpt = False) -> None:
    """Each status with its number of records and the first of them (`--offset` for the ones after)."""
    data = call(api().get, f"/pipelines/{segment(key)}/board",
                params=given(type=type, owner_id=owner_id, channel=channel, limit=limit, offset=offset or None))
    lines = []
    for column in data["columns"]:
        lines.append(f"{column['status']} ({column['count']})")
        lines += [f"  {r['id']:>6}  {r['title']}  [{r['type']}]" for r in column["records"]]
    out(data, as_json, "\n".join(lines))


@record_types.command("list")
def list_types(kind: Annotated[str | None, typer.Option()] = None, as_json: JsonOpt = False) -> None:
    data = call(api().get, "/record-types", params=given(kind=kind))
    out(data, as_json, "\n".join(f"{t['record_kind']:<12} {t['name']:<28} starts in {t['initial_status']:<16} "
                                 f"pipeline {t['pipeline']}" for t in data) or "no record types")


@record_types.command("show")
def show_type(kind: str, name: str, as_json: JsonOpt = False) -> None:
    data = call(api().get, f"/record-types/{segment(kind)}/{segment(name)}")
    lines = [f"{data['record_kind']} type {data['name']} (pipeline {data['pipeline']} v{data['pipeline_version']}), "
             f"starts in {data['initial_status']}"]
    lines += [f"  {status} -> {', '.join(data['moves'][status]) or '(end)'}" for status in data["statuses"]]
    out(data, as_json, "\n".join(lines))


def move(record_id: int, to: Annotated[str | None, typer.Argument(help="the status to move to")] = None,
         reason: Annotated[str, typer.Option(help="why, for the record's history")] = "",
         open_substate: Annotated[str | None, typer.Option()] = None,
         close_substate: Annotated[str | None, typer.Option()] = None,
         expected_status: Annotated[str | None, typer.Option(help="refused unless the record is still in it")] = None,
         as_json: JsonOpt = False) -> None:
    """Move a record to a status (or open or close a substate), checked against its type's sequence."""
    data = call(api().post, f"/records/{record_id}/move", json=given(
        to=to, reason=reason or None, open_substate=open_substate, close_substate=close_substate,
        expected_status=expected_status))
    subs = f"  substates open: {', '.join(data['substates'])}" if data.get("substates") else ""
    out(data, as_json, f"record {data['id']} is in {data['status']}{subs}")


def allowed_moves(record_id: int, as_json: JsonOpt = False) -> None:
    """Where a record may move next."""
    data = call(api().get, f"/records/{record_id}/allowed-moves")
    text = (f"record {record_id} is in {data['status']}; next: {', '.join(data['allowed_next']) or 'none'}"
            if data["governed"] else f"record {record_id} is in {data['status']}; no pipeline: any status")
    out(data, as_json, text)
