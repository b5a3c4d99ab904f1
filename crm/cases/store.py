"""Reading and writing what a case adds to its record: tags, participants, closure (no commits here)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.access import Viewer, access_lists, record_visible
from crm.cases.models import (CaseClosure, CaseParticipant, CasePublic, CaseState, RecordTag, Tag, tag_key,
                              tag_name)
from crm.models import Record
from crm.text_search import contains_text


async def tags_named(session: AsyncSession, names: Iterable[str]) -> list[Tag]:
    """The tags of these names, created when new (in the caller's transaction), in the order given."""
    wanted = {tag_key(name): tag_name(name) for name in names}
    found = {t.name_key: t for t in (await session.exec(select(Tag).where(col(Tag.name_key).in_(wanted)))).all()}
    for key, name in wanted.items():
        if key not in found:
            found[key] = Tag(name=name, name_key=key)
            session.add(found[key])
    await session.flush()
    return [found[key] for key in wanted]


async def set_tags(session: AsyncSession, record_id: int, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """Replace the record's tags; returns the names added and removed."""
    before = set((await tag_names(session, [record_id]))[record_id])
    tags = await tags_named(session, names)
    await session.exec(delete(RecordTag).where(col(RecordTag.record_id) == record_id))  # type: ignore[call-overload]
    for tag in tags:
        assert tag.id is not None
        session.add(RecordTag(record_id=record_id, tag_id=tag.id))
    after = [t.name for t in tags]
    return [n for n in after if n not in before], sorted(before - set(after))


async def tag_names(session: AsyncSession, record_ids: Sequence[int]) -> dict[int, list[str]]:
    names: dict[int, list[str]] = {record_id: [] for record_id in record_ids}
    if record_ids:
        rows = await session.exec(select(RecordTag.record_id, Tag.name).join(Tag, col(Tag.id) == RecordTag.tag_id)
                                  .where(col(RecordTag.record_id).in_(record_ids)).order_by(col(Tag.name_key)))
        for record_id, name in rows.all():
            names[record_id].append(name)
    return names


async def participant_ids(session: AsyncSession, case_ids: Sequence[int], viewer: Viewer) -> dict[int, list[int]]:
    """The contacts taking part in each case, those `viewer` may see."""
    ids: dict[int, list[int]] = {case_id: [] for case_id in case_ids}
    if case_ids:
        rows = await session.exec(select(CaseParticipant.case_id, CaseParticipant.contact_id)
                                  .join(Record, col(Record.id) == CaseParticipant.contact_id)
                                  .where(col(CaseParticipant.case_id).in_(case_ids), record_visible(viewer))
                                  .order_by(col(CaseParticipant.contact_id)))
        for case_id, contact_id in rows.all():
            ids[case_id].append(contact_id)
    return ids


async def closures(session: AsyncSession, case_ids: Sequence[int]) -> dict[int, CaseClosure]:
    if not case_ids:
        return {}
    rows = await session.exec(select(CaseClosure).where(col(CaseClosure.case_id).in_(case_ids)))
    return {row.case_id: row for row in rows.all()}


def state_is(state: CaseState) -> sa.ColumnElement[bool]:
    """A condition on `Record` rows (cases): those in `state`."""
    closed = select(CaseClosure.case_id).where(CaseClosure.case_id == Record.id).exists()
    return closed if state is CaseState.closed else sa.not_(closed)


def tag_holding(text: str) -> sa.ColumnElement[bool]:
    """A condition on `Record` rows: those carrying a tag whose name holds `text` (any case, any accent)."""
    return (select(RecordTag.record_id).join(Tag, col(Tag.id) == RecordTag.tag_id)
            .where(RecordTag.record_id == Record.id, contains_text(col(Tag.name), text)).exists())


def tagged(name: str) -> sa.ColumnElement[bool]:
    """A condition on `Record` rows: those carrying the tag `name` (any case)."""
    return (select(RecordTag.record_id).join(Tag, col(Tag.id) == RecordTag.tag_id)
            .where(RecordTag.record_id == Record.id, Tag.name_key == tag_key(name)).exists())


async def publics(session: AsyncSession, cases: Sequence[Record], viewer: Viewer) -> list[CasePublic]:
    ids = [c.id for c in cases if c.id is not None]
    lists = await access_lists(session, ids)
    tags, people, closed = await tag_names(session, ids), await participant_ids(session, ids, viewer), \
        await closures(session, ids)
    out = []
    for case in cases:
        assert case.id is not None
        closure = closed.get(case.id)
        out.append(CasePublic(
            id=case.id, name=case.title, state=CaseState.closed if closure else CaseState.open,
            closed_at=closure.closed_at if closure else None, closed_by=closure.closed_by if closure else None,
            owner_id=case.owner_id, restricted=case.restricted, access_user_ids=lists[case.id],
            participant_ids=people[case.id], tags=tags[case.id], created_at=case.created_at,
            updated_at=case.updated_at))
    return out
