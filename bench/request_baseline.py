"""The hand-written baseline of the client-request scenario: a plain Temporal workflow that waits for the same
signal (`client_request_submitted`) and runs one activity moving the record to its next status, as
`activities/client_requests.py` does (`crm/pipeline_moves.py`: the status, its history line and its record
event in one transaction), without the request's row, its checks or the dispatcher."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.deps import Deps
    from crm.pipeline_moves import Move, move_record
    from processes.instance import ClientRequestSubmitted

RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(minutes=1), maximum_attempts=5)


class MoveInput(BaseModel):
    record_id: int
    to: str
    step_key: str


class RequestBaselineActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="bench_move_record")
    async def move(self, input: MoveInput) -> None:
        async with self.deps.sessions() as session:
            await move_record(session, input.record_id, Move(to=input.to, actor="baseline", step_key=input.step_key))
            await session.commit()


@workflow.defn(name="RequestBaselineWorkflow")
class RequestBaselineWorkflow:
    @workflow.init
    def __init__(self, input: MoveInput) -> None:
        self._answered: ClientRequestSubmitted | None = None

    @workflow.run
    async def run(self, input: MoveInput) -> None:
        await workflow.wait_condition(lambda: self._answered is not None)
        await workflow.execute_activity_method(RequestBaselineActivities.move, input,
                                               start_to_close_timeout=timedelta(minutes=2), retry_policy=RETRY)

    @workflow.signal(name="client_request_submitted")
    def submitted(self, signal: ClientRequestSubmitted) -> None:
        self._answered = self._answered or signal


def request_baseline_activities(deps: Deps) -> list[object]:
    return [RequestBaselineActivities(deps).move]
