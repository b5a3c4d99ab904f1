"""A record's free fields as the console writes them: `name: value` lines, read back as the API takes them.

A field the form cannot write back as it is (an object, a list, a text of several lines) is not on the form, and a
save leaves it as it is; a line left as it was changes nothing (a text `12` stays text, though a new `12` is a
number); a line taken out removes its field. A yes/no field is written as the record's page shows it, in the
office's words (`sì` and `no` in Italian), and those words are read back as yes or no, as `true` and `false` are.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.actions import name_value_lines, typed
from crm import pipeline_store
from crm.text_search import fold


def _lines(raw: str, _: Any) -> dict[str, str]:
    return name_value_lines(raw, _("line {n}: write each field as name: value"),
                            _("line {n}: the field '{name}' is given twice"))


def _typed(value: str, _: Any) -> Any:
    """A value as staff write it: the office's yes or no (in any case, with or without its accent) as one, else as
    `typed` reads it (a number, true or false, a text)."""
    said = fold(value)
    if said in (fold(_("yes")), fold(_("no"))):
        return said == fold(_("yes"))
    return typed(value)


def free_fields(raw: str, _: Any) -> dict[str, Any]:
    """`name: value` lines: a number, yes or no as one (a code with a leading zero stays text), else text."""
    return {name: _typed(value, _) for name, value in _lines(raw, _).items()}


def _line(value: Any, _: Any) -> str | None:
    """The value as the form writes it, or None when the form cannot (an object, a list, several lines)."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, (int, float)) or isinstance(value, str) and "\n" not in value and value == value.strip():
        return str(value)
    return None


def written(fields: dict[str, Any], _: Any) -> tuple[str, list[str]]:
    """The form's lines, and the names of the fields it leaves as they are."""
    lines = {name: _line(value, _) for name, value in sorted(fields.items())}
    return ("\n".join(f"{name}: {line}" for name, line in lines.items() if line is not None),
            [name for name, line in lines.items() if line is None])


def changed_fields(raw: str, current: dict[str, Any], _: Any) -> dict[str, Any]:
    """What the form's lines change of `current` (for `PATCH`: a field given null is removed)."""
    posted = _lines(raw, _)
    changes: dict[str, Any] = {name: None for name, value in current.items()
                               if name not in posted and _line(value, _) is not None}
    for name, value in posted.items():
        if name not in current or _line(current[name], _) != value:
            changes[name] = _typed(value, _)
    return changes


SHOWN = ("type", "title", "email", "phone", "channel", "owner_id")


def shown(record: Any) -> str:
    """What the edit form shows of `record`, as JSON carried in the form: its save changes what was changed on the
    form from this, not what differs from the record as it is then (changed meanwhile by someone else, whose change
    a form saved as it was drawn would undo)."""
    values = {name: "" if getattr(record, name) is None else str(getattr(record, name)) for name in SHOWN}
    return json.dumps({**values, "fields": record.fields or {}}, ensure_ascii=False)


def baseline(raw: str, record: Any) -> dict[str, Any]:
    """What the form was drawn from (`shown`), or the record as it is when the form carries none it can read."""
    try:
        drawn = json.loads(raw) if raw else None
    except ValueError:
        drawn = None
    if not isinstance(drawn, dict) or not isinstance(drawn.get("fields"), dict) or \
            not all(isinstance(drawn.get(name), str) for name in SHOWN):
        drawn = json.loads(shown(record))
    return drawn


async def record_types(session: AsyncSession) -> list[str]:
    """The record types the pipelines name, for the type field's suggestions."""
    return sorted({t for p in await pipeline_store.summaries(session, None, limit=200, offset=0) for t in p.types})
