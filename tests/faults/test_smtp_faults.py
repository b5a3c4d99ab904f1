"""The SMTP server down, refusing (4xx, 5xx) or dropping the connection after DATA, against a real aiosmtpd."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from crm.models import HistoryKind, MessageStatus, OutboxMessage
from processes.instance import ProcessState, ProcessStatus, ResolveIncidentRequest
from tests.factories import Factory
from tests.faults.conftest import (
    SENDER,
    Delivery,
    Reply,
    duplicate_effects,
    smtp_server,
)
from tests.figures import Figures
from tests.polling import eventually
from tests.workflows.helpers import (
    history,
    outbox,
    running_worker,
    start,
    template,
    until,
)
from workflows.run import ACTION_RETRY
from workflows.process import ProcessWorkflow

WELCOME = {"key": "welcome", "name": "Welcome", "actions": [
    {"send_email": {"subject": "Welcome {{ record.title }}", "body": "Hello {{ record.title }}"}}]}


async def _only_message(sessions: Any, handle: WorkflowHandle[Any, Any]) -> OutboxMessage:
    [message] = await outbox(sessions, handle.id)
    return message


async def test_smtp_down_until_it_starts(dev_env: WorkflowEnvironment, sessions: Any, factory: Factory,
                                         task_queue: str, figures: Figures) -> None:
    """SMTP server down (nothing listening), then started: the email is retried and sent once."""
    client = dev_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner, email="down@example.org")
    async with smtp_server(started=False) as smtp:
        async with running_worker(client, sessions, task_queue, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                  smtp_from=SENDER):
            handle = await start(client, task_queue, template(WELCOME), record.id, owner.id)

            async def refused_once() -> bool:
                rows = await outbox(sessions, handle.id)
                return bool(rows) and rows[0].attempts >= 1 and rows[0].last_error is not None

            await eventually(refused_once, 60, "a first attempt refused")
            down_error = (await _only_message(sessions, handle)).last_error
            smtp.start()
            up_at = time.monotonic()
            state = await asyncio.wait_for(handle.result(), 90)
            recovered = time.monotonic() - up_at
    message = await _only_message(sessions, handle)
    seen, duplicates, missing = duplicate_effects(smtp, {message.step_key: message.message_id})
    figures["failed attempts while down"] = message.attempts - 1
    figures["deliveries seen"] = seen
    figures["effective duplicate emails"] = duplicates
    figures["sent after the server came up (s)"] = round(recovered, 1)
    assert "ConnectionRefused" in (down_error or "") or "connect" in (down_error or "").lower(), down_error
    assert state.status is ProcessStatus.completed and state.incident is None
    assert message.status is MessageStatus.sent and (seen, duplicates, missing) == (1, 0, 0)
    assert message.last_error is None and message.attempts >= 2  # sent: the earlier error is not shown beside it


# each recipient address gets its own behaviour from the server
SCRIPTS = {
    "busy-rcpt@example.org": "RCPT TO answered 450 twice, then accepted",
    "busy-data@example.org": "DATA answered 451 twice, then accepted",
    "dropped@example.org": "connection dropped after the whole DATA, without a reply, once",
    "rejected@example.org": "DATA answered 550 until staff retry the incident",
    "no-such-user@example.org": "RCPT TO answered 550: staff skip the step",
    "always-busy@example.org": "DATA answered 451 until the retries run out, then accepted",
}


async def test_smtp_refusals_and_dropped_connections(dev_env: WorkflowEnvironment, sessions: Any,
                                                     factory: Factory, task_queue: str, figures: Figures) -> None:
    """SMTP 4xx retried, 5xx an incident, a dropped connection retried: never a second Message-ID."""
    client = dev_env.client
    owner = await factory.user()
    accepting = asyncio.Event()  # after the incidents: the server accepts "rejected" and "always-busy"

    async def on_rcpt(address: str, n: int) -> Reply:
        if address == "busy-rcpt@example.org" and n <= 2:
            return "450 4.2.1 mailbox busy, try later"
        if address == "no-such-user@example.org":
            return "550 5.1.1 no such user"
        return "250 OK"

    async def on_data(delivery: Delivery) -> Reply:
        to, n = str(delivery.message["To"]), delivery.attempt
        if to == "busy-data@example.org" and n <= 2:
            return "451 4.3.0 temporary failure, try later"
        if to == "dropped@example.org" and n == 1:
            return None
        if to == "rejected@example.org" and not accepting.is_set():
            return "550 5.7.1 message refused"
        if to == "always-busy@example.org" and not accepting.is_set():
            return "451 4.3.0 temporary failure, try later"
        return "250 OK"

    async with smtp_server() as smtp:
        smtp.on_rcpt, smtp.on_data = on_rcpt, on_data
        async with running_worker(client, sessions, task_queue, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                  smtp_from=SENDER):
            handles: dict[str, WorkflowHandle[ProcessWorkflow, ProcessState]] = {}
            for address in SCRIPTS:
                record = await factory.record(owner=owner, email=address, title=address.split("@")[0])
                handles[address] = await start(client, task_queue, template(WELCOME), record.id, owner.id)
            incidents = {}
            for address in ("rejected@example.org", "no-such-user@example.org", "always-busy@example.org"):
                state = await until(handles[address], lambda s: s.incident is not None, timeout=90)
                incidents[address] = state.incident
            accepting.set()
            for address, action in (("rejected@example.org", "retry"), ("no-such-user@example.org", "skip"),
                                    ("always-busy@example.org", "retry")):
                await handles[address].execute_update(ProcessWorkflow.resolve_incident,
                                                      ResolveIncidentRequest(action=action, actor="staff"))
            states = dict(zip(SCRIPTS, await asyncio.wait_for(
                asyncio.gather(*(h.result() for h in handles.values())), 90), strict=True))

    messages = {address: await _only_message(sessions, handles[address]) for address in SCRIPTS}
    intended = {m.step_key: m.message_id for a, m in messages.items() if a != "no-such-user@example.org"}
    seen, duplicates, missing = duplicate_effects(smtp, intended)
    attempts = {address: m.attempts for address, m in messages.items()}
    figures["logical emails"] = len(SCRIPTS)
    figures["SMTP transactions reaching DATA"] = seen
    figures["effective duplicate emails"] = duplicates
    figures["incidents"] = ", ".join(f"{a.split('@')[0]}: {i.error_type}" for a, i in incidents.items())
    figures["attempts per email"] = ", ".join(f"{a.split('@')[0]}: {n}" for a, n in attempts.items())
    figures["processes not completed"] = sum(s.status is not ProcessStatus.completed for s in states.values())

    assert all(s.status is ProcessStatus.completed for s in states.values())
    assert duplicates == 0 and missing == 0
    # transient refusals were retried by Temporal, with no incident
    for address in ("busy-rcpt@example.org", "busy-data@example.org", "dropped@example.org"):
        kinds = [e.kind for e in await history(sessions, handles[address].id)]
        assert HistoryKind.incident not in kinds and kinds.count(HistoryKind.email_sent) == 1, (address, kinds)
        assert messages[address].status is MessageStatus.sent
    assert attempts["busy-rcpt@example.org"] == attempts["busy-data@example.org"] == 3
    assert attempts["dropped@example.org"] == 2
    # a permanent refusal is an incident at once; transient ones become one when the retries run out
    assert {a: i.error_type for a, i in incidents.items()} == {
        "rejected@example.org": "EmailRejected", "no-such-user@example.org": "EmailRejected",
        "always-busy@example.org": "EmailDeferred"}
    assert attempts["rejected@example.org"] == 2  # refused once, sent on the staff retry
    assert attempts["always-busy@example.org"] == ACTION_RETRY.maximum_attempts + 1
    assert messages["no-such-user@example.org"].status is MessageStatus.failed  # refused for good, skipped
    assert states["no-such-user@example.org"].phases[0].actions[0].status == "skipped"
    # the dropped one was received twice with one Message-ID: one effect for a receiver that de-duplicates
    ids = smtp.message_ids()
    assert ids[messages["dropped@example.org"].message_id] == 2
    assert ids[messages["busy-data@example.org"].message_id] == 3  # two refused, one accepted
