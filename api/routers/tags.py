"""Tags of cases: list (with how many cases the caller sees carry each), create, rename, merge, delete.

Tag names are unique without regard to case ("Urgent" and "urgent" are one tag). Renaming to a name
another tag has is refused (409): merging is the way to make two tags one.

A tag is shown to those who see a case carrying it, or to all when no case carries it: a tag carried by restricted
cases alone is theirs (its name says something of them), 404 to anyone else, as the cases are. Renaming, merging or
deleting a tag changes every case carrying it, so it is refused (403) to staff who do not see them all.
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlmodel import col, delete, select

from api.auth import Principal
from api.deps import SessionDep, SettingsDep, StaffDep
from api.paging import Page, paged
from crm.access import Viewer, record_visible, sees_everything
from crm.cases.models import RecordTag, Tag, TagCreate, TagPublic, TagUpdate, tag_key
from crm.models import HistoryEntry, HistoryKind, Record
from crm.text_search import contains_text
from crm.types import utcnow
from processes.errors import AlreadyExists, Forbidden, TagNotFound
from processes.history_words import history_text
from processes.sent_values import WholeNumber

router = APIRouter(prefix="/tags", tags=["cases"])


async def tag_or_404(session: SessionDep, tag_id: int, viewer: Viewer) -> Tag:
    """The tag, if `viewer` may see it (`_shown`)."""
    tag = (await session.exec(select(Tag).where(Tag.id == tag_id, _shown(viewer)))).first()
    if tag is None:
        raise TagNotFound.worded("no tag {id}", id=tag_id)
    return tag


def _shown(viewer: Viewer) -> sa.ColumnElement[bool]:
    """The tags `viewer` may see: those carried by a case they see, and those no case carries."""
    if sees_everything(viewer):
        return sa.true()
    carried = select(RecordTag.record_id).where(RecordTag.tag_id == Tag.id)
    seen = carried.join(Record, col(Record.id) == RecordTag.record_id).where(record_visible(viewer))
    return sa.or_(seen.exists(), ~carried.exists())


async def _tell_cases(session: SessionDep, tag_id: int, principal: Principal, locale: str, words: str,
                      **values: str) -> None:
    """A `tags_changed` line on each case carrying the tag, and the case marked changed: a rename, a merge or a deletion
    changes every one of them (each change of tags is a line of the case's history)."""
    case_ids = list((await session.exec(select(RecordTag.record_id).where(RecordTag.tag_id == tag_id))).all())
    if not case_ids:
        return
    text = history_text(locale, words, **values)
    session.add_all(HistoryEntry(record_id=case_id, kind=HistoryKind.tags_changed, text=text, actor=principal.actor,
                                 data={"tag_id": tag_id, **values}) for case_id in case_ids)
    await session.exec(sa.update(Record).where(col(Record.id).in_(case_ids))  # type: ignore[call-overload]
                       .values(updated_at=utcnow()))


async def _all_cases_seen(session: SessionDep, tag: Tag, viewer: Viewer) -> None:
    """Forbidden when the tag is on a case `viewer` does not see: changing it would change that case."""
    if sees_everything(viewer):
        return
    hidden = (select(RecordTag.record_id).join(Record, col(Record.id) == RecordTag.record_id)
              .where(RecordTag.tag_id == tag.id, sa.not_(record_visible(viewer))))
    if (await session.exec(hidden.limit(1))).first() is not None:
        raise Forbidden.worded("tag '{name}' is also on cases you do not see: an admin can change it", name=tag.name)


async def _taken(session: SessionDep, name: str, viewer: Viewer, but: int | None = None) -> None:
    other = (await session.exec(select(Tag).where(Tag.name_key == tag_key(name)))).first()
    if other is not None and other.id != but:
        if (await session.exec(select(Tag.id).where(Tag.id == other.id, _shown(viewer)))).first() is None:
            raise AlreadyExists("a tag of that name is on cases you do not see: choose another name")  # not its own
        raise AlreadyExists.worded("tag '{name}' (tag {id}) exists: merge into it instead",
                                   name=other.name, id=other.id)


def _counts(viewer: Viewer) -> sa.Subquery:
    """For each tag carried by a record `viewer` may see: `tag_id` and `n`, how many such records carry it."""
    return (select(RecordTag.tag_id, sa.func.count().label("n")).join(Record, col(Record.id) == RecordTag.record_id)
            .where(record_visible(viewer)).group_by(col(RecordTag.tag_id)).subquery())


async def tag_public(session: SessionDep, tag: Tag, viewer: Viewer) -> TagPublic:
    """The tag, with the number of cases carrying it that `viewer` may see (as `GET /tags` counts them)."""
    counts = _counts(viewer)
    n = (await session.exec(select(counts.c.n).where(counts.c.tag_id == tag.id))).first()
    return TagPublic(id=tag.id, name=tag.name, cases=n or 0)  # type: ignore[arg-type]


@router.get("", response_model=list[TagPublic])
async def list_tags(session: SessionDep, principal: StaffDep, page: Annotated[Page, Depends(paged(200, 1000))],
                    q: Annotated[str | None, Query(max_length=64, description="text in the name")] = None,
                    ) -> list[TagPublic]:
    """Tags by name, each with the number of cases carrying it that the caller may see."""
    return page.done(await tags_seen(session, principal, q, page.offset, page.limit))


async def tags_seen(session: SessionDep, viewer: Viewer, q: str | None, offset: int, limit: int) -> list[TagPublic]:
    """The tags `viewer` may see whose name holds `q` (any case, any accents), by name, each with how many cases
    `viewer` sees carry it."""
    visible = _counts(viewer)
    query = select(Tag, visible.c.n).outerjoin(visible, visible.c.tag_id == Tag.id).where(_shown(viewer))
    if q and (q := q.strip()):  # spaces around taken off, as the console does
        query = query.where(contains_text(col(Tag.name), q))
    rows = (await session.exec(query.order_by(col(Tag.name_key)).offset(offset).limit(limit))).all()
    return [TagPublic(id=tag.id, name=tag.name, cases=n or 0) for tag, n in rows]  # type: ignore[arg-type]


@router.post("", status_code=201, response_model=TagPublic)
async def create_tag(body: TagCreate, session: SessionDep, principal: StaffDep) -> TagPublic:
    await _taken(session, body.name, principal)
    tag = Tag(name=body.name, name_key=tag_key(body.name))
    session.add(tag)
    await session.commit()
    return TagPublic(id=tag.id, name=tag.name)  # type: ignore[arg-type]


@router.patch("/{tag_id}", response_model=TagPublic)
async def rename_tag(tag_id: int, body: TagUpdate, session: SessionDep, settings: SettingsDep,
                     principal: StaffDep) -> TagPublic:
    """Rename a tag everywhere it is used; answers it with the number of cases carrying it the caller may see."""
    tag = await tag_or_404(session, tag_id, principal)
    await _all_cases_seen(session, tag, principal)
    if body.name is not None:
        await _taken(session, body.name, principal, but=tag_id)
        if body.name != tag.name:
            await _tell_cases(session, tag_id, principal, settings.locale, "tag_renamed", previous=tag.name,
                              tag=body.name)
        tag.name, tag.name_key = body.name, tag_key(body.name)
    session.add(tag)
    await session.commit()
    return await tag_public(session, tag, principal)


class MergeBody(BaseModel):
    into_tag_id: WholeNumber


@router.post("/{tag_id}/merge", response_model=TagPublic)
async def merge_tag(tag_id: int, body: MergeBody, session: SessionDep, settings: SettingsDep,
                    principal: StaffDep) -> TagPublic:
    """Move every use of this tag to `into_tag_id`, then delete it; answers the tag kept, with the number of cases
    now carrying it that the caller may see."""
    tag, into = await tag_or_404(session, tag_id, principal), await tag_or_404(session, body.into_tag_id, principal)
    await _all_cases_seen(session, tag, principal)  # its cases change; those of `into` keep it
    if tag.id == into.id:
        raise AlreadyExists.worded("tag {id} cannot be merged into itself", id=tag_id)
    await _tell_cases(session, tag_id, principal, settings.locale, "tag_merged", previous=tag.name, tag=into.name)
    already = select(RecordTag.record_id).where(RecordTag.tag_id == into.id)
    await session.exec(sa.update(RecordTag).where(col(RecordTag.tag_id) == tag.id,  # type: ignore[call-overload]
                                                  col(RecordTag.record_id).not_in(already)).values(tag_id=into.id))
    await session.exec(delete(RecordTag).where(col(RecordTag.tag_id) == tag.id))  # type: ignore[call-overload]
    await session.delete(tag)
    await session.commit()
    return await tag_public(session, into, principal)


@router.delete("/{tag_id}", status_code=204)
async def delete_tag(tag_id: int, session: SessionDep, settings: SettingsDep, principal: StaffDep) -> None:
    """Delete a tag and take it off every case."""
    tag = await tag_or_404(session, tag_id, principal)
    await _all_cases_seen(session, tag, principal)
    await _tell_cases(session, tag_id, principal, settings.locale, "tag_deleted", tag=tag.name)
    await session.exec(delete(RecordTag).where(col(RecordTag.tag_id) == tag_id))  # type: ignore[call-overload]
    await session.delete(tag)
    await session.commit()
