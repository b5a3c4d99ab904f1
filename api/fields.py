"""Bounded types for what clients send in paths and queries (the bodies' own are with their models)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator, StringConstraints

from processes.template_basics import KEY_PATTERN

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN, max_length=63)]
"""A template's or a phase's key."""

WorkflowIdPath = Annotated[str, Path(max_length=255, description="a process's workflow id")]
WorkflowIdQuery = Annotated[str | None, Query(max_length=255, description="a process's workflow id")]
TemplateKeyPath = Annotated[str, Path(max_length=63, description="a template's key")]
Label = Annotated[str | None, Query(max_length=64)]
"""A status or a role to filter on."""


def _flag(value: object) -> object:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("a flag is true or false")


Flag = Annotated[bool, BeforeValidator(_flag)]
"""A flag in a query: `true` or `false`; `1`, `yes`, `on` refused (FastAPI takes them: `?confirm=1` deleted a case)."""


def digits(value: str) -> bool:
    """Whether `value` is written in the digits 0-9 alone: `isdigit` takes ², １２ and ٣ too (`int` refuses the first and
    reads the others), which a number typed in a form or a query is not."""
    return value.isascii() and value.isdigit()
