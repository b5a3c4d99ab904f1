"""Client requests in the console: every request the user may see (paged, by status, client's address, not linked
yet), and one request with its questions, answers and files (its actions: request_actions.py).

Read through the staff API's own functions as the signed-in user (api.routers.client_requests): a request
linked to a record they may not see is "not found" here too, and left out of the list.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from api.console.request_view import view
from api.console.web import SignedInDep, offset, principal, render
from api.console.refusals import not_found_page
from api.deps import SessionDep, SettingsDep
from api.paging import Page
from api.routers.client_requests import get_request_or_404, list_client_requests
from crm.client_requests.errors import ClientRequestNotFound
from crm.client_requests.models import RequestStatus
from crm.models import Record
from processes.errors import StagecoachError
from settings import Settings

router = APIRouter(prefix="/console/client-requests", include_in_schema=False)
PAGE_SIZE = 50
MAX_ID = 2**31 - 1  # the largest row id the databases hold: a larger number names no request or record


def _status(value: str) -> RequestStatus | None:
    return next((s for s in RequestStatus if s.value == value), None)


async def _titles(session: SessionDep, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.exec(select(Record.id, Record.title).where(col(Record.id).in_(ids)))
    return {record_id: title for record_id, title in rows.all() if record_id is not None}


async def render_list(request: Request, session: SessionDep, settings: Settings, signed: SignedInDep,
                      status: int = 200, error: str = "", error_at: int | None = None) -> HTMLResponse:
    params = request.query_params
    wanted, email, skip = params.get("status", ""), params.get("contact_email", "").strip()[:320], offset(request)
    unlinked = params.get("unlinked") == "1"
    rows = await list_client_requests(session, principal(signed), Page(PAGE_SIZE, skip, request, Response()),
                                      status=_status(wanted), contact_email=email or None,
                                      unlinked=True if unlinked else None)
    query: dict[str, Any] = {"status": wanted if _status(wanted) else "", "contact_email": email,
                             "unlinked": "1" if unlinked else ""}
    return render(request, settings, "client_requests.html", status=status, rows=rows, filters=query,
                  statuses=list(RequestStatus), titles=await _titles(session, {r.record_id for r in rows
                                                                                if r.record_id is not None}),
                  offset=skip, more=len(rows) >= PAGE_SIZE, page_size=PAGE_SIZE, error=error, error_at=error_at)


@router.get("", response_class=HTMLResponse)
async def requests_page(request: Request, session: SessionDep, settings: SettingsDep,
                        signed: SignedInDep) -> HTMLResponse:
    return await render_list(request, session, settings, signed)


async def render_request(request: Request, session: SessionDep, settings: Settings, signed: SignedInDep,
                         request_id: int, status: int = 200, error: str = "", error_at: str = "") -> HTMLResponse:
    try:
        if not 0 < request_id <= MAX_ID:
            raise ClientRequestNotFound.worded("no client request {id}", id=request_id)
        found = await get_request_or_404(session, request_id, principal(signed))
    except StagecoachError as exc:
        return not_found_page(request, settings, str(request_id), exc)
    shown = view(found)
    record = await session.get(Record, found.record_id) if found.record_id is not None else None
    answers = found.answers or {}
    questions = [(q, answers.get(q["key"]), [f for f in shown.files if f.question == q["key"]])
                 for q in found.questions]
    return render(request, settings, "client_request.html", status=status, view=shown, record=record,
                  questions=questions, answered=found.answers is not None, error=error, error_at=error_at)


@router.get("/{request_id}", response_class=HTMLResponse)
async def request_page(request_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                       signed: SignedInDep) -> HTMLResponse:
    return await render_request(request, session, settings, signed, request_id)
