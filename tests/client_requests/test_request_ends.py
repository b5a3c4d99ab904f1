"""Requests that end unanswered, on both databases: a pending request past its expiry is marked `expired` once, with
its history line, and what waits for its answers is told (a process: a closure row; a status's automation: a task
for the record's owner, the record not moved); a cancellation writes the closure a waiting process needs; the
client's requests are found by address through the `lower(contact_email)` index."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from crm.client_requests import closing, store
from crm.client_requests.errors import ClientRequestClosed
from crm.client_requests.models import (CONTACT_EMAIL_INDEX, AutoMove, ClientRequest, ClientRequestClosure,
                                        RequestStatus)
from crm.client_requests.questions import RequestTemplate
from crm.models import HistoryEntry, HistoryKind, Record, Task, TaskKind
from crm.types import utcnow
from settings import Settings
from tests.client_requests.conftest import Env
from tests.factories import Factory


async def _open(sessions: Any, record_id: int, expired: bool = True, **waiting: Any) -> int:
    key = f"t-{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        await store.save_template(session, RequestTemplate.model_validate({
            "key": key, "language": "it", "title": "Documenti 730",
            "questions": [{"key": "iban", "type": "text", "label": "IBAN"}]}), "test")
        request, _ = await store.open_request(session, template_key=key, record_id=record_id, actor="test",
                                              settings=Settings(), **waiting)
        if expired:
            request.expires_at = utcnow() - timedelta(minutes=1)
        await session.commit()
        assert request.id is not None
        return request.id


async def _lines(sessions: Any, record_id: int) -> list[HistoryEntry]:
    async with sessions() as session:
        return list((await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == record_id)
                                        .order_by(col(HistoryEntry.id)))).all())


async def _state(sessions: Any, request_id: int) -> tuple[ClientRequest, list[ClientRequestClosure], list[Task]]:
    async with sessions() as session:
        request = await session.get(ClientRequest, request_id)
        assert request is not None
        ends = (await session.exec(select(ClientRequestClosure).where(
            ClientRequestClosure.request_id == request_id))).all()
        found = (await session.exec(select(Task).where(col(Task.step_key).startswith(
            f"client-request/{request_id}/")))).all()
        return request, list(ends), list(found)


async def test_expiry_is_marked_once_and_tells_whoever_waits(sessions: Any, factory: Factory) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner, status="Documents")
    assert record.id is not None
    staff_own = await _open(sessions, record.id)
    of_status = await _open(sessions, record.id, auto_move=AutoMove.on, waiting_status="Documents")
    of_process = await _open(sessions, record.id, auto_move=AutoMove.on, waiting_workflow_id="process-x-1",
                             waiting_phase_key="ask")
    not_yet = await _open(sessions, record.id, expired=False, auto_move=AutoMove.on, waiting_status="Documents")
    marked = []
    for _ in range(2):  # a second sweep (or one racing) changes nothing
        for request_id in (staff_own, of_status, of_process, not_yet):
            async with sessions() as session:
                marked.append(await closing.expire(session, request_id, "en"))
    assert marked == [True, True, True, False] + [False] * 4

    request, ends, owner_tasks = await _state(sessions, staff_own)
    assert request.status is RequestStatus.expired and request.closed_at is not None and not ends and not owner_tasks
    request, ends, owner_tasks = await _state(sessions, of_status)
    assert request.status is RequestStatus.expired and not ends
    [task] = owner_tasks
    assert (task.kind, task.assignee_id, task.record_id) == (TaskKind.manual, owner.id, record.id)
    assert task.title == f"Client request #{of_status} 'Documenti 730' expired unanswered"
    request, ends, owner_tasks = await _state(sessions, of_process)
    assert request.status is RequestStatus.expired and not owner_tasks
    [end] = ends
    assert end.outcome is RequestStatus.expired and end.delivered_at is None
    request, ends, owner_tasks = await _state(sessions, not_yet)
    assert request.status is RequestStatus.pending and not ends and not owner_tasks

    expired = [e for e in await _lines(sessions, record.id) if e.kind is HistoryKind.client_request_expired]
    assert [e.data["client_request_id"] for e in expired] == [staff_own, of_status, of_process]
    assert expired[1].text == (f"Client request #{of_status} 'Documenti 730' expired: the client did not answer "
                               "(the record stays where it is)")
    assert expired[2].workflow_id == "process-x-1"
    async with sessions() as session:
        assert (await session.get(Record, record.id)).status == "Documents"  # type: ignore[union-attr]


async def test_a_resent_expired_request_is_pending_again_and_its_form_takes_answers(sessions: Any,
                                                                                 factory: Factory) -> None:
    record = await factory.record()
    assert record.id is not None
    request_id = await _open(sessions, record.id)
    async with sessions() as session:
        assert await closing.expire(session, request_id, "en")
        request = await session.get(ClientRequest, request_id)
        assert request is not None and store.is_expired(request)
        store.renew_token(session, request, Settings())
        await session.commit()
        assert request.status is RequestStatus.pending and request.closed_at is None and not store.is_expired(request)


async def test_cancelling_writes_the_closure_a_waiting_process_needs_once(sessions: Any, factory: Factory) -> None:
    record = await factory.record()
    assert record.id is not None
    of_process = await _open(sessions, record.id, expired=False, auto_move=AutoMove.on,
                             waiting_workflow_id="process-x-2", waiting_phase_key="ask")
    staff_own = await _open(sessions, record.id, expired=False)
    for request_id in (of_process, staff_own):
        async with sessions() as session:
            request = await session.get(ClientRequest, request_id)
            assert request is not None
            await closing.cancel(session, request, "anna", "en")
            assert request.status is RequestStatus.cancelled and request.closed_by == "anna"
            with pytest.raises(ClientRequestClosed):
                await closing.cancel(session, request, "bruno", "en")
    assert [(e.outcome, e.request_id) for e in (await _state(sessions, of_process))[1]] == [
        (RequestStatus.cancelled, of_process)]
    assert not (await _state(sessions, staff_own))[1]
    cancelled = [e for e in await _lines(sessions, record.id) if e.kind is HistoryKind.client_request_cancelled]
    assert [(e.data["client_request_id"], e.actor) for e in cancelled] == [(of_process, "anna"), (staff_own, "anna")]


async def test_a_clients_requests_are_found_by_address_through_the_index(sessions: Any, database_url: str) -> None:
    """The record page's condition (`lower(contact_email) = ...`) reads the expression index."""
    query = select(ClientRequest.id).where(sa.func.lower(col(ClientRequest.contact_email)) == "cliente@example.org")
    async with sessions() as session:
        connection = await session.connection()
        compiled = str(query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
        if database_url.startswith("sqlite"):
            plan = " ".join(str(row[-1]) for row in (await connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}")).all())
        else:
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a small table: ask for the index
            plan = " ".join(str(row[0]) for row in (await connection.exec_driver_sql(f"EXPLAIN {compiled}")).all())
        await session.rollback()
    assert CONTACT_EMAIL_INDEX in plan, plan


async def test_staff_cancel_tells_the_waiting_process_at_once(env: Env) -> None:
    """Over the API: the closure is delivered right after the cancellation (here to a process that has ended: the
    row says nobody waits any more); a second cancellation is refused."""
    record_id = await env.record()
    key = await env.template()
    gone = f"process-gone-{uuid.uuid4().hex[:8]}"
    async with env.sessions() as session:
        request, _ = await store.open_request(session, template_key=key, record_id=record_id, actor="test",
                                              auto_move=AutoMove.on, waiting_workflow_id=gone,
                                              waiting_phase_key="ask", settings=env.settings)
        await session.commit()
        request_id = request.id
    assert request_id is not None
    cancelled = await env.http.post(f"/client-requests/{request_id}/cancel", headers=env.as_("staff"))
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", cancelled.text
    [end] = (await _state(env.sessions, request_id))[1]
    assert end.outcome is RequestStatus.cancelled and end.delivered_at is not None
    assert end.last_error == f"process {gone} is not running: no phase waits for the answers"
    again = await env.http.post(f"/client-requests/{request_id}/cancel", headers=env.as_("staff"))
    assert again.status_code == 409 and again.json()["type"] == "ClientRequestClosed"
