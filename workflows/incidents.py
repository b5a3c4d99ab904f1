"""Incidents: a step that failed after its retries, and the process waiting for staff.

Every step of a process goes through `Incidents.attempt`: it runs the step's activity, carrying the
bookkeeping waiting in the ledger; when the activity fails for good, the process opens an incident
(status `incident`, a history line, the search attribute) and waits until staff retry the step,
skip it, skip the phase or abort. A phase whose responsible cannot be found waits the same way, with
its start held back until the lookup is retried or skipped. Staff resolve an incident through the
`resolve_incident` request (`workflows/staff_requests.py`), which sets `Run.resolution`. The engine's
own bookkeeping that still fails after its bounded retries (the database down for minutes) is an
incident the same way (`stuck`), where it would otherwise retry forever out of sight.

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from activities.bookkeeping import HistoryLine, PhaseTaskOpening
from crm.models import HistoryKind
from processes.history_words import english, said
from processes.instance import Incident, PhaseState, ProcessStatus
from workflows import search_attributes as sa
from workflows.run import PATCH_BOOKKEEPING_INCIDENT, Run, Step

# The engine's own steps, as an incident names them: English in the process's state, said in the office's language
# where a line or a page shows them (processes/history_words.py, `step_in`). An action's step is its template path.
TASK_STEP, RESPONSIBLE_STEP, DECISION_STEP, DEADLINE_NOTICE_STEP, LOOP_GUARD_STEP = (
    english(f"step_{name}") for name in ("task", "responsible", "decision", "deadline_notice", "loop_guard"))


class Incidents:
    def __init__(self, run: Run) -> None:
        self.run = run
        run.stuck = self.stuck

    async def stuck(self, what: str, step_key: str, err: ActivityError) -> str | None:
        """The engine's own bookkeeping (`what`: its history lines, the loop guard) still failed after its
        bounded retries: an incident, as visible as a failed step, until staff retry it ("retry") or go on
        without it ("skip"). None when the process is aborted meanwhile. Nothing is written for it: the
        database is what fails. Runs from before `PATCH_BOOKKEEPING_INCIDENT` never got here (their
        bookkeeping retried forever): the error fails them as it did."""
        run = self.run
        if not run.patched(PATCH_BOOKKEEPING_INCIDENT):
            raise err
        cause = err.cause
        error_type = cause.type if isinstance(cause, ApplicationError) and cause.type else \
            type(cause).__name__ if cause else "ActivityError"
        message = f"{what} not written: " + (getattr(cause, "message", None) or str(cause or err))
        phase_key = run.state.current_phase or run.template.phases[0].key
        async with run.incident_lock:
            run.incidents += 1
            run.state.incident = Incident(phase_key=phase_key, step=english("step_bookkeeping", what=what),
                                          step_key=step_key,
                                          error_type=error_type, message=message, at=workflow.now())
            run.state.status, run.resolution = ProcessStatus.incident, None
            run.upsert(sa.STATUS.value_set(ProcessStatus.incident.value))
            run.details(f"**incident**: {message}. Waiting for staff to retry, skip or abort.")
            try:
                await workflow.wait_condition(lambda: run.resolution is not None or (
                    run.abort is not None and not run.ending))
            finally:
                run.state.incident = None
                if not run.state.status.finished:
                    run.state.status = ProcessStatus.running
                    run.upsert(sa.STATUS.value_set(ProcessStatus.running.value))
        return run.resolution.action if run.resolution is not None else None

    async def attempt(self, ps: PhaseState, step: str, step_key: str, call: Step, *,
                      after: tuple[HistoryLine, ...] | list[HistoryLine] = (), carries: bool = True,
                      open_task: PhaseTaskOpening | None = None) -> Any:
        """Run a step, carrying the bookkeeping waiting in the ledger (unless `carries` is False: timers racing
        the phase); when it fails after its retries, open an incident and wait for staff.

        Returns the step's result, or None when staff skipped the step (or the phase).
        """
        run = self.run
        while True:
            books = run.ledger.take(owner_id=run.state.owner_id, after=after, open_task=open_task) \
                if run.carry and carries else None
            try:
                result = await call(books)
            except ActivityError as err:
                cause = err.cause
                error_type = (cause.type if isinstance(cause, ApplicationError) and cause.type
                              else type(cause).__name__ if cause else "ActivityError")
                message = getattr(cause, "message", None) or str(cause or err)
            else:
                if books is not None:
                    run.settle(books, result)
                return result
            if books is not None and books.start is not None and error_type == "ResponsibleNotFound":
                # the phase's responsible cannot be found: staff fix it and retry, or skip the lookup
                action = await self._wait_for_staff(ps, RESPONSIBLE_STEP, step_key, error_type, message,
                                                    hold_start=True)
                if action == "skip":
                    run.ledger.soften_start()
                if action is None:
                    return None
                continue
            if await self._wait_for_staff(ps, step, step_key, error_type, message) != "retry":
                return None

    async def _wait_for_staff(self, ps: PhaseState, step: str, step_key: str, error_type: str, message: str, *,
                              hold_start: bool = False) -> str | None:
        """Open an incident and wait for staff: "retry" or "skip" the step, or None when the phase was skipped
        meanwhile. Raises `Aborted` on abort."""
        run = self.run
        async with run.incident_lock:
            run.incidents += 1
            number = run.incidents
            incident = Incident(phase_key=ps.key, step=step, step_key=step_key, error_type=error_type,
                                message=message, at=workflow.now())
            run.state.incident, run.state.status, run.resolution = incident, ProcessStatus.incident, None
            run.upsert(sa.STATUS.value_set(ProcessStatus.incident.value))
            run.details(f"**incident** in phase **{ps.key}**, {step}: {error_type}. "
                        "Waiting for staff to retry, skip or abort.")
            collected = False
            try:
                await run.line(f"{run.state.workflow_id}/incident/{number}", HistoryKind.incident,
                               said("incident", phase=ps.name, step=step, message=message), phase_key=ps.key,
                               data={"error_type": error_type, "step_key": step_key})
                # the start of the phase is written with it (its responsible was found), unless that lookup failed
                await run.park(ps, with_start=not hold_start, in_incident=True)
                await workflow.wait_condition(lambda: run.resolution is not None or run.phase_interrupted(ps))
                resolution = run.resolution
            except GeneratorExit:
                collected = True  # a run its worker dropped, closed by Python's garbage collector: no workflow
                raise             # call can be made any more (temporalio/sdk-python#494)
            finally:
                run.state.incident = None
                if not run.state.status.finished and not collected:
                    run.state.status = ProcessStatus.running
                    run.upsert(sa.STATUS.value_set(ProcessStatus.running.value))
            run.check_abort()
            if resolution is not None:
                await run.line(f"{run.state.workflow_id}/incident/{number}/resolved",
                               HistoryKind.incident_resolved,
                               said(f"incident_{resolution.action}", step=step), phase_key=ps.key,
                               actor=resolution.actor)
                return None if run.phase_interrupted(ps) else resolution.action
            return None
