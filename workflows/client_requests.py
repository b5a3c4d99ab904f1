"""`ClientRequestWorkflow`: one client request's reminders, and the record's move when the client answers.

Started by `send_client_request` when the request has reminders, or moves the record on when answered: every
`every_days` a durable timer emails the client again (`remind_client`, which sends nothing once the request is
no longer pending), up to `count` times; then a request that moves the record waits for the answers until it
expires (`wait_until`), so the answers find it running.
The dispatcher of submissions (`workflows/request_delivery.py`) signals it `client_request_submitted`, with
signal-with-start since it may have ended (its reminders all sent) or never started (no reminders): the
reminders stop and, for a request of a status's automation with auto-move, `move_on_answer` moves the record to
the next status of its type. The signal counts once; a second delivery, to this run or to a new one, finds the
move done (its step key). `cancel` ends it without reminding further.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.client_requests import ClientRequestActivities, MoveOnAnswerInput, RemindInput
    from processes.instance import ClientRequestSubmitted
    from workflows.client import CLIENT_REQUEST_WORKFLOW, SUBMITTED_SIGNAL, ClientRequestInput

# a reminder or a move must happen in the end: retried for about a day, then the request's workflow fails visibly
REQUEST_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                            maximum_interval=timedelta(minutes=10), maximum_attempts=150)
REQUEST_TIMEOUT = timedelta(minutes=2)


class ClientRequestState(BaseModel):
    request_id: int
    reminders_sent: int = 0
    submitted: ClientRequestSubmitted | None = None
    cancelled: bool = False
    outcome: str = ""  # what the answers did: "moved to 'X'", "not moved: ...", "no auto-move"


@workflow.defn(name=CLIENT_REQUEST_WORKFLOW)
class ClientRequestWorkflow:
    @workflow.init
    def __init__(self, input: ClientRequestInput) -> None:
        self.state = ClientRequestState(request_id=input.request_id)

    @workflow.run
    async def run(self, input: ClientRequestInput) -> ClientRequestState:
        state = self.state
        while state.reminders_sent < input.count and state.submitted is None and not state.cancelled:
            workflow.set_current_details(f"reminder {state.reminders_sent + 1} of {input.count} in "
                                         f"{input.every_days} day(s), unless the client answers")
            try:
                await workflow.wait_condition(lambda: state.submitted is not None or state.cancelled,
                                              timeout=timedelta(days=input.every_days),
                                              timeout_summary="until the next reminder")
            except asyncio.TimeoutError:
                sent = await workflow.execute_activity_method(
                    ClientRequestActivities.remind_client,
                    RemindInput(request_id=input.request_id, email_step_key=input.email_step_key or "",
                                number=state.reminders_sent + 1),
                    start_to_close_timeout=REQUEST_TIMEOUT, retry_policy=REQUEST_RETRY, summary="remind the client")
                if not sent:  # answered, cancelled or expired meanwhile
                    break
                state.reminders_sent += 1
        if input.wait_until is not None and state.submitted is None and not state.cancelled:
            workflow.set_current_details(f"waits for the answers until {input.wait_until:%Y-%m-%d %H:%M} UTC")
            try:
                await workflow.wait_condition(lambda: state.submitted is not None or state.cancelled,
                                              timeout=max(input.wait_until - workflow.now(), timedelta(seconds=1)),
                                              timeout_summary="until the request expires")
            except asyncio.TimeoutError:
                pass  # expired: an answer that still comes (it cannot, the form refuses it) starts a new run
        if state.submitted is not None:
            state.outcome = await workflow.execute_activity_method(
                ClientRequestActivities.move_on_answer, MoveOnAnswerInput(request_id=input.request_id),
                start_to_close_timeout=REQUEST_TIMEOUT, retry_policy=REQUEST_RETRY, summary="move the record on")
        workflow.set_current_details(state.outcome or ("cancelled" if state.cancelled else "reminders done"))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return state

    @workflow.signal(name=SUBMITTED_SIGNAL)
    def submitted(self, signal: ClientRequestSubmitted) -> None:
        """The client answered: counted once (a second delivery changes nothing)."""
        if self.state.submitted is None and signal.request_id == self.state.request_id:
            self.state.submitted = signal

    @workflow.signal
    def cancel(self) -> None:
        self.state.cancelled = True

    @workflow.query
    def current_state(self) -> ClientRequestState:
        return self.state
