"""`RecordEventsWorkflow`: the one long-running dispatcher of record events (autostart).

Whoever commits record events signals it with `notify_dispatcher` (`workflows/client.py`; signal-with-start,
so the first signal starts it). It runs `dispatch_record_events` after each signal and
also sweeps on a durable timer, so an event whose signal was lost (a crash between the
commit and the signal, Temporal briefly unreachable) still starts its processes. One
dispatch runs at a time; signals that arrive meanwhile cause one more dispatch.

Each timer sweep also settles the process runs Temporal knows better than the database
(`sweep_process_runs`, `activities/process_runs.py`): starts never confirmed, ends the
process could not write. Runs before `PATCH_SWEEP_RUNS` did not. And it delivers the
client-request submissions not delivered yet (`deliver_submissions`; `PATCH_SWEEP_SUBMISSIONS`).

The sweep keeps its own clock (`PATCH_SWEEP_CLOCK`): it comes every `sweep_seconds` however many signals arrive
in between. Runs before the patch waited `sweep_seconds` again after every signal, so an office whose records
changed more often than that was never swept (no expiry marked, no submission delivered) until it went quiet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError

from processes.wording import counted

with workflow.unsafe.imports_passed_through():
    from activities.autostart import AutostartActivities, DispatchInput, DispatchResult
    from activities.client_requests import ClientRequestActivities, DeliverSubmissionsInput
    from activities.process_runs import ProcessRunActivities, SweepRunsInput
    from workflows.client import DISPATCHER_SIGNAL, DISPATCHER_WORKFLOW, RecordEventsInput

# dispatching must eventually succeed (nothing else will start those processes): retried until it does
DISPATCH_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                             maximum_interval=timedelta(minutes=1))
DISPATCH_TIMEOUT = timedelta(minutes=5)
# it heartbeats after each event: a worker that dies mid-batch is noticed in this, not in DISPATCH_TIMEOUT, and the
# batch is taken again on another (each start keyed by its event and template, so none is started twice)
DISPATCH_HEARTBEAT = timedelta(seconds=30)
# The sweep of process runs is tried again at the next timer if it fails: a few retries only.
SWEEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=3)
PATCH_SWEEP_RUNS = "sweep-process-runs"
# each timer sweep also delivers the client-request submissions the form could not (workflows/request_delivery.py)
PATCH_SWEEP_SUBMISSIONS = "sweep-client-request-submissions"
# the sweep is due `sweep_seconds` after the last one, not after the last signal
PATCH_SWEEP_CLOCK = "sweep-on-its-own-clock"


class RecordEventsState(BaseModel):
    rounds: int = 0  # dispatch rounds in this run
    events: int = 0  # events dispatched in this run
    runs_settled: int = 0  # process runs the sweep settled in this run (starts confirmed or not, ends written)
    started: int = 0  # processes started (or found started) in this run
    submissions: int = 0  # client-request submissions the sweeps delivered in this run
    sweeps: int = 0  # timer sweeps in this run
    signalled: bool = False
    dispatching: bool = False
    sweep_seconds: float = 60  # from the input, then as the workers' settings say


@workflow.defn(name=DISPATCHER_WORKFLOW)
class RecordEventsWorkflow:
    @workflow.init
    def __init__(self, input: RecordEventsInput) -> None:
        self._input = input
        self.state = RecordEventsState(signalled=input.signalled, sweep_seconds=input.sweep_seconds)

    @workflow.run
    async def run(self, input: RecordEventsInput) -> None:
        sweep_due = workflow.now() + timedelta(seconds=self.state.sweep_seconds)
        while True:
            state = self.state
            workflow.set_current_details(f"{counted(state.rounds, 'dispatch round')}, {counted(state.events, 'event')}, "
                                         f"{counted(state.started, 'process', 'processes')} started in this run")
            own_clock = workflow.patched(PATCH_SWEEP_CLOCK)
            wait = (sweep_due - workflow.now()) if own_clock else timedelta(seconds=self.state.sweep_seconds)
            swept = wait <= timedelta(0)  # due already: the last dispatch took the time left
            if not swept:
                try:
                    await workflow.wait_condition(lambda: self.state.signalled, timeout=wait,
                                                  timeout_summary="sweep for undispatched record events")
                except asyncio.TimeoutError:
                    swept = True
            if swept:
                sweep_due = workflow.now() + timedelta(seconds=self.state.sweep_seconds)
                self.state.sweeps += 1
            self.state.signalled = False
            await self._dispatch(sweep_runs=swept)
            self.state.rounds += 1
            if self.state.rounds >= input.rounds_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(input.model_copy(update={"signalled": self.state.signalled,
                                                                  "sweep_seconds": self.state.sweep_seconds}))

    async def _dispatch(self, *, sweep_runs: bool) -> None:
        self.state.dispatching = True
        try:
            while True:
                result: DispatchResult = await workflow.execute_activity_method(
                    AutostartActivities.dispatch_record_events, DispatchInput(batch_size=self._input.batch_size),
                    start_to_close_timeout=DISPATCH_TIMEOUT, heartbeat_timeout=DISPATCH_HEARTBEAT,
                    retry_policy=DISPATCH_RETRY, summary="dispatch record events")
                self.state.events += result.events
                self.state.started += len(result.started)
                if result.sweep_seconds:
                    self.state.sweep_seconds = result.sweep_seconds
                if not result.more:
                    break
            if sweep_runs and workflow.patched(PATCH_SWEEP_RUNS):
                await self._sweep_runs()
            if sweep_runs and workflow.patched(PATCH_SWEEP_SUBMISSIONS):
                await self._sweep_submissions()
        finally:
            self.state.dispatching = False

    async def _sweep_runs(self) -> None:
        try:
            swept = await workflow.execute_activity_method(
                ProcessRunActivities.sweep_process_runs, SweepRunsInput(), start_to_close_timeout=DISPATCH_TIMEOUT,
                heartbeat_timeout=timedelta(seconds=30), retry_policy=SWEEP_RETRY, summary="sweep process runs")
        except ActivityError as err:  # the next timer sweeps again
            workflow.logger.warning("sweep of process runs failed: %s", err.cause or err)
            return
        self.state.runs_settled += len(swept.confirmed) + len(swept.not_started) + len(swept.ended)

    async def _sweep_submissions(self) -> None:
        while True:
            try:
                result = await workflow.execute_activity_method(
                    ClientRequestActivities.deliver_submissions, DeliverSubmissionsInput(),
                    start_to_close_timeout=DISPATCH_TIMEOUT, retry_policy=SWEEP_RETRY,
                    summary="deliver client-request submissions")
            except ActivityError as err:  # the next timer sweeps again
                workflow.logger.warning("delivery of client-request submissions failed: %s", err.cause or err)
                return
            self.state.submissions += result.delivered
            if not result.more:
                return

    @workflow.signal(name=DISPATCHER_SIGNAL)
    def events_recorded(self) -> None:
        """Record events were committed: dispatch them now rather than at the next sweep."""
        self.state.signalled = True

    @workflow.query
    def current_state(self) -> RecordEventsState:
        return self.state

    @workflow.signal(dynamic=True)
    def unknown_signal(self, name: str, args: Sequence[RawValue]) -> None:
        """Only `events_recorded` means something here: log any other signal and drop it, never buffer it."""
        workflow.logger.warning("unknown signal %r dropped (the dispatcher takes events_recorded)", name)

