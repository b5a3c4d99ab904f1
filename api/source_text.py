"""The text a version was saved from, for process templates and client request templates alike: kept as it was
sent (a console form's CRLF lines as LF), given back by the API with `Accept: application/yaml`, shown by the
console's editors when it is YAML, else (saved as JSON, or before versions kept their text) the version written
from what was parsed.

Whether a save is a new version is decided on the parsed content, never on this text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response

from processes.errors import StagecoachError

YAML = "application/yaml"
# the version routes' answers beside their JSON (`responses=` of the route)
AS_YAML: dict[int | str, dict[str, Any]] = {
    200: {"content": {YAML: {"schema": {"type": "string"}}}},
    406: {"description": "`Accept: application/yaml` for a version saved with no text"},
}


class NoSourceText(StagecoachError):
    status = 406


def form_text(source: str) -> str:
    """A console form's text as it is kept: its CRLF lines as LF, ending in the newline the form stripped."""
    return source.replace("\r\n", "\n") + "\n"


def shown(source_text: str | None, written: Callable[[], str]) -> str:
    """A version as its author wrote it: the YAML text it was saved from, comments and all; else `written()`."""
    if source_text is None or _is_json(source_text):
        return written()
    return source_text


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def as_yaml(request: Request, source_text: str | None, what: str) -> Response | None:
    """With `Accept: application/yaml`, the text `what` (`version 2 of 'key'`) was saved from, else None (its JSON
    is answered); NoSourceText (406) when it keeps none."""
    if YAML not in request.headers.get("accept", ""):
        return None
    if source_text is None:
        raise NoSourceText(f"{what} keeps no text (saved before texts were kept): ask for JSON")
    return Response(source_text, media_type=f"{YAML}; charset=utf-8")
