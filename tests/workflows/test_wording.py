"""What Temporal shows of a process counts in English: '1 phase', '1 line', never '1 lines'; and a record's kind
takes its article: 'an order', never 'a order'."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from processes.wording import counted, with_article
from tests.factories import Factory
from tests.workflows.helpers import running_worker, start, step_events, template


def test_counted_says_one_of_a_thing() -> None:
    assert [counted(n, "line") for n in (0, 1, 2)] == ["0 lines", "1 line", "2 lines"]
    assert counted(1, "process", "processes") == "1 process" and counted(3, "process", "processes") == "3 processes"


def test_a_kind_takes_its_article() -> None:
    assert [with_article(k) for k in ("lead", "order", "opportunity", "job", "case", "Ordine")] == [
        "a lead", "an order", "an opportunity", "a job", "a case", "an Ordine"]


async def test_a_one_phase_process_and_its_one_line_of_history_are_counted_right(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    # before the phase waits, its history holds one line: the process's start
    doc = template({"key": "later", "name": "Later", "start": {"after_days": 1}})
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        await time_skipping_env.sleep(timedelta(days=2))
        await handle.result()
        history = await handle.fetch_history()
    converter = client.data_converter.payload_converter
    texts = [converter.from_payload(e.user_metadata.summary, str) for e in step_events(history.events)
             if e.user_metadata.HasField("summary")]
    start_event = history.events[0]
    details = converter.from_payload(start_event.user_metadata.details, str)
    assert details == "1 phase: later"
    assert any(t.startswith("history: 1 line") for t in texts), texts
    assert not [t for t in texts if " 1 lines" in t or " 1 phases" in t], texts
