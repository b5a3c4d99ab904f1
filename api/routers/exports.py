"""CSV export of contacts and cases: the records the caller may see, streamed a page at a time.

UTF-8 with a BOM (spreadsheets then read accents right), `;` by default. The columns are those an
import reads (crm/imports/rows.py), so an exported file imports back: a restricted contact stays restricted
(`restricted`, and `access`: the handles of the users listed), a contact's free fields each in a
`fields.<name>` column (the names any exported contact has, found by a first pass over them), a text as it
is and any other value as its JSON. A cell a spreadsheet would run as a formula is written after a `'`, which
the import removes (crm/imports/cells.py).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlmodel import col, select

from api.auth import Principal
from api.deps import StaffDep
from crm.access import record_visible
from crm.cases import store
from crm.cases.models import CaseParticipant
from crm.imports.cells import spreadsheet_row
from crm.imports.models import ImportKind
from crm.models import Record, RecordAccess, User
from processes.template_basics import RecordKind

router = APIRouter(prefix="/exports", tags=["imports"])
PAGE = 1000
COLUMNS = {ImportKind.contacts: ["id", "title", "type", "email", "phone", "channel", "owner", "restricted", "access",
                                  "created_at"],
           ImportKind.cases: ["id", "name", "state", "tags", "participants", "owner", "restricted", "access",
                              "created_at"]}


@router.get("/{kind}", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "the records as CSV"}})
async def export(kind: ImportKind, request: Request, principal: StaffDep,
                 delimiter: Literal[";", ","] = ";") -> StreamingResponse:
    """Every contact or case the caller may see, as CSV."""
    return StreamingResponse(_lines(request, principal, kind, delimiter), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{kind.value}.csv"'})


async def _lines(request: Request, principal: Principal, kind: ImportKind, delimiter: str) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    record_kind = RecordKind.contact if kind is ImportKind.contacts else RecordKind.case
    visible = (Record.kind == record_kind, record_visible(principal))
    free, last = await _free_field_names(request, visible) if kind is ImportKind.contacts else ([], None)
    writer.writerow(COLUMNS[kind] + [f"fields.{name}" for name in free])
    yield "\ufeff" + buffer.getvalue()
    after = 0
    handles: dict[int, str] = {}
    while True:
        async with request.app.state.sessions() as session:
            query = select(Record).where(*visible, col(Record.id) > after)
            if kind is ImportKind.contacts:  # the contacts whose free fields the header names, no later one
                query = query.where(col(Record.id) <= (last or 0))
            page = (await session.exec(query.order_by(col(Record.id)).limit(PAGE))).all()
            if not page:
                return
            owners = {r.owner_id for r in page if r.owner_id is not None} - handles.keys()
            if owners:
                handles |= dict((await session.exec(select(User.id, User.handle)
                                                    .where(col(User.id).in_(owners)))).all())
            if kind is ImportKind.cases:
                rows = await _case_rows(session, principal, page, handles)
            else:
                access = await _access_lists(session, [r.id for r in page if r.restricted])
                rows = [[r.id, r.title, r.type, r.email or "", r.phone or "", r.channel,
                         handles.get(r.owner_id or 0, ""), "true" if r.restricted else "false",
                         "|".join(access.get(r.id or 0, [])), r.created_at.isoformat(),
                         *(_cell((r.fields or {}).get(name)) for name in free)] for r in page]
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(spreadsheet_row(row) for row in rows)
        yield buffer.getvalue()
        after = page[-1].id or 0


async def _free_field_names(request: Request, visible: tuple[Any, ...]) -> tuple[list[str], int | None]:
    """The free fields' names of every contact exported, sorted, and the last contact's id (a contact added
    while the export runs is left out, its fields perhaps named in no column)."""
    names: set[str] = set()
    after, last = 0, None
    while True:
        async with request.app.state.sessions() as session:
            page = (await session.exec(select(Record.id, Record.fields).where(*visible, col(Record.id) > after)
                                       .order_by(col(Record.id)).limit(PAGE))).all()
        if not page:
            return sorted(names), last
        for _, fields in page:
            names.update(fields or {})
        after = last = page[-1][0]


async def _access_lists(session: Any, ids: list[int | None]) -> dict[int, list[str]]:
    """The handles of the users listed on each of these restricted records, by record."""
    lists: dict[int, list[str]] = {}
    if ids:
        query = (select(RecordAccess.record_id, User.handle).join(User, col(User.id) == RecordAccess.user_id)
                 .where(col(RecordAccess.record_id).in_(ids)).order_by(col(User.handle)))
        for record_id, handle in (await session.exec(query)).all():
            lists.setdefault(record_id, []).append(handle)
    return lists


def _cell(value: Any) -> str:
    """A free field's value as the import reads it back: a text as it is, nothing empty, anything else its JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


async def _case_rows(session: object, principal: Principal, page: list[Record], handles: dict[int, str]) -> list[list[object]]:
    cases = await store.publics(session, page, principal)  # type: ignore[arg-type]
    ids = [c.id for c in cases]
    emails: dict[int, list[str]] = {i: [] for i in ids}
    query = (select(CaseParticipant.case_id, Record.email).join(Record, col(Record.id) == CaseParticipant.contact_id)
             .where(col(CaseParticipant.case_id).in_(ids), record_visible(principal), col(Record.email).is_not(None)))
    for case_id, email in (await session.exec(query)).all():  # type: ignore[attr-defined]
        emails[case_id].append(email)
    access = await _access_lists(session, [c.id for c in cases if c.restricted])  # an import reads it back
    return [[c.id, c.name, c.state.value, "|".join(c.tags), "|".join(sorted(emails[c.id])),
             handles.get(c.owner_id or 0, ""), "true" if c.restricted else "false", "|".join(access.get(c.id, [])),
             c.created_at.isoformat()] for c in cases]
