"""A record's free fields as the console writes them: `name: value` lines, read back as the API takes them.

A field the form cannot write back as it is (an object, a list, a text of several lines) is not on the form, and a
save leaves it as it is; a line left as it was changes nothing (a text `12` stays text, though a new `12` is a
number); a line taken out removes its field. A yes/no field is written as the record's page shows it, in the
office's words (`sì` and `no` in Italian), and those words are read back as yes or no, as `true` and `false` are.
A number with decimals is written as the office writes it (`2,5`, `1.250,5` in Italian), and read back so: in
Italian `1.000` is a thousand; `2.5` is still two and a half.
"""

from __future__ import annotations

import json
import re
from typing import Any

from babel.numbers import format_decimal, get_decimal_symbol, parse_decimal
from sqlmodel.ext.asyncio.session import AsyncSession

from api.console.actions import name_value_lines, typed
from crm import pipeline_store
from crm.text_search import fold


def _lines(raw: str, _: Any) -> dict[str, str]:
    return name_value_lines(raw, _("line {n}: write each field as name: value"),
                            _("line {n}: the field '{name}' is given twice"))


# a number as an office writing a decimal comma writes it: 2,5 / 1.250,5 / 1.000 (a thousand, not one)
_COMMA_NUMBER = re.compile(r"^-?([1-9]\d{0,2}(\.\d{3})+(,\d+)?|(0|[1-9]\d{0,14}),\d{1,15})$", re.ASCII)


def _comma(locale: str) -> bool:
    return get_decimal_symbol(locale.replace("-", "_")) == ","


def _typed(value: str, _: Any, locale: str = "en") -> Any:
    """A value as staff write it: the office's yes or no (in any case, with or without its accent) as one, a number
    as the office writes it (`2,5` in Italian), else as `typed` reads it (a number, true or false, a text)."""
    said = fold(value)
    if said in (fold(_("yes")), fold(_("no"))):
        return said == fold(_("yes"))
    if _comma(locale) and _COMMA_NUMBER.match(value):
        number = parse_decimal(value, locale=locale.replace("-", "_"))
        return int(number) if number == number.to_integral_value() and "," not in value else float(number)
    return typed(value)


def free_fields(raw: str, _: Any, locale: str = "en") -> dict[str, Any]:
    """`name: value` lines: a number, yes or no as one (a code with a leading zero stays text), else text."""
    return {name: _typed(value, _, locale) for name, value in _lines(raw, _).items()}


def _line(value: Any, _: Any, locale: str = "en") -> str | None:
    """The value as the form writes it, or None when the form cannot (an object, a list, a text of several lines or
    one that a line would not keep as it is)."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, float) and _comma(locale):
        try:
            return format_decimal(value, locale=locale.replace("-", "_"), decimal_quantization=False)
        except (ArithmeticError, ValueError):  # beyond what Babel writes (1e25): as Python writes it
            return str(value)
    if isinstance(value, (int, float)) or isinstance(value, str) and _one_line(value):
        return str(value)
    return None


def _one_line(text: str) -> bool:
    """Whether `text` reads back as itself on a `name: value` line: no line break of any kind (`\r`, U+2028...),
    no spaces around."""
    return text.splitlines() == [text] and text == text.strip() or text == ""


def _writable(name: str) -> bool:
    """Whether a field's name reads back as itself before a line's colon."""
    return ":" not in name and _one_line(name) and name != ""


def written(fields: dict[str, Any], _: Any, locale: str = "en") -> tuple[str, list[str]]:
    """The form's lines, and the names of the fields it leaves as they are."""
    lines = {name: _line(value, _, locale) if _writable(name) else None for name, value in sorted(fields.items())}
    return ("\n".join(f"{name}: {line}" for name, line in lines.items() if line is not None),
            [name for name, line in lines.items() if line is None])


def changed_fields(raw: str, current: dict[str, Any], _: Any, locale: str = "en") -> dict[str, Any]:
    """What the form's lines change of `current` (for `PATCH`: a field given null is removed)."""
    posted = _lines(raw, _)
    changes: dict[str, Any] = {name: None for name, value in current.items()
                               if name not in posted and _writable(name) and _line(value, _, locale) is not None}
    for name, value in posted.items():
        if name not in current or _line(current[name], _, locale) != value:
            changes[name] = _typed(value, _, locale)
    return changes


SHOWN = ("type", "title", "email", "phone", "channel", "owner_id")


def _drawn(record: Any) -> dict[str, Any]:
    values = {name: "" if getattr(record, name) is None else str(getattr(record, name)) for name in SHOWN}
    return {**values, "fields": record.fields or {}}


def shown(record: Any) -> str:
    """What the edit form shows of `record`, as JSON carried in the form: its save changes what was changed on the
    form from this, not what differs from the record as it is then (changed meanwhile by someone else, whose change
    a form saved as it was drawn would undo)."""
    return json.dumps(_drawn(record), ensure_ascii=False)


def baseline(raw: str, record: Any) -> dict[str, Any]:
    """What the form was drawn from (`shown`), or the record as it is when the form carries none it can read."""
    try:
        drawn = json.loads(raw) if raw else None
    except (ValueError, RecursionError):  # not what the form drew (a hand-made one nested thousands deep)
        drawn = None
    if not isinstance(drawn, dict) or not isinstance(drawn.get("fields"), dict) or \
            not all(isinstance(drawn.get(name), str) for name in SHOWN):
        drawn = _drawn(record)
    return drawn


async def record_types(session: AsyncSession) -> list[str]:
    """The record types the pipelines name, for the type field's suggestions."""
    return sorted({t for p in await pipeline_store.summaries(session, None, limit=200, offset=0) for t in p.types})
