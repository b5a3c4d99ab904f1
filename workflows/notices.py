"""`NoticesWorkflow`: delivers emails to staff that the API recorded in the outbox (activities/staff_notices.py).

Each message is tried until the SMTP server takes it or refuses it for good; one refused does not
stop the others. Each is sent once in effect by its step key (activities/outbox.py), however often
it is tried.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.staff_notices import DeliverNoticeInput, StaffNoticeActivities

NOTICE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0,
                           maximum_interval=timedelta(minutes=10), maximum_attempts=50)


class NoticesInput(BaseModel):
    step_keys: list[str] = Field(max_length=1000, description="the outbox messages to deliver")


class NoticesResult(BaseModel):
    delivered: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)


@workflow.defn(name="NoticesWorkflow")
class NoticesWorkflow:
    @workflow.run
    async def run(self, input: NoticesInput) -> NoticesResult:
        result = NoticesResult()
        for step_key in input.step_keys:
            try:
                await workflow.execute_activity_method(
                    StaffNoticeActivities.deliver_notice, DeliverNoticeInput(step_key=step_key),
                    start_to_close_timeout=timedelta(minutes=1), retry_policy=NOTICE_RETRY,
                    summary=f"deliver {step_key}")
                result.delivered.append(step_key)
            except ActivityError:
                workflow.logger.warning("notice not delivered", extra={"step_key": step_key})
                result.failed.append(step_key)
        return result
