"""How values show in user text: as a person would write them, never as a Python repr.

`{{ record }}` prints the record's title, `{{ owner }}` the user's name, `{{ now }}` and
`{{ phase.deadline }}` a date and time in the office's language and time zone, a list its
items separated by commas, and nothing at all for a value that is not there (`None`).
`office_variables` turns the plain variables an activity loads (dicts, lists, UTC
datetimes) into these shapes before a render; they behave as the plain values otherwise
(attributes, items, comparisons, loops).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from jinja2 import StrictUndefined, Undefined

from processes.formatting import format_datetime_value
from processes.office import Office, current_office, set_office

__all__ = ["Office", "current_office", "office_variables", "set_office", "shown"]


class OfficeDateTime(datetime):
    """A datetime in the office's time zone that prints as the office writes it ("2 dicembre 2026, 14:30")."""

    def __str__(self) -> str:
        return format_datetime_value(self, None, None)

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else super().__format__(spec)


class Shown(dict):  # type: ignore[type-arg]
    """A mapping that prints as `label` (a record's title, a user's name), or as `key: value, ...`."""

    label_key: str | None = None
    kind = "'dict object'"  # what an error says has no such attribute

    def __str__(self) -> str:
        if self.label_key is not None:
            return display_text(self.get(self.label_key))
        return ", ".join(f"{key}: {display_text(value)}" for key, value in self.items())

    __repr__ = __str__


def _labelled(name: str, kind: str, label_key: str) -> type[Shown]:
    """A `Shown` that prints as its `label_key` and is called `kind` in errors."""
    return type(name, (Shown,), {"kind": kind, "label_key": label_key, "__module__": __name__})


Person = _labelled("Person", "the user", "name")
RecordShown = _labelled("RecordShown", "the record", "title")
ProcessShown = _labelled("ProcessShown", "the process", "template_name")
PhaseShown = _labelled("PhaseShown", "the phase", "name")
PhaseOutcome = _labelled("PhaseOutcome", "the phase's outcome", "status")


class ShownList(list):  # type: ignore[type-arg]
    """A list that prints as its items separated by commas."""

    def __str__(self) -> str:
        return ", ".join(display_text(item) for item in self)

    __repr__ = __str__


class _Named(Undefined):
    """Undefined whose message names what has no such attribute ("the record has no attribute 'x'")."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj, name = self._undefined_obj, self._undefined_name
        if isinstance(obj, Shown) and isinstance(name, str) and not self._undefined_hint:
            return f"{obj.kind} has no attribute {name!r}"
        return super()._undefined_message


class StrictShown(_Named, StrictUndefined):
    """A missing value in text: an error naming it."""

    __slots__ = ()


class LenientShown(_Named):
    """A missing value in a condition: undefined, equal to nothing and false."""

    __slots__ = ()


def display_text(value: Any) -> str:
    """The text of a value as the renderer prints it."""
    return str(shown(value))


def shown(value: Any) -> Any:
    """What `{{ value }}` prints (Jinja2's `finalize`): nothing for None, containers without brackets."""
    if value is None:
        return ""
    if isinstance(value, (Shown, ShownList, OfficeDateTime)):
        return value
    if isinstance(value, datetime):
        return str(_datetime(value, current_office().tz))
    if isinstance(value, (list, tuple)):
        return ", ".join(display_text(item) for item in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {display_text(item)}" for key, item in value.items())
    return value


def _datetime(value: datetime, tz: tzinfo) -> OfficeDateTime:
    local = value.astimezone(tz) if value.tzinfo is not None else value.replace(tzinfo=tz)
    return OfficeDateTime(local.year, local.month, local.day, local.hour, local.minute, local.second,
                          local.microsecond, tzinfo=local.tzinfo, fold=local.fold)


def _plain(value: Any, tz: tzinfo) -> Any:
    """Free values (fields, answers): lists print as lists, mappings as `key: value`, datetimes as dates."""
    if isinstance(value, datetime):
        return _datetime(value, tz)
    if isinstance(value, list):
        return ShownList(_plain(item, tz) for item in value)
    if isinstance(value, dict):
        return Shown({key: _plain(item, tz) for key, item in value.items()})
    return value


def _shaped(cls: type[Shown], value: Mapping[str, Any] | None, tz: tzinfo,
            nested: Mapping[str, type[Shown]] | None = None) -> Shown | None:
    if value is None:
        return None
    out = cls()
    for key, item in value.items():
        kind = (nested or {}).get(key)
        out[key] = (kind(item) if kind is not None and item is not None and not isinstance(item, Shown)
                    else _plain(item, tz))
    return out


def office_variables(variables: Mapping[str, Any], office: Office) -> dict[str, Any]:
    """The variables of a render as they show: records, people, the process and phase print by name."""
    tz = office.tz
    shapes: dict[str, tuple[type[Shown], dict[str, type[Shown]]]] = {
        "record": (RecordShown, {"owner": Person}),
        "contact": (RecordShown, {"owner": Person}),
        "process": (ProcessShown, {"owner": Person}),
        "phase": (PhaseShown, {}),
        "responsible": (Person, {}),
        "owner": (Person, {}),
    }
    out: dict[str, Any] = {}
    for name, value in variables.items():
        if name in shapes and isinstance(value, Mapping):
            cls, nested = shapes[name]
            out[name] = _shaped(cls, value, tz, nested)
        elif name == "phases" and isinstance(value, Mapping):
            out[name] = Shown({key: PhaseOutcome(item) for key, item in value.items()})
        else:
            out[name] = _plain(value, tz)
    return out

