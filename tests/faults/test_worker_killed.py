"""The worker (`python worker.py`, a real child process) killed with SIGKILL, or stopped with SIGTERM, in the
middle of sending email."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from crm.models import HistoryKind, MessageStatus
from processes.instance import ProcessStatus
from tests.factories import Factory
from tests.faults.conftest import (
    Delivery,
    Reply,
    duplicate_effects,
    end_task_queue,
    smtp_server,
    worker_process,
)
from tests.figures import Figures
from tests.polling import eventually
from tests.workflows.helpers import history, outbox, start, template
from workflows.run import ACTION_HEARTBEAT

WELCOME = {"key": "welcome", "name": "Welcome", "actions": [
    {"send_email": {"subject": "Welcome {{ record.title }}", "body": "Hello {{ record.title }}"}}]}
LONG = ACTION_HEARTBEAT.total_seconds() + 2  # how long the slow send has run when the worker dies


async def test_worker_killed_before_during_and_after_an_email_is_accepted(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, tmp_path: Path,
        database_url: str, figures: Figures) -> None:
    """Worker killed (SIGKILL) before a send, after the SMTP server accepted it, and during a long send."""
    client = dev_env.client
    owner = await factory.user()
    # (a) held before anything is sent (at RCPT TO), (b) held once the server has the whole message (its
    # DATA reply withheld), (c) a slow server: a send running longer than the heartbeat timeout
    cases = {"a": "before@example.org", "b": "accepted@example.org", "c": "slow@example.org"}
    held = {case: threading.Event() for case in cases}  # the worker is held at that point
    release = threading.Event()

    async def hold(case: str) -> Reply:
        held[case].set()
        while not release.is_set():
            await asyncio.sleep(0.05)
        return "250 OK"  # to a connection gone with the killed worker: never read

    async def on_rcpt(address: str, n: int) -> Reply:
        return await hold("a") if address == cases["a"] and n == 1 else "250 OK"

    async def on_data(delivery: Delivery) -> Reply:
        to = str(delivery.message["To"])
        if delivery.attempt == 1 and to in (cases["b"], cases["c"]):
            return await hold(next(case for case, address in cases.items() if address == to))
        return "250 OK"

    async with smtp_server() as smtp:
        smtp.on_rcpt, smtp.on_data = on_rcpt, on_data
        options = dict(database_url=database_url, task_queue=task_queue, smtp_port=smtp.port,
                       temporal_address=client.service_client.config.target_host)
        try:
            async with worker_process(tmp_path, **options) as worker:
                handles = {}
                for case, address in cases.items():
                    record = await factory.record(owner=owner, email=address, title=f"case {case}")
                    handles[case] = await start(client, task_queue, template(WELCOME), record.id, owner.id)
                async def all_held() -> bool:
                    return all(event.is_set() for event in held.values())

                await eventually(all_held, 60, "every send held at its point")
                held_since = time.monotonic()

                async def slow_send_heartbeats() -> bool:
                    # a first attempt runs locally, in the workflow task the dead worker leaves to time out
                    return time.monotonic() - held_since > LONG

                await eventually(slow_send_heartbeats, 60, "the slow send outlives its heartbeat timeout")
                worker.kill()
                killed_at = time.monotonic()
                release.set()
                await worker.start()  # a new worker, nothing else changed

                async def finish(case: str) -> tuple[Any, float]:
                    state = await asyncio.wait_for(handles[case].result(), 120)
                    return state, time.monotonic() - killed_at

                results = dict(zip(cases, await asyncio.gather(*(finish(case) for case in cases)), strict=True))
        finally:
            release.set()
            await end_task_queue(client, task_queue)

    intended: dict[str, str] = {}
    for case, handle in handles.items():
        [message] = await outbox(sessions, handle.id)
        assert message.status is MessageStatus.sent, (case, message)
        intended[message.step_key] = message.message_id
        kinds = [e.kind for e in await history(sessions, handle.id)]
        assert kinds.count(HistoryKind.email_sent) == 1, (case, kinds)
    lost = sum(state.status is not ProcessStatus.completed for state, _ in results.values())
    seen, duplicates, missing = duplicate_effects(smtp, intended)
    figures["processes"] = len(handles)
    figures["processes lost"] = lost
    figures["intended emails"] = len(intended)
    figures["deliveries seen by the SMTP server"] = seen
    figures["effective duplicate emails (distinct Message-IDs beyond one per email)"] = duplicates
    figures["intended emails never received"] = missing
    for case, (_, elapsed) in results.items():
        figures[f"recovery after the kill, case {case} (s)"] = round(elapsed, 1)
    figures["heartbeat timeout of a step (s)"] = ACTION_HEARTBEAT.total_seconds()
    assert lost == 0, {case: state.status for case, (state, _) in results.items()}
    assert duplicates == 0 and missing == 0
    # (a) reached the server once before the kill and sent its message once after; (b) and (c) were received,
    # then sent again by the retry with the same Message-ID: one effect each
    assert smtp.message_ids() == {intended[m.step_key]: n for m, n in
                                  [((await outbox(sessions, handles[c].id))[0], 1 if c == "a" else 2)
                                   for c in cases]}
    assert all(state.phases[0].actions[0].status == "done" for state, _ in results.values())
    # the outbox counts every delivery tried, the one the kill cut short included (each was tried twice)
    attempts = {case: (await outbox(sessions, handle.id))[0].attempts for case, handle in handles.items()}
    figures["delivery attempts the outbox shows, per email"] = ", ".join(f"{c}: {n}" for c, n in attempts.items())
    assert attempts == {"a": 2, "b": 2, "c": 2}


async def test_worker_stopped_with_sigterm_lets_a_running_send_finish(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, tmp_path: Path,
        database_url: str, figures: Figures) -> None:
    """A deployment stops the worker (SIGTERM) in the middle of a send: the send finishes and is reported."""
    client = dev_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner, email="held@example.org", title="stopped worker")
    held, release = threading.Event(), threading.Event()

    async def on_data(delivery: Delivery) -> Reply:
        held.set()
        while not release.is_set():
            await asyncio.sleep(0.05)
        return "250 OK"

    async with smtp_server() as smtp:
        smtp.on_data = on_data
        options = dict(database_url=database_url, task_queue=task_queue, smtp_port=smtp.port,
                       temporal_address=client.service_client.config.target_host)
        try:
            async with worker_process(tmp_path, **options) as worker:
                handle = await start(client, task_queue, template(WELCOME), record.id, owner.id)

                async def send_held() -> bool:
                    return held.is_set()

                await eventually(send_held, 60, "the send held at its DATA")
                assert worker.proc is not None
                worker.proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(1)  # the worker has stopped polling; its send is still running
                assert worker.proc.poll() is None, worker.logs()[-3000:]
                release.set()
                stopped_at = time.monotonic()
                exit_code = await asyncio.to_thread(worker.proc.wait, 30)
                stop_seconds = time.monotonic() - stopped_at
                description = await handle.describe()
                pending = list(description.raw_description.pending_activities)
                await worker.start()  # the next worker runs the rest of the process
                state = await asyncio.wait_for(handle.result(), 60)
        finally:
            release.set()
            await end_task_queue(client, task_queue)

    [message] = await outbox(sessions, handle.id)
    figures["exit code of the worker after SIGTERM"] = exit_code
    figures["seconds from the send's reply to the worker's exit"] = round(stop_seconds, 1)
    figures["deliveries seen by the SMTP server"] = len(smtp.seen())
    assert exit_code == 0, worker.logs()[-3000:]
    assert pending == [], "the send was reported before the worker exited, not left to its timeout"
    assert message.status is MessageStatus.sent and len(smtp.seen()) == 1
    assert state.status is ProcessStatus.completed
    assert "worker stopping" in worker.logs() and "worker stopped" in worker.logs()
