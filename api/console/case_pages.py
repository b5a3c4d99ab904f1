"""Cases in the console: the list (searched by name or tag, filtered by state and tag) and one case with its
participants, tags, tasks (a new one made here), documents and timeline.

Through the API's own functions (api/routers/cases.py) as the signed-in user: a restricted case they may not see
is "not found" here too, and absent from the list.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlmodel import col, select

from api.console.process_pages import record_titles, users_by_id
from api.console.web import SignedInDep, offset, principal, render
from api.console.refusals import not_found_page
from api.deps import SessionDep, SettingsDep
from api.paging import Page
from api.routers.cases import get_case_or_404, list_cases
from crm.cases import store
from crm.cases.models import CaseState
from crm.documents import store as documents_store
from crm.models import HistoryEntry, Task
from processes.errors import StagecoachError
from settings import Settings

router = APIRouter(prefix="/console/cases", include_in_schema=False)
PAGE_SIZE = 50


@router.get("", response_class=HTMLResponse)
async def cases_page(request: Request, session: SessionDep, settings: SettingsDep,
                     signed: SignedInDep) -> HTMLResponse:
    params = request.query_params
    q, tag, state_text = params.get("q", "").strip()[:200], params.get("tag", "").strip()[:64], params.get("state", "")
    state = next((s for s in CaseState if s.value == state_text), None)
    skip = offset(request)
    cases = await list_cases(session, principal(signed), Page(PAGE_SIZE, skip, request, Response()), state=state,
                             tag=[tag] if tag else None, q=q or None)
    return render(request, settings, "cases.html", cases=cases, q=q, tag=tag, state=state_text, states=list(CaseState),
                  offset=skip, more=len(cases) >= PAGE_SIZE, page_size=PAGE_SIZE, users=await users_by_id(session),
                  participants=await record_titles(session, {i for c in cases for i in c.participant_ids}))


async def render_case(request: Request, session: SessionDep, settings: Settings, signed: Any, case_id: int,
                      status: int = 200, task_error: str = "",
                      task_values: dict[str, str] | None = None) -> HTMLResponse:
    who = principal(signed)
    try:
        record = await get_case_or_404(session, case_id, who)
    except StagecoachError as exc:
        return not_found_page(request, settings, str(case_id), exc)
    case = (await store.publics(session, [record], who))[0]
    tasks = (await session.exec(select(Task).where(Task.record_id == case_id)
                                .order_by(col(Task.status), col(Task.due_at).asc().nulls_last(), col(Task.id))
                                .limit(100))).all()
    timeline = (await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == case_id)
                                   .order_by(col(HistoryEntry.id).desc()).limit(200))).all()
    documents = [await documents_store.public(session, d) for d in await documents_store.listing(session, case_id)]
    return render(request, settings, "case.html", status=status, case=case, tasks=tasks, timeline=timeline,
                  documents=documents, participants=await record_titles(session, set(case.participant_ids)),
                  users=await users_by_id(session), categories=settings.task_categories, task_error=task_error,
                  values=task_values or {}, done=request.query_params.get("done", "")[:20])


@router.get("/{case_id}", response_class=HTMLResponse)
async def case_page(case_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                    signed: SignedInDep) -> HTMLResponse:
    return await render_case(request, session, settings, signed, case_id)
