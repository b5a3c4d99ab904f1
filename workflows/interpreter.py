"""The template interpreter: what `ProcessWorkflow` does with one process, from its start to its end.

A process runs its template's phases one after the other (`workflows/phases.py`, with its actions in
`workflows/actions.py` and the timers racing it in `workflows/timers.py`); a step that fails after its
retries becomes an incident staff resolve (`workflows/incidents.py`); staff requests are updates whose
validators refuse what cannot apply (`workflows/staff_requests.py`); the loop guard runs before the
first phase and follow-ups start after the last (`workflows/follow_ups.py`); a long history continues
as new at a phase boundary (`workflows/continuing.py`). What these rooms share, and how they write
the record's history, is one `Run` (`workflows/run.py`). This module wires them and ends the process:
completed, aborted (by staff, or cancelled through Temporal) or cancelled by the loop guard. Its end
goes to its run row with its last bookkeeping (`RunEnd`); an aborted or cancelled process then has
Temporal cancel it, so that it shows as Canceled there (`_end_as_canceled`).

**One activity per step.** The engine's own bookkeeping (history lines, the phase's task closed, its
responsible looked up) does not get activities of its own: it rides along with the next step
(`workflows/ledger.py`, `activities/bookkeeping.py`), and the last step of a phase also writes
"phase done" (and "process ended") once it succeeded. What is left is flushed before the process
waits. Runs started before this (no `PATCH_CARRY` marker in their history) keep the
activity-per-line path, `Run.carry` False.

**Run without the SDK's sandbox** (`worker.RUNNER`), with every room it imports, so a run does not
re-import them (per-run imports cost each parked process its own copy of the code; bench/, scenario
4). It is workflow code all the same: deterministic, no clock, randomness or I/O but through
`temporalio.workflow`; `tests/workflows/test_determinism_guard.py` checks the imports and calls of
every module this one reaches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, CancelledError

from activities.bookkeeping import RunEnd
from activities.process_runs import CancelInTemporalInput, ProcessRunActivities
from crm.models import HistoryKind, TaskStatus
from processes.history_words import english, said
from processes.instance import (AbortRequest, ClientRequestEnded, ClientRequestSubmitted, PhaseStatus, ProcessInput,
                                ProcessState, ProcessStatus, SignatureCompleted)
from workflows import continuing
from workflows.appointments import cancel_appointments
from workflows import search_attributes as sa
from workflows.follow_ups import FollowUps
from workflows.incidents import Incidents
from workflows.phases import Phases
from workflows.requests_cancelled import cancel_requests
from workflows.signatures_cancelled import cancel_signatures
from workflows.run import ACTION_RETRY, BOOKKEEPING_TIMEOUT, Aborted, Run

# A process writes its end to its run row (Stagecoach's own database), and one aborted or cancelled ends as
# Canceled in Temporal; runs from before these markers did neither (the sweep writes their end).
PATCH_END_WRITTEN = "process-end-written-to-its-run"
PATCH_CANCELED_IN_TEMPORAL = "aborted-process-ends-canceled-in-temporal"
# the cancellation the run asked for can arrive while its request is still running: it is the one asked for
PATCH_OWN_CANCELLATION_FIRST = "own-cancellation-arriving-before-its-request-returned"
from workflows.staff_requests import StaffRequests


class ProcessInterpreter:
    def __init__(self, input: ProcessInput, child_run: Callable[..., Any]) -> None:
        self._run = Run(input)
        if input.resume is not None:  # continued as new at a phase boundary: carry on from there
            continuing.resume(self._run, input.resume)
        incidents = Incidents(self._run)
        self._phases = Phases(self._run, incidents)
        self._follow_ups = FollowUps(self._run, child_run)  # child_run: ProcessWorkflow.run
        self.staff = StaffRequests(self._run)

    @property
    def state(self) -> ProcessState:
        return self._run.state

    def request_answered(self, signal: ClientRequestSubmitted) -> None:
        """A client answered a request (signal `client_request_submitted`): counted once, by request id, whether
        or not a phase waits for it yet (it may come before its phase waits)."""
        self._run.requests_answered.setdefault(signal.request_id, signal.submitted_at)

    def request_closed(self, signal: ClientRequestEnded) -> None:
        """A client request ended unanswered (signal `client_request_closed`): counted once, by request id, whether
        or not a phase waits for it yet; the phase waiting for it takes it (`workflows/unanswered.py`)."""
        self._run.requests_closed.setdefault(signal.request_id, signal.outcome)

    def signature_completed(self, signal: SignatureCompleted) -> None:
        """A signing provider told a signature request's outcome (signal `signature_completed`): counted once, by
        request id, whether or not a phase waits for it yet."""
        self._run.signatures.setdefault(signal.signature_id, signal.outcome)

    async def run(self) -> ProcessState:
        run = self._run
        try:
            outcome = await self._run_phases()
        except Aborted:
            outcome = ProcessStatus.aborted
        except asyncio.CancelledError:
            # cancelled from the Temporal UI or CLI: recorded like an abort, then the run ends
            run.abort = AbortRequest(reason=english("reason_cancelled_in_temporal"), actor="temporal")
            run.cancel_requested = True
            outcome = ProcessStatus.aborted
        if outcome is not ProcessStatus.cancelled and not run.carry and not workflow.patched(
                "status-final-after-history"):
            run.state.status = outcome  # histories recorded before: the status changed before the history line
        return await self._finish(outcome)

    async def _run_phases(self) -> ProcessStatus:
        """From the loop guard to the follow-ups: completed, or cancelled by the loop guard."""
        run = self._run
        input = run.input
        wf = run.state.workflow_id
        if input.resume is None:
            # the starter may have counted the start within the loop guard's limit already (ProcessInput)
            automatic = input.origin != "manual" and not input.loop_guard_passed
            if automatic and await self._follow_ups.loop_guard_cancels():
                return ProcessStatus.cancelled
            await run.line(f"{wf}/process/started", HistoryKind.process_started,
                           said("process_started", template=run.template.name, version=input.template_version),
                           actor=input.started_by)
            await self._follow_ups.wait_start_delay()
        index: int | None = run.first_phase
        while index is not None and run.end_reason is None and not run.ended_written:
            await continuing.continue_if_long(run, index)
            index = await self._phases.run_phase(index)
        run.state.end_reason = run.end_reason
        await self._follow_ups.start()
        return ProcessStatus.completed

    async def _finish(self, outcome: ProcessStatus) -> ProcessState:
        run = self._run
        run.ending = True
        state = run.state
        wf = state.workflow_id
        # a process that ended with its last step ended when that step wrote its end (PATCH_LAST_STEP_ENDS)
        state.ended_at = run.step_ended.ended_at if run.step_ended is not None and outcome is ProcessStatus.completed \
            else workflow.now()
        state.current_phase = None
        for follow_up in state.follow_ups:
            if follow_up.status == "planned":
                follow_up.status = "dropped"  # the process did not complete: its follow-ups do not start
        if outcome is ProcessStatus.cancelled:
            pass  # the loop guard wrote its history line and sent its emails
        elif outcome is ProcessStatus.aborted:
            assert run.abort is not None
            state.end_reason = run.abort.reason
            state.ended_by = run.abort.actor
            interrupted = [ps for ps in state.phases if ps.status in (PhaseStatus.running, PhaseStatus.waiting)]
            for ps in interrupted:
                ps.status, ps.finished_at, ps.skip_reason = PhaseStatus.skipped, workflow.now(), \
                    english("reason_process_aborted")
                if ps.task_id is not None:
                    await run.close_task(ps.task_id, TaskStatus.cancelled, run.abort.actor)
            await run.line(f"{wf}/process/aborted", HistoryKind.process_aborted,
                           said("process_aborted", template=run.template.name, reason=run.abort.reason),
                           actor=run.abort.actor)
            await cancel_appointments(state.phases, "process_aborted", run.abort.reason, run.patched)
            await cancel_signatures(run, interrupted, english("reason_process_aborted_why", reason=run.abort.reason),
                                    run.abort.actor)
            await cancel_requests(run, interrupted, english("reason_process_aborted_why", reason=run.abort.reason),
                                  run.abort.actor)
        elif not run.ended_written:
            await run.line(f"{wf}/process/ended", HistoryKind.process_ended, run.ended_words(state.end_reason))
        if run.carry and run.patched(PATCH_END_WRITTEN):  # the end goes to the run row, with what is left
            end = RunEnd(status=outcome, ended_at=state.ended_at, ended_by=state.ended_by, end_reason=state.end_reason,
                         state=state.model_copy(update={"status": outcome}))
            if end != run.step_ended:  # not as the last step wrote it (something happened meanwhile, or no step did)
                run.ledger.end = end
        await run.flush()
        # the status turns final only now, so whoever reads it finds the tasks closed and the history written
        state.status = outcome
        run.upsert(sa.STATUS.value_set(outcome.value), sa.PHASE.value_unset())
        workflow.set_current_details(f"**{outcome.value}** at {state.ended_at:%Y-%m-%d %H:%M} UTC")
        run.closed = True
        # the SDK's meter (the worker's metrics endpoint) does not count again when the history is replayed
        workflow.metric_meter().create_counter("stagecoach_processes_ended", "Processes ended, by final status").add(
            1, {"status": outcome.value, "template": run.template.key})
        await workflow.wait_condition(workflow.all_handlers_finished)
        if outcome is not ProcessStatus.completed and run.carry and run.patched(PATCH_CANCELED_IN_TEMPORAL):
            await self._end_as_canceled()
        return state

    async def _end_as_canceled(self) -> None:
        """A process aborted or cancelled ends as Canceled in Temporal, where engineers filter on it: its end is
        recorded, then its cancellation is requested through Temporal (unless that is how it was aborted),
        and the run ends cancelled. Its final state stays readable: the run row, and the state query. If
        Temporal cannot be asked, it ends Completed there (its status attribute and its row still say)."""
        run = self._run
        if not run.cancel_requested:
            try:
                await workflow.execute_activity_method(
                    ProcessRunActivities.cancel_in_temporal, CancelInTemporalInput(workflow_id=run.state.workflow_id),
                    start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=ACTION_RETRY,
                    summary="end as Canceled in Temporal")
            except ActivityError as err:
                if isinstance(err.cause, CancelledError) and run.patched(PATCH_OWN_CANCELLATION_FIRST):
                    raise asyncio.CancelledError(f"process {run.state.status.value}") from err
                workflow.logger.warning("cancellation not requested, the run ends completed: %s", err.cause or err)
                return
            await workflow.wait_condition(lambda: False)  # until the cancellation arrives: raises CancelledError
        raise asyncio.CancelledError(f"process {run.state.status.value}")
