"""Workflows changed on purpose, under the real ones' names: each saved history must fail to replay on them
(tests/workflows/test_replay.py), so that the replay check cannot pass vacuously. A module of their own, beside the
real ones, importing little."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from processes.instance import ProcessInput, ProcessState
    from workflows.client import RecordEventsInput


@workflow.defn(name="ProcessWorkflow")
class ReorderedProcessWorkflow:
    """ProcessWorkflow as if someone resolved the responsible before writing the "started" history line."""

    @workflow.run
    async def run(self, input: ProcessInput) -> ProcessState:
        await workflow.execute_activity("resolve_responsible", {"record_id": input.record_id},
                                        start_to_close_timeout=timedelta(seconds=30))
        raise AssertionError("unreachable: replay fails at the first command")


@workflow.defn(name="RecordEventsWorkflow")
class DelayedRecordEventsWorkflow:
    """RecordEventsWorkflow as if someone made it wait a second before its first dispatch."""

    @workflow.run
    async def run(self, input: RecordEventsInput) -> None:
        await workflow.sleep(1)
        raise AssertionError("unreachable: replay fails at the first command")
