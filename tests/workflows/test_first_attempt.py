"""A step's first attempt as a local activity, its retries as a regular one (`workflows/first_attempt.py`;
time-skipping server, real activities)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.history import AddHistoryInput, HistoryActivities
from activities.step import ActionResult, step_activity
from crm.models import HistoryKind
from processes.instance import ProcessStatus
from tests.factories import Factory
from tests.workflows.helpers import activity_types, history, running_worker, start, step_events, template, until
from workflows import first_attempt
from workflows.first_attempt import after_first, retried
from workflows.run import ACTION_RETRY

NOTE = {"key": "note", "name": "Note", "actions": [{"add_history": {"text": "noted"}}]}
SMS = {"key": "text", "name": "Text", "actions": [{"send_sms": {"to": "record_owner", "text": "Ciao"}}]}


def attempts(events: Any) -> list[tuple[str, bool]]:
    """(activity type, local) of every step attempt a history records."""
    return [(kind, e.HasField("marker_recorded_event_attributes"))
            for kind, e in zip(activity_types(events), step_events(events), strict=True)]


async def test_a_step_runs_locally_and_a_kind_that_must_not_repeat_never_does(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    owner = await factory.user(phone="+39 333 765 4321")
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(NOTE, SMS), record.id, owner.id)
        state = await handle.result()
        events = (await handle.fetch_history()).events
    assert state.status is ProcessStatus.completed
    # the note is a marker; the SMS, whose repeat would be a second message, a regular activity from its first attempt
    assert attempts(events) == [("add_history", True), ("send_sms", False)]


@pytest.mark.parametrize("failure", ["slow", "refused"])
async def test_a_local_attempt_cut_off_or_refused_is_retried_as_an_activity_once(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    monkeypatch.setattr(first_attempt, "LOCAL_LIMIT", timedelta(seconds=0.5))
    add = HistoryActivities.add_history.__wrapped__  # type: ignore[attr-defined]
    calls: list[bool] = []

    @step_activity("add_history")
    async def slow_or_refused_at_first(self, input: AddHistoryInput) -> ActionResult:  # type: ignore[no-untyped-def]
        calls.append(activity.info().is_local)
        if activity.info().is_local:
            if failure == "slow":
                await asyncio.sleep(5)  # cut off after LOCAL_LIMIT
            raise ApplicationError("busy", type="Busy")
        return await add(self, input)  # type: ignore[no-any-return]

    monkeypatch.setattr(HistoryActivities, "add_history", slow_or_refused_at_first)
    owner = await factory.user()
    record = await factory.record(owner=owner)
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(NOTE), record.id, owner.id)
        state = await handle.result()
        events = (await handle.fetch_history()).events
    assert state.status is ProcessStatus.completed and calls == [True, False]
    assert attempts(events) == [("add_history", True), ("add_history", False)]
    [timer] = [e for e in events if e.HasField("timer_started_event_attributes")]
    assert timer.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() == ACTION_RETRY.initial_interval
    assert [e.text for e in await history(sessions, handle.id) if e.kind is HistoryKind.note] == ["noted"]


async def test_a_final_error_on_the_local_attempt_is_an_incident_without_a_retry(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner, email=None)  # no address: RecipientMissing, not retried
    mail = {"key": "mail", "name": "Mail", "actions": [{"send_email": {"subject": "Hi", "body": "Hi"}}]}
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, template(mail), record.id, owner.id)
        state = await until(handle, lambda s: s.status is ProcessStatus.incident)
        events = (await handle.fetch_history()).events
        await handle.terminate("test over")
    assert state.incident is not None and state.incident.error_type == "RecipientMissing"
    # one attempt, local; the incident's own history lines are written after it
    assert [a for a in attempts(events) if a[0] == "send_email"] == [("send_email", True)]


def test_what_is_left_of_a_retry_policy_after_the_local_attempt() -> None:
    policy = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                         maximum_interval=timedelta(minutes=1), maximum_attempts=5, non_retryable_error_types=["X"])
    left = after_first(policy)
    assert (left.initial_interval, left.maximum_attempts, left.non_retryable_error_types) == (
        timedelta(seconds=2), 4, ["X"])
    assert after_first(RetryPolicy(maximum_attempts=0)).maximum_attempts == 0  # unlimited stays unlimited
    assert retried(ApplicationError("x", type="X"), policy) is None  # a type the policy does not retry
    assert retried(ApplicationError("x", non_retryable=True), policy) is None
    assert retried(ApplicationError("x", next_retry_delay=timedelta(seconds=30)), policy) == timedelta(seconds=30)
    assert retried(ApplicationError("x"), policy) == timedelta(seconds=1)
    assert retried(ApplicationError("x"), RetryPolicy(maximum_attempts=1)) is None
