"""Worker logs are JSON lines that carry the workflow id and the step key."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from temporalio.testing import WorkflowEnvironment

from logs import configure_logging
from processes.instance import AbortRequest, ProcessStatus
from tests.factories import Factory
from tests.workflows.helpers import running_worker, start, template, until
from workflows.process import ProcessWorkflow


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_a_failing_step_is_logged_with_its_workflow_and_step_key(
        time_skipping_env: WorkflowEnvironment, sessions, factory: Factory, task_queue: str, json_logs) -> None:
    owner = await factory.user()
    record = await factory.record(owner=owner, email=None)
    doc = template({"key": "mail", "name": "Mail", "actions": [{"send_email": {"subject": "Hi", "body": "Hi"}}]})
    client = time_skipping_env.client
    async with running_worker(client, sessions, task_queue):
        handle = await start(client, task_queue, doc, record.id, owner.id)
        await until(handle, lambda s: s.status is ProcessStatus.incident)
        await handle.execute_update(ProcessWorkflow.abort, AbortRequest(reason="no address", actor="test"))
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    [failure] = [line for line in lines if line["event"].startswith("activity failed")]
    assert failure["workflow_id"] == handle.id and failure["activity"] == "send_email"
    assert failure["step_key"] == f"{handle.id}/mail/0/0" and failure["level"] == "warning"
    assert "RecipientMissing" in failure["event"] or "no email address" in failure["event"]
