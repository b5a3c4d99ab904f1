"""The loop guard (time-skipping server): what it counts, who it tells, and that its cancellation stands."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from crm.models import HistoryKind, MessageStatus
from crm.process_runs import ProcessOrigin, allocate_run
from processes.instance import PhaseStatus, ProcessInput, ProcessStatus
from processes.validation import validate_template
from tests.factories import Factory
from tests.faults.conftest import SENDER, Delivery, Reply, smtp_server
from tests.workflows.helpers import history, outbox, running_worker, template
from tests.workflows.test_process_flow import finished, follow_ups_of, key, save
from workflows.client import start_process


async def start_run(client: Any, sessions: Any, task_queue: str, document: dict[str, Any], record_id: int,
                    owner_id: int, origin: ProcessOrigin = ProcessOrigin.manual, **input: Any) -> str:
    """Start a process as the API (a start by hand) or autostart does: with its run allocated, which the loop
    guard counts."""
    async with sessions() as session:
        run, _ = await allocate_run(session, template_key=document["key"], template_version=1, record_id=record_id,
                                    owner_id=owner_id, started_by="test", origin=origin)
    await start_process(client, ProcessInput(template=validate_template(document), template_version=1,
                                             record_id=record_id, owner_id=owner_id, origin=origin.value, **input),
                        workflow_id=run.workflow_id, task_queue=task_queue)
    return run.workflow_id


async def the_chain(client: Any, sessions: Any, root: str) -> list[Any]:
    """The processes the root's follow-ups started, one after the other, each once it ended."""
    await finished(client, root)
    parent, states = root, []
    while runs := await follow_ups_of(sessions, parent):
        [run] = runs
        states.append(await finished(client, run.workflow_id))
        parent = run.workflow_id
    return states


async def test_a_chain_started_by_hand_runs_ten_times_and_the_eleventh_start_is_cancelled(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    """The start by hand counts (it is never cancelled itself): ten runs, then the guard cancels the eleventh."""
    trigger_user = await factory.user(name="Anna Neri")
    owner = await factory.user()
    record = await factory.record(owner=owner, title="Looping lead")
    loop_key = key("loop")
    doc = await save(sessions, template({"key": "again", "name": "Again", "actions": [
        {"start_follow_up": {"template": loop_key}}]}, key=loop_key))
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        root = await start_run(client, sessions, task_queue, doc, record.id, owner.id,
                               triggered_by_user_id=trigger_user.id)
        states = await the_chain(client, sessions, root)
        await asyncio.sleep(0)
    assert [s.status for s in states] == [ProcessStatus.completed] * 9 + [ProcessStatus.cancelled]
    cancelled = states[-1]
    assert cancelled.workflow_id == f"process-{loop_key}-{record.id}-11"
    assert (cancelled.ended_by, cancelled.end_reason) == (
        "loop guard", f"loop guard: '{loop_key}' was started 11 times today on record {record.id} (the limit is 10)")
    assert all(p.status is PhaseStatus.pending for p in cancelled.phases)
    assert await follow_ups_of(sessions, cancelled.workflow_id) == []
    mails = await outbox(sessions, cancelled.workflow_id)
    assert sorted(m.to_address for m in mails) == sorted(
        {"controller@agency.example", owner.email, trigger_user.email})
    # the notices are the record's (its outbox shows them) and say which process on which record
    assert {m.record_id for m in mails} == {record.id}
    assert {m.subject for m in mails} == {
        f"Loop guard cancelled {cancelled.workflow_id} ('Follow up new lead') on record {record.id}: Looping lead"}
    entries = await history(sessions, cancelled.workflow_id)
    [entry] = [e for e in entries if e.kind is HistoryKind.loop_guard]
    assert entry.record_id == record.id
    assert [e.kind for e in entries].count(HistoryKind.email_sent) == 3


async def test_a_notice_refused_for_good_leaves_the_cancellation_standing(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    """SMTP 5xx for one notice and 4xx for good for another: the process is cancelled, not failed, and the
    notices not sent are in the record's history."""
    owner = await factory.user()
    record = await factory.record(owner=owner)
    loop_key = key("loop")
    doc = template({"key": "again", "name": "Again"}, key=loop_key)
    client = time_skipping_env.client

    async def on_data(delivery: Delivery) -> Reply:
        to = str(delivery.message["To"])
        return "550 5.7.1 refused" if to == owner.email else "451 4.3.0 busy" if to.startswith("controller") \
            else "250 OK"

    async with smtp_server() as smtp, running_worker(client, sessions, task_queue, smtp_host="127.0.0.1",
                                                     smtp_port=smtp.port, smtp_from=SENDER, loop_guard_limit=1):
        smtp.on_data = on_data
        await finished(client, await start_run(client, sessions, task_queue, doc, record.id, owner.id,
                                               ProcessOrigin.autostart))
        # the day's second run is one too many (the limit is 1): the guard cancels it
        third = await start_run(client, sessions, task_queue, doc, record.id, owner.id, ProcessOrigin.autostart)
        state = await finished(client, third)
        description = await client.get_workflow_handle(third).describe()
    assert description.status is WorkflowExecutionStatus.CANCELED  # findable as such in Temporal
    assert (state.status, state.ended_by) == (ProcessStatus.cancelled, "loop guard")
    mails = {m.to_address: m for m in await outbox(sessions, third)}
    assert mails[owner.email].status is MessageStatus.failed and "550" in (mails[owner.email].last_error or "")
    assert mails["controller@agency.example"].status is MessageStatus.pending
    assert mails["controller@agency.example"].attempts == 5
    not_sent = [e for e in await history(sessions, third) if e.kind is HistoryKind.notice_not_sent]
    assert sorted(e.data["to"] for e in not_sent) == sorted([owner.email, "controller@agency.example"])
    assert all(e.record_id == record.id and e.actor == "loop guard" for e in not_sent)

