"""A search in text as an office expects it: any case, in any alphabet (`città` finds "Via Città", `CITTÀ` too), and
`%` or `_` taken as themselves, not as wildcards.

PostgreSQL's `ILIKE` folds every letter; SQLite's `LIKE` and `lower()` fold ASCII only, so on SQLite both sides are
folded by Python's `str.casefold`, registered on each connection as `casefold()` (crm/db.py). Python folds the
Turkish `İ` to `i` and a combining dot above; PostgreSQL (and an office) takes it as `i`, so `istanbul` finds
"İstanbul" here too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func


def casefold(value: str | None) -> str | None:
    return None if value is None else value.casefold().replace("i\u0307", "i")


def contains_text(column: Any, text: str, dialect: str) -> ColumnElement[bool]:
    """`column` holds `text`, whatever the case of either (`dialect`: the session's, `sqlite` or `postgresql`)."""
    if dialect == "sqlite":
        return func.casefold(column).contains(casefold(text), autoescape=True)  # type: ignore[no-any-return]
    return column.icontains(text, autoescape=True)  # type: ignore[no-any-return]
