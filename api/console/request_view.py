"""A record's client requests as its console page shows them: each with its status and, once answered, its
answers as text (the files are among the record's documents)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.client_requests import store
from crm.client_requests.models import ClientRequest, RequestStatus
from crm.client_requests.questions import QuestionType


@dataclass
class RequestView:
    request: ClientRequest
    status: RequestStatus
    answers: list[tuple[str, Any]]  # (label, value): text, a number, True/False, or a list of texts


def _value(question: dict[str, Any], value: Any) -> Any:
    if question["type"] == QuestionType.file:
        return [f["name"] for f in value]
    return value


async def record_requests(session: AsyncSession, record_id: int, limit: int = 50) -> list[RequestView]:
    rows = await session.exec(select(ClientRequest).where(ClientRequest.record_id == record_id)
                              .order_by(col(ClientRequest.id).desc()).limit(limit))
    views = []
    for request in rows.all():
        answers = request.answers or {}
        shown = [(q["label"], _value(q, answers[q["key"]])) for q in request.questions if q["key"] in answers]
        views.append(RequestView(request, RequestStatus.expired if store.is_expired(request) else request.status,
                                 shown))
    return views
