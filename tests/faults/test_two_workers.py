"""Two API processes and two worker processes sharing one task queue, with nothing but Temporal and the
database between them; one worker is SIGKILLed in the middle of the load: 0 processes lost, 0 emails
duplicated (docs/deployment.md, "Worker tuning")."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from crm.models import HistoryKind, MessageStatus
from tests.factories import Factory
from tests.faults.conftest import (
    Delivery,
    Reply,
    create_template,
    duplicate_effects,
    end_task_queue,
    process_state,
    serve_api,
    smtp_server,
    worker_process,
)
from tests.figures import Figures
from tests.polling import eventually
from tests.workflows.helpers import history, outbox, step_workers

PROCESSES = 40
TEMPLATE = {"name": "Welcome, then the brochure", "controller_email": "controller@agency.example",
            "record_kind": "lead", "phases": [
                {"key": "welcome", "name": "Welcome", "actions": [
                    {"send_email": {"subject": "Benvenuto {{ record.title }}", "body": "Ciao"}}]},
                {"key": "brochure", "name": "Brochure", "actions": [
                    {"send_email": {"subject": "Brochure per {{ record.title }}", "body": "Eccola"}}]}]}


async def ran_a_step(client: Any, workflow_ids: list[str], pid: int) -> bool:
    """Whether the worker of this pid completed a step of one of these processes (Temporal records the
    worker's identity, pid@host, on each step it ran)."""
    for workflow_id in workflow_ids:
        events = [event async for event in client.get_workflow_handle(workflow_id).fetch_history_events()]
        if any(identity.startswith(f"{pid}@") for identity, _ in step_workers(events)):
            return True
    return False


# one run, on PostgreSQL: several workers on one machine's SQLite file is not a deployment anyone runs
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_workers_one_killed_mid_load(dev_env: WorkflowEnvironment, sessions: Any, factory: Factory,
                                               database_url: str, task_queue: str, tmp_path: Path,
                                               figures: Figures) -> None:
    client = dev_env.client
    owner = await factory.user()
    records = [await factory.record(owner=owner, title=f"Lead {i}", email=f"lead{i}@example.org")
               for i in range(PROCESSES)]

    release = threading.Event()  # set once the worker is dead

    async def hold_brochures(delivery: Delivery) -> Reply:
        """The brochures are held at the SMTP server until the kill: steps in flight on both workers."""
        if delivery.attempt == 1 and str(delivery.message["Subject"]).startswith("Brochure"):
            while not release.is_set():
                await asyncio.sleep(0.05)
        return "250 OK"

    async with smtp_server() as smtp:
        smtp.on_data = hold_brochures
        options = dict(database_url=database_url, task_queue=task_queue, smtp_port=smtp.port,
                       temporal_address=client.service_client.config.target_host)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        try:
            async with serve_api(sessions, client, database_url=database_url, task_queue=task_queue) as one, \
                    serve_api(sessions, client, database_url=database_url, task_queue=task_queue) as two, \
                    worker_process(tmp_path / "a", **options) as doomed, \
                    worker_process(tmp_path / "b", **options):
                template = await create_template(one, {**TEMPLATE, "key": f"welcome-{uuid.uuid4().hex[:6]}"})
                answers = await asyncio.gather(*(
                    api.http.post("/processes", headers=api.staff,
                                  json={"template": template["key"], "record_id": record.id})
                    for api, record in zip([one, two] * PROCESSES, records, strict=False)))
                assert [a.status_code for a in answers] == [201] * PROCESSES, [a.text for a in answers]
                workflow_ids = [a.json()["workflow_id"] for a in answers]

                doomed_pid = doomed.proc.pid if doomed.proc else 0

                async def under_way() -> bool:  # every welcome out and every brochure held at the server
                    return len(smtp.seen()) == 2 * PROCESSES and await ran_a_step(client, workflow_ids, doomed_pid)
                await eventually(under_way, 120, "every brochure held at the SMTP server")
                doomed.kill()
                seen_at_kill = len(smtp.seen())
                release.set()

                async def all_completed() -> bool:
                    states = await asyncio.gather(*(process_state(two, w) for w in workflow_ids))
                    return all(s is not None and s["status"] == "completed" for s in states)
                await eventually(all_completed, 150, "every process completes on the worker left")
                # who ran each step (the identity Temporal records is the worker's pid@host), retried or not
                ran_by: dict[str, int] = {}
                for workflow_id in workflow_ids:
                    events = [event async for event in client.get_workflow_handle(workflow_id).fetch_history_events()]
                    for identity, _ in step_workers(events):
                        pid = identity.split("@", 1)[0]
                        ran_by[pid] = ran_by.get(pid, 0) + 1
        finally:
            release.set()
            await end_task_queue(client, task_queue)

    intended: dict[str, str] = {}
    retried = 0  # sends tried more than once (the outbox counts each attempt, whichever worker made it)
    for workflow_id in workflow_ids:
        messages = await outbox(sessions, workflow_id)
        assert [m.status for m in messages] == [MessageStatus.sent] * 2, messages
        intended.update({m.step_key: m.message_id for m in messages})
        retried += sum(m.attempts > 1 for m in messages)
        kinds = [e.kind for e in await history(sessions, workflow_id)]
        assert kinds.count(HistoryKind.email_sent) == 2 and kinds.count(HistoryKind.process_ended) == 1, kinds
    seen, duplicates, missing = duplicate_effects(smtp, intended)
    figures["processes"] = PROCESSES
    figures["emails intended"] = len(intended)
    figures["deliveries seen when the worker was killed"] = seen_at_kill
    figures["deliveries seen by the SMTP server"] = seen
    figures["effective duplicate emails"] = duplicates
    figures["intended emails never received"] = missing
    figures["steps retried after the kill"] = retried
    assert retried > 0  # the brochures the killed worker was sending were sent again by the other
    assert len(ran_by) == 2, ran_by  # both workers ran steps
    assert duplicates == 0 and missing == 0, (seen, duplicates, missing)
