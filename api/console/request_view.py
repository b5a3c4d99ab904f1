"""Client requests as the console shows them: each with its status and, once answered, its answers as text and
the files the client sent (links to the record's documents, version 1 being the file as sent), through the staff
API's own reading (api.routers.client_requests.public)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import Principal
from api.paging import Page
from api.routers.client_requests import list_client_requests, public
from crm.client_requests import store
from crm.client_requests.models import ClientRequest, RequestStatus
from crm.client_requests.public import AnswerFile, ClientRequestPublic, ClientRequestSummary
from crm.client_requests.questions import QuestionType
from crm.models import Record

OPEN = (RequestStatus.pending, RequestStatus.expired)  # what may still be cancelled or resent


@dataclass
class RequestView:
    request: ClientRequestPublic
    status: RequestStatus
    answers: list[tuple[str, Any]]  # (label, value): text, a number, True/False, or a list of texts
    files: list[AnswerFile]

    @property
    def open(self) -> bool:
        return self.status in OPEN


def _value(question: dict[str, Any], value: Any) -> Any:
    if question["type"] == QuestionType.file:
        return [f["name"] for f in value]
    return value


def view(request: ClientRequest) -> RequestView:
    shown = public(request)
    answers = request.answers or {}
    labelled = [(q["label"], _value(q, answers[q["key"]])) for q in request.questions if q["key"] in answers]
    return RequestView(shown, shown.status, labelled, shown.files)


async def record_requests(session: AsyncSession, record_id: int, limit: int = 50) -> list[RequestView]:
    rows = await session.exec(select(ClientRequest).where(ClientRequest.record_id == record_id)
                              .order_by(col(ClientRequest.id).desc()).limit(limit))
    return [view(request) for request in rows.all()]


async def unlinked_of(session: AsyncSession, request: Request, who: Principal,
                      record: Record) -> list[ClientRequestSummary]:
    """The requests to the record's address (or its contact's) not linked to any record yet: the client's list."""
    email = await store.record_email(session, record)
    if not email:
        return []
    return await list_client_requests(session, who, Page(20, 0, request, Response()), contact_email=email[:320],
                                      unlinked=True)
