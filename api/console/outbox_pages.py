"""The outbox (every email processes sent, or kept instead of sending when no SMTP server is set) and every open
incident across processes, with a bulk retry: one staff request per process, as the API takes it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.console.i18n import translator
from api.console.process_pages import record_titles
from api.console.refusals import refusal
from api.console.web import SignedInDep, form, offset, principal, render, text
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.paging import Page
from api.routers.outbox import list_messages
from api.routers.processes import list_processes, staff_request
from crm.models import MessageStatus
from processes.errors import StagecoachError
from processes.instance import IncidentBody, ProcessStatus
from workflows.staff_requests import RESOLVE_INCIDENT

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 50
MAX_RETRIES = 200


@router.get("/outbox", response_class=HTMLResponse)
async def outbox_page(request: Request, session: SessionDep, settings: SettingsDep,
                      signed: SignedInDep) -> HTMLResponse:
    status_text = request.query_params.get("status", "")
    status = next((s for s in MessageStatus if s.value == status_text), None)
    skip = offset(request)
    messages = await list_messages(session, principal(signed), Page(PAGE_SIZE, skip, request, Response()),
                                   status=status)
    return render(request, settings, "outbox.html", messages=messages, status_filter=status_text,
                  statuses=list(MessageStatus), offset=skip, more=len(messages) >= PAGE_SIZE, page_size=PAGE_SIZE,
                  smtp=settings.smtp_host)


async def render_incidents(request: Request, session: SessionDep, temporal: TemporalDep, settings: Any,
                           signed: Any, status: int = 200, results: dict[str, str] | None = None,
                           error: str = "") -> HTMLResponse:
    items: list[Any] = []
    try:
        items = (await list_processes(session, temporal, settings, principal(signed), status=ProcessStatus.incident,
                                      limit=MAX_RETRIES)).items
    except StagecoachError as exc:
        error = refusal(exc, translator(settings.locale))
    return render(request, settings, "incidents.html", status=status, items=items, error=error,
                  results=results or {}, titles=await record_titles(session, {i.record_id for i in items
                                                                             if i.record_id}))


@router.get("/incidents", response_class=HTMLResponse)
async def incidents_page(request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                         signed: SignedInDep) -> HTMLResponse:
    return await render_incidents(request, session, temporal, settings, signed)


@router.post("/incidents/retry")
async def retry_incidents(request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
                          signed: SignedInDep) -> HTMLResponse:
    """Retry the failed step of each process ticked; each gets its own answer (done, or the API's refusal)."""
    data = await form(request, signed)
    _ = translator(settings.locale)
    key = text(data, "idempotency_key")[:150]
    results: dict[str, str] = {}
    ticked = [w for w in data.getlist("workflow_id") if isinstance(w, str)][:MAX_RETRIES]
    if not ticked:
        return await render_incidents(request, session, temporal, settings, signed, 422,
                                      error=_("tick the processes to retry"))
    for workflow_id in ticked:
        try:
            await staff_request(RESOLVE_INCIDENT, workflow_id[:255], IncidentBody(action="retry"), session, temporal,
                                settings, principal(signed), f"{key}:{workflow_id}"[:200] if key else None)
            results[workflow_id] = ""
        except StagecoachError as exc:
            results[workflow_id] = refusal(exc, _)
    status = 200 if not any(results.values()) else 207 if any(not m for m in results.values()) else 409
    return await render_incidents(request, session, temporal, settings, signed, 200 if status == 207 else status,
                                  results)
