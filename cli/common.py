"""What every `stagecoach` command shares: the API client, errors as messages, `--json`, dates as people read them,
and a definition file sent as the API takes it (`--charset`)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from cli.api_client import ApiClient, ApiError, client_from_settings
from settings import get_settings

JsonOpt = Annotated[bool, typer.Option("--json", help="print the API's JSON answer")]


def api() -> ApiClient:
    return client_from_settings(get_settings())


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """`fn`'s answer, or the API's refusal said and exit 1; its advice on naming a file's encoding said as the commands
    that send a file take it: `--charset`."""
    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        advice = re.search(r"Content-Type: [\w/+.-]+; charset=([\w.-]+)", str(exc))
        typer.echo(str(exc) + (f" (with this command: --charset {advice[1]})" if advice else ""), err=True)
        raise typer.Exit(1) from None


CharsetOpt = Annotated[str | None, typer.Option(
    help="the file's encoding when it is not UTF-8 (windows-1252, iso-8859-1...)")]


def definition_file(path: Path, charset: str | None = None) -> tuple[bytes, str]:
    """A template's or a pipeline's file as sent: its bytes, and its Content-Type (JSON by its name, else YAML; the
    charset when given)."""
    if not path.exists():
        typer.echo(f"{path}: no such file", err=True)
        raise typer.Exit(2)
    kind = "application/json" if path.suffix == ".json" else "application/yaml"
    return path.read_bytes(), f"{kind}; charset={charset}" if charset else kind


def segment(value: str) -> str:
    """`value` as one segment of a URL's path: `../records/1` or `x?status=done` stay the id they are, not a
    path or a query of their own."""
    return "%2E" * len(value) if value in (".", "..") else quote(value, safe="")


def out(data: Any, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=2, default=str) if as_json else text)


def when(value: str | None) -> str:
    """An API timestamp in the installation's time zone (TIMEZONE)."""
    return get_settings().show(datetime.fromisoformat(value)) if value else "-"


def pairs(items: list[str] | None, option: str) -> dict[str, str]:
    """`NAME=VALUE` options as a mapping; a malformed one stops the command (exit 2)."""
    found = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            typer.echo(f"{option} {item!r}: write it as NAME=VALUE", err=True)
            raise typer.Exit(2)
        found[name] = value
    return found


def given(**values: Any) -> dict[str, Any]:
    """The options the user gave (None: left out)."""
    return {k: v for k, v in values.items() if v is not None}
