"""What the answers to a status's request do to the record (`move_on_answer`, on both databases): the next status
of its type, once, one history line; no move, and one line saying why, when it has left the status or has none."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select

from activities.client_requests import ClientRequestActivities, MoveOnAnswerInput
from activities.deps import Deps
from activities.mailer import Mailer
from crm import pipeline_store
from crm.client_requests import store
from crm.client_requests.models import AutoMove, RequestStatus
from crm.client_requests.questions import RequestTemplate
from crm.models import HistoryEntry, Record
from crm.pipeline_moves import Move, move_record
from crm.types import utcnow
from processes.pipeline import Pipeline
from processes.template_basics import RecordKind
from settings import Settings
from tests.factories import Factory


async def job_with_answered_request(sessions: Any, factory: Factory, status: str = "Missing information",
                                    waiting: str = "Missing information") -> tuple[int, int, str]:
    tag = uuid.uuid4().hex[:8]
    async with sessions() as session:
        await pipeline_store.save(session, Pipeline.model_validate({
            "key": f"tax-{tag}", "name": "Tax", "record_kind": "job",
            "statuses": [{"name": "New"}, {"name": "Missing information"}, {"name": "Review"}],
            "types": [{"name": f"Tax {tag}"}]}), "test")
        await store.save_template(session, RequestTemplate.model_validate({
            "key": f"docs-{tag}", "language": "it", "title": "Documenti",
            "questions": [{"key": "iban", "type": "text", "label": "IBAN"}]}), "test")
    record = await factory.record(kind=RecordKind.job, type=f"Tax {tag}", status=status)
    async with sessions() as session:
        request, _ = await store.open_request(session, template_key=f"docs-{tag}", record_id=record.id, actor="test",
                                              auto_move=AutoMove.on, waiting_status=waiting)
        request.status, request.submitted_at = RequestStatus.submitted, utcnow()
        await session.commit()
        assert request.id is not None and record.id is not None
        return record.id, request.id, tag


async def lines_of(sessions: Any, record_id: int) -> list[HistoryEntry]:
    async with sessions() as session:
        return list((await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == record_id)
                                        .order_by(col(HistoryEntry.id)))).all())


def activities(sessions: Any) -> ClientRequestActivities:
    settings = Settings()
    return ClientRequestActivities(Deps(settings=settings, sessions=sessions, mailer=Mailer(settings)))


async def test_the_answers_move_the_record_to_the_next_status_once(sessions: Any, factory: Factory) -> None:
    record_id, request_id, _ = await job_with_answered_request(sessions, factory)
    moving = activities(sessions)
    first = await moving.move_on_answer(MoveOnAnswerInput(request_id=request_id))
    again = await moving.move_on_answer(MoveOnAnswerInput(request_id=request_id))  # a second delivery
    assert first == again == "moved to 'Review'"
    [line] = await lines_of(sessions, record_id)
    assert line.text == (f"Status changed from 'Missing information' to 'Review' by client request #{request_id}: "
                         "the client answered 'Documenti'")
    assert (await factory.get(Record, record_id)).status == "Review"


async def test_a_record_that_left_the_status_does_not_move(sessions: Any, factory: Factory) -> None:
    record_id, request_id, _ = await job_with_answered_request(sessions, factory)
    async with sessions() as session:
        await move_record(session, record_id, Move(to="New", actor="anna"))
        await session.commit()
    moving = activities(sessions)
    outcome = await moving.move_on_answer(MoveOnAnswerInput(request_id=request_id))
    await moving.move_on_answer(MoveOnAnswerInput(request_id=request_id))
    assert outcome.startswith("not moved")
    texts = [line.text for line in await lines_of(sessions, record_id)]
    assert texts[1:] == [f"Client request #{request_id} answered; record not moved: it is in 'New' now, no longer "
                         "in 'Missing information'"]
    assert (await factory.get(Record, record_id)).status == "New"


async def test_the_last_status_has_nowhere_to_move(sessions: Any, factory: Factory) -> None:
    record_id, request_id, _ = await job_with_answered_request(sessions, factory, "Review", "Review")
    outcome = await activities(sessions).move_on_answer(MoveOnAnswerInput(request_id=request_id))
    assert outcome == "not moved: Client request #%d answered; record not moved: 'Review' is the last status of " \
                      "type '%s'" % (request_id, (await factory.get(Record, record_id)).type)
