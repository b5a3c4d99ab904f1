"""Running one phase: its start, its actions, its completion, and which phase comes next.

A phase waits for its start offset (a durable timer a skip or an abort cuts short), starts (its
responsible looked up by its first step, its "started" line written with it), runs its actions
(`workflows/actions.py`) with its deadline and reminders racing it (`workflows/timers.py`), and
completes: by itself, or when its task is completed (a manual phase). Then it is written done (or
skipped), and its `decision`, if any, picks the phase that comes next. A phase that runs again (a
loop back) gets a fresh state and new step keys.

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow

from activities.bookkeeping import BookkeepingResult, HistoryLine, PhaseTaskOpening, task_line
from activities.decisions import DecideInput, DecideResult, DecisionActivities
from activities.responsible import ResolveResponsibleInput, ResponsibleActivities
from activities.signing.request import ExpireSignaturesInput, SignatureActivities
from activities.tasks import OpenPhaseTaskInput, TaskActivities
from crm.models import HistoryKind, TaskStatus
from processes.history_words import english, said
from processes.instance import PhaseState, PhaseStatus
from processes.template import Phase
from workflows import search_attributes as sa
from workflows.actions import Actions
from workflows.appointments import cancel_appointments
from workflows.incidents import DECISION_STEP, RESPONSIBLE_STEP, TASK_STEP, Incidents
from workflows.first_attempt import run_step
from workflows.requests_cancelled import cancel_requests
from workflows.signatures_cancelled import PATCH_SIGNATURES_ENDED, cancel_signatures
from workflows.run import (
    ACTION_HEARTBEAT,
    ACTION_RETRY,
    ACTION_TIMEOUT,
    BOOKKEEPING_RETRY,
    BOOKKEEPING_TIMEOUT,
    Run,
)
from workflows.timers import Timers
from workflows.unanswered import Unanswered

# An automatic phase whose last step wrote "phase done" went on to the next phase without its decision; runs
# from before this change (no marker in their history) keep doing so, as they did.
PATCH_DECIDE_AFTER_LAST_STEP = "decide-after-the-step-that-ended-the-phase"
# A phase that sent client requests with auto-move waits for their answers (signal `client_request_submitted`).
PATCH_WAIT_FOR_ANSWERS = "phase-waits-for-client-requests"
# A phase that sent a document for signature waits for its outcome (signal `signature_completed`), or its expiry.
PATCH_WAIT_FOR_SIGNATURE = "phase-waits-for-signatures"


class Phases:
    def __init__(self, run: Run, incidents: Incidents) -> None:
        self.run, self.incidents = run, incidents
        self.actions = Actions(run, incidents)
        self.timers = Timers(run, incidents)
        self.unanswered = Unanswered(run, incidents)  # its client requests that end unanswered

    def _start_wait(self, spec: Phase) -> timedelta:
        """How long the phase waits before it starts: its span, counted from now (the previous phase's end) or
        from the process's start (`since: process_start`; none left when that time has passed)."""
        if spec.start.since == "process_start":
            return max(self.run.state.started_at + spec.start.delay - workflow.now(), timedelta())
        return spec.start.delay

    async def run_phase(self, index: int) -> int | None:
        """Run one phase; the index of the phase that comes next, or None at the end."""
        run = self.run
        spec = run.template.phases[index]
        ps = run.state.phases[index]
        if ps.status.finished:  # a loop back: the phase runs again, with new step keys
            ps = run.state.phases[index] = PhaseState(key=ps.key, name=ps.name, manual=ps.manual,
                                                      iteration=ps.iteration + 1)
            run.skip_requests.pop(ps.key, None)
            run.complete_requests.pop(ps.key, None)
        run.phases_this_run += 1
        wf = run.state.workflow_id
        step = f"{wf}/{ps.key}"
        run.state.current_phase = ps.key
        if not run.carry:
            run.upsert(sa.PHASE.value_set(ps.key))

        wait = self._start_wait(spec)
        if wait and ps.key not in run.skip_requests:
            ps.status = PhaseStatus.waiting
            ps.starts_at = workflow.now() + wait
            run.details(f"phase **{ps.key}** ({index + 1}/{len(run.state.phases)}) starts at "
                        f"{ps.starts_at:%Y-%m-%d %H:%M} UTC")
            await run.park(ps)
            try:
                await workflow.wait_condition(lambda: ps.key in run.skip_requests or run.abort is not None,
                                              timeout=wait, timeout_summary=f"start of phase {ps.key}")
            except asyncio.TimeoutError:
                pass
            run.check_abort()
        if ps.key in run.skip_requests:
            await self._mark_skipped(ps, step)
            return run.following(index)

        ps.status = PhaseStatus.running
        ps.started_at = workflow.now()
        if spec.deadline_days:
            ps.deadline_at = ps.started_at + timedelta(days=spec.deadline_days)
        started = HistoryLine.saying(said("phase_started", phase=ps.name), step_key=f"{step}/started/{ps.iteration}",
                                     kind=HistoryKind.phase_started, phase_key=ps.key,
                              data={"deadline": ps.deadline_at.isoformat() if ps.deadline_at else None})
        if run.carry:  # the phase's first step looks up the responsible and writes the line
            run.ledger.begin_phase(spec.responsible, started)
        else:
            responsible = await self.incidents.attempt(ps, RESPONSIBLE_STEP, f"{step}/responsible/{ps.iteration}",
                                                       lambda _: workflow.execute_activity_method(
                                                           ResponsibleActivities.resolve_responsible,
                                                           ResolveResponsibleInput(responsible=spec.responsible,
                                                                                   record_id=run.state.record_id,
                                                                                   owner_id=run.state.owner_id),
                                                           start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                                                           retry_policy=ACTION_RETRY,
                                                           summary=f"responsible of phase {ps.key}"))
            run.responsible_found(ps, spec, responsible if isinstance(responsible, int) else None)
            await run.history(started.step_key, started.kind, said("phase_started", phase=ps.name), phase_key=ps.key,
                              data={"responsible_id": ps.responsible_id, **started.data})

        watchers = self.timers.start(ps, spec)
        done_written = collected = False
        try:
            done_written = await self.actions.run_all(index, spec, ps)
            if spec.completion == "manual" and not run.phase_interrupted(ps):
                await self._wait_for_completion(index, spec, ps)
            elif run.ledger.start is not None and not run.phase_interrupted(ps):
                await self._start_alone(ps)  # no step of its own: the lookup still may need staff
            if spec.completion != "manual" and ps.waiting_requests and not run.phase_interrupted(ps) \
                    and run.patched(PATCH_WAIT_FOR_ANSWERS):
                await self._wait_for_answers(index, ps)
            if ps.waiting_signatures and not run.phase_interrupted(ps) and run.patched(PATCH_WAIT_FOR_SIGNATURE):
                await self._wait_for_signatures(index, ps)
            if not run.ended_written:  # else the process has ended with its last step: too late to abort
                run.check_abort()
        except GeneratorExit:
            collected = True  # garbage-collected after its worker dropped it: nothing to stop (incidents.py)
            raise
        finally:
            if not collected:
                await self.timers.stop(watchers)

        if done_written:  # the last step wrote "phase done": a skip that came meanwhile is too late
            # at the time the step wrote the process's end with, when it did (PATCH_LAST_STEP_ENDS)
            ps.status = PhaseStatus.done
            ps.finished_at = run.step_ended.ended_at if run.step_ended is not None else workflow.now()
            if spec.decision and run.end_reason is None and run.patched(PATCH_DECIDE_AFTER_LAST_STEP):
                return await self._decide(index, spec, ps)
            return run.following(index)
        if ps.key in run.skip_requests:
            await self._mark_skipped(ps, step)
            return run.following(index)
        if ps.task_id is not None:  # closed first: a caller told "done" finds the task done too
            completed_by = run.complete_requests.get(ps.key)
            await run.close_task(ps.task_id, TaskStatus.done, completed_by.actor if completed_by else
                                 "client" if run.answered(ps) else "")
        ps.status, ps.finished_at = PhaseStatus.done, workflow.now()
        done = "phase_done_answered" if run.answered(ps) and ps.key not in run.complete_requests else \
            f"phase_done_{ps.signature}" if ps.signature is not None else "phase_done"
        run.phase_written[ps.key] = await run.line(f"{step}/done/{ps.iteration}", HistoryKind.phase_done,
                                                   said(done, phase=ps.name), phase_key=ps.key)
        if run.end_reason is not None:  # an `end_process` after a request_signature: nobody waits for the signer
            await cancel_signatures(run, [ps], english("reason_process_ended_why", reason=run.end_reason),
                                    f"process {run.template.key}", PATCH_SIGNATURES_ENDED)
            await cancel_requests(run, [ps], english("reason_process_ended_why", reason=run.end_reason),
                                  f"process {run.template.key}")
        if spec.decision and run.end_reason is None:
            return await self._decide(index, spec, ps)
        return run.following(index)

    async def _decide(self, index: int, spec: Phase, ps: PhaseState) -> int | None:
        run = self.run
        step_key = f"{run.state.workflow_id}/{ps.key}/decision/{ps.iteration}"
        outcomes = run.outcomes()
        following = run.following(index)
        assert spec.decision is not None
        result = await self.incidents.attempt(ps, DECISION_STEP, step_key, lambda books: (
            run_step(
                run.local_first, DecisionActivities.decide,
                DecideInput(step=run.step_input(ps, step_key, books), branches=spec.decision,
                            answers=run.state.answers, phases=outcomes, where=f"phases[{index}].decision",
                            otherwise=run.template.phases[following].key if following is not None else None),
                start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT,
                retry_policy=ACTION_RETRY, summary=f"decision · phase {ps.key}")))
        if isinstance(result, DecideResult) and result.branch is not None:
            ps.went_to = spec.decision[result.branch].goto
            return run.template.phase_index(ps.went_to)
        ps.went_to = run.template.phases[following].key if following is not None else None
        return following

    async def _wait_for_completion(self, index: int, spec: Phase, ps: PhaseState) -> None:
        run = self.run
        step_key = f"{run.state.workflow_id}/{ps.key}/task/{ps.iteration}"
        if run.carry:  # the task opens with what is left to write, the phase's start included
            opening = PhaseTaskOpening(step_key=step_key, phase_key=ps.key, title=f"{ps.name} ({run.template.name})",
                                       **task_line(said("phase_task", phase=ps.name)), due_at=ps.deadline_at,
                                       assignee_id=ps.responsible_id)
            result = await self.incidents.attempt(ps, TASK_STEP, step_key,
                                                  run.bookkeeping_call(f"task for phase {ps.key}"),
                                                  open_task=opening)
            if isinstance(result, BookkeepingResult):
                ps.task_id = result.task_id
        else:
            ps.task_id = await workflow.execute_activity_method(
                TaskActivities.open_phase_task,
                OpenPhaseTaskInput(step=run.step_input(ps, step_key), due_at=ps.deadline_at),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
                summary=f"task for phase {ps.key}")
        until = f" (deadline {ps.deadline_at:%Y-%m-%d %H:%M} UTC)" if ps.deadline_at else ""
        run.details(f"phase **{ps.key}** ({index + 1}/{len(run.state.phases)}) waits for task "
                    f"#{ps.task_id} of user {ps.responsible_id}{until}")
        await run.park(ps)
        await self.unanswered.wait(ps, lambda: ps.key in run.complete_requests or run.phase_interrupted(ps)
                                   or run.answered(ps))

    async def _wait_for_answers(self, index: int, ps: PhaseState) -> None:
        """An automatic phase that sent client requests with auto-move: done when the client has answered them all
        (a submission that came before is counted: `Run.requests_answered`); a skip or an abort ends the wait. A request
        that ends unanswered gives the responsible a task, whose completion completes the phase (`unanswered.py`)."""
        run = self.run
        run.details(f"phase **{ps.key}** ({index + 1}/{len(run.state.phases)}) waits for the client's answers to "
                    + ", ".join(f"request #{r}" for r in ps.waiting_requests))
        await run.park(ps)
        # completed by staff: only once a request ended unanswered (workflows/unanswered.py; refused before)
        await self.unanswered.wait(ps, lambda: run.answered(ps) or run.phase_interrupted(ps)
                                   or ps.key in run.complete_requests)

    async def _wait_for_signatures(self, index: int, ps: PhaseState) -> None:
        """A phase that sent documents for signature: done when the provider told each one's outcome (signed,
        declined, expired); one still open when it expires counts as expired. The phase's `signature` is the worst
        outcome (declined, then expired, then signed): its `decision` reads it as `phases.<key>.signature`."""
        run = self.run
        expiry = max(datetime.fromisoformat(run.signature_expiry[s]) for s in ps.waiting_signatures
                     if s in run.signature_expiry) if any(s in run.signature_expiry for s in ps.waiting_signatures) \
            else None
        run.details(f"phase **{ps.key}** ({index + 1}/{len(run.state.phases)}) waits for the signature of "
                    + ", ".join(f"request #{s}" for s in ps.waiting_signatures))
        await run.park(ps)
        timeout = max(expiry - workflow.now(), timedelta(seconds=1)) if expiry is not None else None
        try:
            await workflow.wait_condition(lambda: run.signed(ps) or run.phase_interrupted(ps), timeout=timeout,
                                          timeout_summary=f"signature expiry · phase {ps.key}")
        except asyncio.TimeoutError:
            open_ones = [s for s in ps.waiting_signatures if s not in run.signatures]
            for s in open_ones:
                run.signatures.setdefault(s, "expired")
            await workflow.execute_activity_method(
                SignatureActivities.expire_signatures, ExpireSignaturesInput(signature_ids=open_ones),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
                summary=f"signatures expired · phase {ps.key}")
        if run.signed(ps):
            outcomes = {run.signatures[s] for s in ps.waiting_signatures}
            ps.signature = next(o for o in ("declined", "expired", "signed") if o in outcomes)  # type: ignore[assignment]

    async def _start_alone(self, ps: PhaseState) -> None:
        """A phase with no step of its own: its start (the responsible looked up, its line) is written now."""
        await self.incidents.attempt(ps, RESPONSIBLE_STEP,
                                     f"{self.run.state.workflow_id}/{ps.key}/responsible/{ps.iteration}",
                                     self.run.bookkeeping_call(f"start of phase {ps.key}"))

    async def _mark_skipped(self, ps: PhaseState, step: str) -> None:
        run = self.run
        request = run.skip_requests[ps.key]
        if ps.task_id is not None:  # closed first: a caller told "skipped" finds the task closed too
            await run.close_task(ps.task_id, TaskStatus.cancelled, request.actor)
        ps.status, ps.finished_at = PhaseStatus.skipped, workflow.now()
        ps.skip_reason = request.reason or None
        run.ledger.soften_start()  # a lookup that needed staff is moot once the phase is skipped
        run.phase_written[ps.key] = await run.line(f"{step}/skipped/{ps.iteration}", HistoryKind.phase_skipped,
                                                   said("phase_skipped_why", phase=ps.name, reason=request.reason)
                                                   if request.reason else said("phase_skipped", phase=ps.name),
                                                   phase_key=ps.key,
                                                   actor=request.actor)
        await cancel_appointments([ps], "phase_skipped", request.reason or "", run.patched, phase=ps.name)
        await cancel_signatures(run, [ps], english("reason_phase_skipped_why", phase=ps.name, reason=request.reason)
                                if request.reason else english("reason_phase_skipped", phase=ps.name), request.actor)
        await cancel_requests(run, [ps], english("reason_phase_skipped_why", phase=ps.name, reason=request.reason)
                              if request.reason else english("reason_phase_skipped", phase=ps.name), request.actor)
