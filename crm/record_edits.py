"""The history line a change of a record's own values writes (`PATCH /records/{id}`, the console's edit form): what
changed, from what to what, in the office's language, so the record's history says who changed the phone number, a
free field or who may see the record, and when. A move or a new type writes its own line (crm/pipeline_moves.py).

A value is quoted up to `MAX_VALUE` characters, and the first `MAX_CHANGES` changes are named one by one (the rest
counted), so a line stays readable however large the change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import HistoryEntry, HistoryKind, Record, User
from processes.history_words import history_text

SHOWN = ("title", "email", "phone", "channel", "owner_id", "contact_id", "restricted")
MAX_VALUE = 80
MAX_CHANGES = 20


async def hold_record(session: AsyncSession, record_id: int) -> None:
    """Take the record's row for this transaction before reading it to change it: a no-op UPDATE, which PostgreSQL
    answers with the row's lock and SQLite with its write lock, each held to the commit. Two changes made at once
    (twenty `PATCH`es of different free fields, a process writing values meanwhile) then each read what the one
    before wrote, where the second's write had undone the first's."""
    await session.exec(update(Record).where(col(Record.id) == record_id)  # type: ignore[call-overload]
                       .values(moves=Record.moves).execution_options(synchronize_session=False))


def values_of(record: Record) -> dict[str, Any]:
    """What a change is compared against: the record's own values and its free fields."""
    return {**{name: getattr(record, name) for name in SHOWN}, "fields": dict(record.fields or {})}


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON keeps them: `false` is not `0`, nor `1.0` `1` (Python takes each pair as equal)."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _said(locale: str, name: str, value: Any, users: Mapping[int, str]) -> str:
    if value is None:
        return "—"
    if name == "owner_id":
        return users.get(value, f"#{value}")
    if name == "access_user_ids":
        return ", ".join(users.get(user_id, f"#{user_id}") for user_id in value) or "—"
    if name == "contact_id":
        return f"#{value}"
    if isinstance(value, bool):
        return history_text(locale, "value_yes" if value else "value_no")
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"
    return f"'{text}'" if isinstance(value, str) else text


async def edit_entry(session: AsyncSession, locale: str, record_id: int, before: dict[str, Any],
                     after: dict[str, Any], actor: str) -> HistoryEntry | None:
    """The line for the change from `before` to `after` (each as `values_of` gives them, with `access_user_ids` in
    both when the list of who may see the record was sent), None when nothing changed."""
    compared = [name for name in (*SHOWN, "access_user_ids") if name in before and name in after
                and not _same(before[name], after[name])]
    people = {before["owner_id"], after["owner_id"]} if "owner_id" in compared else set()
    if "access_user_ids" in compared:
        people |= {*before["access_user_ids"], *after["access_user_ids"]}
    users: dict[int, str] = dict((await session.exec(
        select(User.id, User.name).where(col(User.id).in_(people - {None})))).all()) if people else {}
    changes = [history_text(locale, "value_changed", label=history_text(locale, f"label_{name}"),
                            before=_said(locale, name, before[name], users),
                            after=_said(locale, name, after[name], users)) for name in compared]
    changed = list(compared)
    old, new = before["fields"], after["fields"]
    fields = sorted(name for name in old.keys() | new.keys()
                    if (name in old) != (name in new) or not _same(old[name], new[name]))
    for name in fields:
        label = history_text(locale, "label_field", name=name)
        changes.append(history_text(locale, "value_changed", label=label, before=_said(locale, "", old.get(name), {}),
                                    after=_said(locale, "", new.get(name), {})))  # a free field, whatever its name
    if not changes:
        return None
    said = "; ".join(changes[:MAX_CHANGES])
    if len(changes) > MAX_CHANGES:
        said += history_text(locale, "changes_more", count=len(changes) - MAX_CHANGES)
    return HistoryEntry(record_id=record_id, kind=HistoryKind.values_written, actor=actor,
                        text=history_text(locale, "record_edited", changes=said),
                        data={"changed": changed, "fields": fields})
