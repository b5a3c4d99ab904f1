"""Column types shared by the tables."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Strict
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

TrueOrFalse = Annotated[bool, Strict()]
"""A flag as a client writes one in JSON: `true` or `false`, not `0`, `1` or `"yes"` (which pydantic takes by
default, so that a number sent by mistake would have changed a flag)."""

_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _written(value: Any) -> Any:
    """A date and time as ISO 8601 text, not a number: pydantic reads a number (or a numeric query string) as
    seconds since 1970, so a `0` or a `0.5` sent by mistake became a moment in 1970."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected a date and time in ISO 8601, such as 2026-12-03T15:00:00+01:00, not a number")
    return value


WrittenDatetime = Annotated[datetime, BeforeValidator(_written)]
"""A date and time a client sends (a query's `started_before`): ISO 8601 text."""
WrittenAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_written)]
"""A date and time a client sends in a body, with its zone: ISO 8601 text."""


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
