"""The template interpreter: what `ProcessWorkflow` does with one process, phase by phase.

Each phase waits for its start offset, runs its actions as activities and completes by
itself or when its task is completed. A deadline timer and reminder timers race the phase.
A step that fails after its retries becomes an incident: the process waits until staff
retry it, skip it or abort. Staff requests are updates whose validators refuse what cannot
apply (the handlers are in `workflows/process.py`, and call the methods here).

**One activity per step.** The engine's own bookkeeping (history lines, the phase's task
closed, its responsible looked up) does not get activities of its own: it rides along with
the next step (`workflows/ledger.py`, `activities/bookkeeping.py`), and the last step of a
phase also writes "phase done" (and "process ended") once it succeeded. What is left is
flushed before the process waits. A phase of one action costs what a hand-written workflow
calling that activity costs. Runs started before this (no `PATCH_CARRY` marker in their
history) keep the activity-per-line path, `self._carry` False.

**Imported through the sandbox's pass-through**, so a run does not re-import this module
(per-run imports cost each parked process its own copy of the code). It is workflow code
all the same: deterministic, no clock, randomness or I/O but through `temporalio.workflow`;
`tests/workflows/test_determinism_guard.py` checks its imports and calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ParentClosePolicy

from activities.bookkeeping import Bookkeeping, BookkeepingActivities, BookkeepingResult, HistoryLine, PhaseTaskOpening
from activities.decisions import DecideInput, DecideResult, DecisionActivities
from activities.follow_ups import FollowUpActivities, PrepareFollowUpInput
from activities.history import AddHistoryInput, HistoryActivities, RecordHistoryInput
from activities.loop_guard import LoopGuardActivities, LoopGuardInput
from activities.notices import NoticeActivities, OverdueNoticeInput, ReminderInput
from activities.record_values import RecordValuesActivities, SetStatusInput, WriteValuesInput
from activities.responsible import ResolveResponsibleInput, ResponsibleActivities
from activities.send_email import SendEmailActivities, SendEmailInput
from activities.step import ActionResult, StepInput
from activities.tasks import ClosePhaseTaskInput, CreateTaskInput, OpenPhaseTaskInput, ReassignTaskInput, TaskActivities
from crm.models import HistoryKind, TaskStatus
from processes.errors import InvalidPhaseState, NoIncident, PhaseNotFound, ProcessFinished, StagecoachError, did_you_mean
from processes.instance import (
    AbortRequest,
    ActionOutcome,
    ChangeOwnerRequest,
    CompletePhaseRequest,
    FollowUpState,
    Incident,
    PhaseState,
    PhaseStatus,
    ProcessInput,
    ProcessState,
    ProcessStatus,
    ResolveIncidentRequest,
    ResumeState,
    SkipPhaseRequest,
)
from processes.template import Action, Phase, Reminder
from workflows import search_attributes as sa
from workflows.ledger import Ledger

# Action steps: retried a few times, then an incident staff can see and act on.
ACTION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(minutes=1), maximum_attempts=5)
ACTION_TIMEOUT = timedelta(minutes=2)
# A worker that dies mid-step is noticed after this, not after ACTION_TIMEOUT: the worker heartbeats for
# every running step (activities/heartbeats.py), and the step is retried elsewhere under its step key.
ACTION_HEARTBEAT = timedelta(seconds=10)
# The engine's own bookkeeping (history lines, task rows) is retried until the database answers.
BOOKKEEPING_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                maximum_interval=timedelta(minutes=5))
BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
# The change that made bookkeeping ride along with steps; runs without its marker keep the old path.
PATCH_CARRY = "phase-steps-carry-bookkeeping"
# How many staff requests' IDs (their Idempotency-Keys) a process carries into its next run when it continues as
# new, so a retry sent after that is answered instead of applied again
UPDATE_IDS_CARRIED = 200

# action kind -> (activity method, its input model); reminders, follow-ups and end_process are handled apart
ACTION_ACTIVITIES: dict[str, tuple[Callable[..., Awaitable[ActionResult]], type[Any]]] = {
    "send_email": (SendEmailActivities.send_email, SendEmailInput),
    "create_task": (TaskActivities.create_task, CreateTaskInput),
    "write_values": (RecordValuesActivities.write_values, WriteValuesInput),
    "set_status": (RecordValuesActivities.set_status, SetStatusInput),
    "add_history": (HistoryActivities.add_history, AddHistoryInput),
}

Step = Callable[[Bookkeeping | None], Awaitable[Any]]  # runs a step's activity, carrying the bookkeeping given


class Aborted(Exception):
    """Unwinds the run when staff abort the process."""


@dataclass
class _Watcher:
    """A timer racing a phase (deadline, reminder) and what it does when it fires."""

    task: asyncio.Task[None] | None = None
    asleep: bool = True


def _refuse(error: type[StagecoachError], message: str) -> ApplicationError:
    return ApplicationError(message, type=error.__name__, non_retryable=True)


class ProcessInterpreter:
    def __init__(self, input: ProcessInput, child_run: Callable[..., Any]) -> None:
        self._input = input
        self._template = input.template
        self._child_run = child_run  # ProcessWorkflow.run, to start follow-ups
        self._carry = workflow.patched(PATCH_CARRY)
        self.state = ProcessState(
            workflow_id=workflow.info().workflow_id,
            template_key=input.template.key,
            template_name=input.template.name,
            template_version=input.template_version,
            record_id=input.record_id,
            owner_id=input.owner_id,
            started_by=input.started_by,
            phases=[PhaseState(key=p.key, name=p.name, manual=p.completion == "manual")
                    for p in input.template.phases],
            started_at=workflow.now(),
            lineage=input.lineage,
            parent_workflow_id=input.parent_workflow_id,
            origin=input.origin,
        )
        self._skip_requests: dict[str, SkipPhaseRequest] = {}
        self._complete_requests: dict[str, CompletePhaseRequest] = {}
        self._abort: AbortRequest | None = None
        self._resolution: ResolveIncidentRequest | None = None
        self._incident_lock = asyncio.Lock()
        self._incidents = 0
        self._owner_changes = 0
        self._end_reason: str | None = None
        self._closed = False  # the end is recorded: tasks closed, history written
        self._first_phase = 0
        self._phases_this_run = 0
        self._ledger = Ledger(input.record_id, self.state.workflow_id, f"process {input.template.key}")
        self._phase_attribute: str | None = input.template.phases[0].key  # StagecoachPhase as last set
        self._ended_written = False  # the last step wrote "process ended" with its own effect
        self._phase_written: dict[str, int] = {}  # phase key -> ledger item of its last "done"/"skipped" line
        self._update_ids: dict[str, None] = {}  # the IDs of the staff requests taken, oldest first (a set in order)
        if input.resume is not None:  # continued as new at a phase boundary: carry on from there
            resume = input.resume
            self.state = resume.state.model_copy(update={"runs": resume.state.runs + 1})
            self._first_phase = resume.next_phase
            self._incidents, self._owner_changes = resume.incidents, resume.owner_changes
            self._skip_requests = dict(resume.skip_requests)
            self._update_ids = dict.fromkeys(resume.update_ids)
            self._phase_attribute = None  # not known here: set again at the next wait

    # --- the run ---------------------------------------------------------------------

    async def run(self) -> ProcessState:
        input = self._input
        wf = self.state.workflow_id
        try:
            if input.resume is None:
                if input.origin != "manual" and await self._loop_guard_cancels():
                    return await self._finish(ProcessStatus.cancelled)
                await self._line(f"{wf}/process/started", HistoryKind.process_started,
                                 f"Process '{self._template.name}' (version {input.template_version}) started",
                                 actor=input.started_by)
                await self._wait_start_delay()
            index: int | None = self._first_phase
            while index is not None and self._end_reason is None and not self._ended_written:
                if self._history_is_long():
                    self._check_abort()  # an abort waits for the end of this run: end it, do not carry it on
                    await self._flush()  # nothing decided in this run is left for the next one to write
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    self._check_abort()
                    workflow.continue_as_new(self._resume_input(index))
                index = await self._run_phase(index)
            outcome = ProcessStatus.completed
            self.state.end_reason = self._end_reason
            await self._start_follow_ups()
        except Aborted:
            outcome = ProcessStatus.aborted
        except asyncio.CancelledError:
            # cancelled from the Temporal UI or CLI: recorded like an abort, then the run ends
            self._abort = AbortRequest(reason="cancelled through Temporal", actor="temporal")
            outcome = ProcessStatus.aborted
        if not self._carry and not workflow.patched("status-final-after-history"):
            self.state.status = outcome  # histories recorded before: the status changed before the history line
        return await self._finish(outcome)

    async def _finish(self, outcome: ProcessStatus) -> ProcessState:
        wf = self.state.workflow_id
        self.state.ended_at = workflow.now()
        self.state.current_phase = None
        for follow_up in self.state.follow_ups:
            if follow_up.status == "planned":
                follow_up.status = "dropped"  # the process did not complete: its follow-ups do not start
        if outcome is ProcessStatus.cancelled:
            pass  # the loop guard wrote its history line and sent its emails
        elif outcome is ProcessStatus.aborted:
            assert self._abort is not None
            self.state.end_reason = self._abort.reason
            self.state.ended_by = self._abort.actor
            for ps in self.state.phases:
                if ps.status in (PhaseStatus.running, PhaseStatus.waiting):
                    ps.status, ps.finished_at, ps.skip_reason = PhaseStatus.skipped, workflow.now(), "process aborted"
                    if ps.task_id is not None:
                        await self._close_task(ps.task_id, TaskStatus.cancelled, self._abort.actor)
            await self._line(f"{wf}/process/aborted", HistoryKind.process_aborted,
                             f"Process '{self._template.name}' aborted: {self._abort.reason}", actor=self._abort.actor)
        elif not self._ended_written:
            await self._line(f"{wf}/process/ended", HistoryKind.process_ended, self._ended_text(self.state.end_reason))
        await self._flush()
        # the status turns final only now, so whoever reads it finds the tasks closed and the history written
        self.state.status = outcome
        self._upsert(sa.STATUS.value_set(outcome.value), sa.PHASE.value_unset())
        workflow.set_current_details(f"**{outcome.value}** at {self.state.ended_at:%Y-%m-%d %H:%M} UTC")
        self._closed = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    def _ended_text(self, reason: str | None) -> str:
        return f"Process '{self._template.name}' ended" + (f": {reason}" if reason else "")

    async def _run_phase(self, index: int) -> int | None:
        """Run one phase; the index of the phase that comes next, or None at the end."""
        spec = self._template.phases[index]
        ps = self.state.phases[index]
        if ps.status.finished:  # a loop back: the phase runs again, with new step keys
            ps = self.state.phases[index] = PhaseState(key=ps.key, name=ps.name, manual=ps.manual,
                                                       iteration=ps.iteration + 1)
            self._skip_requests.pop(ps.key, None)
            self._complete_requests.pop(ps.key, None)
        self._phases_this_run += 1
        wf = self.state.workflow_id
        step = f"{wf}/{ps.key}"
        self.state.current_phase = ps.key
        if not self._carry:
            self._upsert(sa.PHASE.value_set(ps.key))

        if spec.start.delay and ps.key not in self._skip_requests:
            ps.status = PhaseStatus.waiting
            ps.starts_at = workflow.now() + spec.start.delay
            self._details(f"phase **{ps.key}** ({index + 1}/{len(self.state.phases)}) starts at "
                          f"{ps.starts_at:%Y-%m-%d %H:%M} UTC")
            await self._park(ps)
            try:
                await workflow.wait_condition(lambda: ps.key in self._skip_requests or self._abort is not None,
                                              timeout=spec.start.delay, timeout_summary=f"start of phase {ps.key}")
            except asyncio.TimeoutError:
                pass
            self._check_abort()
        if ps.key in self._skip_requests:
            await self._mark_skipped(ps, step)
            return self._following(index)

        ps.status = PhaseStatus.running
        ps.started_at = workflow.now()
        if spec.deadline_days:
            ps.deadline_at = ps.started_at + timedelta(days=spec.deadline_days)
        started = HistoryLine(step_key=f"{step}/started/{ps.iteration}", kind=HistoryKind.phase_started,
                              text=f"Phase '{ps.name}' started", phase_key=ps.key,
                              data={"deadline": ps.deadline_at.isoformat() if ps.deadline_at else None})
        if self._carry:  # the phase's first step looks up the responsible and writes the line
            self._ledger.begin_phase(spec.responsible, started)
        else:
            responsible = await self._attempt(ps, "responsible", f"{step}/responsible/{ps.iteration}",
                                              lambda _: workflow.execute_activity_method(
                                                  ResponsibleActivities.resolve_responsible,
                                                  ResolveResponsibleInput(responsible=spec.responsible,
                                                                          record_id=self.state.record_id,
                                                                          owner_id=self.state.owner_id),
                                                  start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                                                  retry_policy=ACTION_RETRY,
                                                  summary=f"responsible of phase {ps.key}"))
            self._responsible_found(ps, spec, responsible if isinstance(responsible, int) else None)
            await self._history(started.step_key, started.kind, started.text, phase_key=ps.key,
                                data={"responsible_id": ps.responsible_id, **started.data})

        watchers: list[_Watcher] = []
        if ps.deadline_at is not None:
            watchers.append(self._watch(ps, ps.deadline_at - workflow.now(), f"deadline of phase {ps.key}",
                                        lambda: self._notify_overdue(ps, spec)))
        for j, action in enumerate(spec.actions):
            if action.reminder is not None:
                watchers.append(self._watch(ps, action.reminder.delay, f"reminder {j} of phase {ps.key}",
                                            self._reminder_sender(ps, spec, j, action.reminder)))
        done_written = False
        try:
            done_written = await self._run_actions(index, spec, ps)
            if spec.completion == "manual" and not self._phase_interrupted(ps):
                await self._wait_for_completion(index, spec, ps)
            elif self._ledger.start is not None and not self._phase_interrupted(ps):
                await self._start_alone(ps)  # no step of its own: the lookup still may need staff
            if not self._ended_written:  # else the process has ended with its last step: too late to abort
                self._check_abort()
        finally:
            await self._stop_watchers(watchers)

        if done_written:  # the last step wrote "phase done": a skip that came meanwhile is too late
            ps.status, ps.finished_at = PhaseStatus.done, workflow.now()
            return self._following(index)
        if ps.key in self._skip_requests:
            await self._mark_skipped(ps, step)
            return self._following(index)
        if ps.task_id is not None:  # closed first: a caller told "done" finds the task done too
            completed_by = self._complete_requests.get(ps.key)
            await self._close_task(ps.task_id, TaskStatus.done, completed_by.actor if completed_by else "")
        ps.status, ps.finished_at = PhaseStatus.done, workflow.now()
        self._phase_written[ps.key] = await self._line(f"{step}/done/{ps.iteration}", HistoryKind.phase_done,
                                                       f"Phase '{ps.name}' done", phase_key=ps.key)
        if spec.decision and self._end_reason is None:
            return await self._decide(index, spec, ps)
        return self._following(index)

    def _following(self, index: int) -> int | None:
        """The phase after `index` when no decision says otherwise: its `next`, or the one below it."""
        spec = self._template.phases[index]
        if spec.next is not None:
            return self._template.phase_index(spec.next)
        return index + 1 if index + 1 < len(self._template.phases) else None

    async def _decide(self, index: int, spec: Phase, ps: PhaseState) -> int | None:
        step_key = f"{self.state.workflow_id}/{ps.key}/decision/{ps.iteration}"
        outcomes = {p.key: {"status": p.status.value, "overdue": p.overdue, "iteration": p.iteration}
                    for p in self.state.phases}
        following = self._following(index)
        assert spec.decision is not None
        result = await self._attempt(ps, "decision", step_key, lambda books: workflow.execute_activity_method(
            DecisionActivities.decide,
            DecideInput(step=self._step_input(ps, step_key, books), branches=spec.decision,
                        answers=self.state.answers, phases=outcomes, where=f"phases[{index}].decision",
                        otherwise=self._template.phases[following].key if following is not None else None),
            start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT,
            retry_policy=ACTION_RETRY, summary=f"decision · phase {ps.key}"))
        if isinstance(result, DecideResult) and result.branch is not None:
            ps.went_to = spec.decision[result.branch].goto
            return self._template.phase_index(ps.went_to)
        ps.went_to = self._template.phases[following].key if following is not None else None
        return following

    async def _run_actions(self, index: int, spec: Phase, ps: PhaseState) -> bool:
        """Run the phase's actions; whether its last step also wrote "phase done" (the phase is then over)."""
        last = max((j for j, a in enumerate(spec.actions) if a.kind in ACTION_ACTIVITIES), default=None)
        done_written = False
        for j, action in enumerate(spec.actions):
            if not done_written and self._phase_interrupted(ps):
                return False
            step_key = f"{self.state.workflow_id}/{ps.key}/{j}/{ps.iteration}"
            if action.reminder is not None:
                continue
            if action.start_follow_up is not None:
                follow_up = action.start_follow_up
                self.state.follow_ups.append(FollowUpState(step_key=step_key, template=follow_up.template,
                                                           action=follow_up,
                                                           start_delay_seconds=follow_up.start.delay.total_seconds()))
                ps.actions.append(ActionOutcome(index=j, kind=action.kind, status="done", step_key=step_key,
                                                summary=f"follow-up '{follow_up.template}' starts when the process "
                                                        "ends", at=workflow.now()))
                continue
            if action.end_process is not None:
                self._end_reason = action.end_process.reason or f"ended by phase '{ps.key}'"
                ps.actions.append(ActionOutcome(index=j, kind=action.kind, status="done", step_key=step_key,
                                                summary="process ends after this phase", at=workflow.now()))
                return done_written
            self._details(f"phase **{ps.key}** ({index + 1}/{len(self.state.phases)}): "
                          f"action {j} `{action.kind}`")
            after = self._phase_end_lines(index, spec, ps, j) \
                if self._carry and j == last and spec.completion == "automatic" else ()
            result = await self._attempt(ps, f"actions[{j}].{action.kind}", step_key,
                                         self._action_call(index, j, action, ps, step_key), after=after)
            ps.actions.append(ActionOutcome(
                index=j, kind=action.kind, step_key=step_key, at=workflow.now(),
                status="done" if isinstance(result, ActionResult) else "skipped",
                summary=result.summary if isinstance(result, ActionResult) else "skipped by staff after an incident"))
            if after and isinstance(result, ActionResult):  # only actions run in the workflow come after it
                done_written = True
                self._ended_written = any(line.kind is HistoryKind.process_ended for line in after)
        return done_written

    def _ending_reason(self, spec: Phase, j: int) -> str | None:
        """The reason of an `end_process` after action `j` of the phase (it ends the process with the phase)."""
        ending = next((a.end_process for a in spec.actions[j + 1:] if a.end_process is not None), None)
        return ending.reason or f"ended by phase '{spec.key}'" if ending is not None else None

    def _phase_end_lines(self, index: int, spec: Phase, ps: PhaseState, j: int) -> list[HistoryLine]:
        """What the success of the phase's last step means: the phase is done; the process ends, when
        nothing comes after (no phase, decision or follow-up)."""
        wf = self.state.workflow_id
        lines = [HistoryLine(step_key=f"{wf}/{ps.key}/done/{ps.iteration}", kind=HistoryKind.phase_done,
                             text=f"Phase '{ps.name}' done", phase_key=ps.key)]
        later = spec.actions[j + 1:]
        follow_ups = any(f.status == "planned" for f in self.state.follow_ups) or \
            any(a.start_follow_up is not None for a in later)
        reason = self._ending_reason(spec, j)
        if not follow_ups and (reason is not None or (not spec.decision and self._following(index) is None)):
            lines.append(HistoryLine(step_key=f"{wf}/process/ended", kind=HistoryKind.process_ended,
                                     text=self._ended_text(reason)))
        return lines

    def _action_call(self, index: int, j: int, action: Action, ps: PhaseState, step_key: str) -> Step:
        method, input_cls = ACTION_ACTIVITIES[action.kind]
        where = {"where": f"phases[{index}].actions[{j}].{action.kind}"} if "where" in input_cls.model_fields else {}
        return lambda books: workflow.execute_activity_method(
            method, input_cls(step=self._step_input(ps, step_key, books), action=action.spec, **where),
            start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT, retry_policy=ACTION_RETRY,
            summary=f"{action.kind} · phase {ps.key} · action {j}")

    async def _wait_for_completion(self, index: int, spec: Phase, ps: PhaseState) -> None:
        step_key = f"{self.state.workflow_id}/{ps.key}/task/{ps.iteration}"
        if self._carry:  # the task opens with what is left to write, the phase's start included
            opening = PhaseTaskOpening(step_key=step_key, phase_key=ps.key, title=f"{ps.name} ({self._template.name})",
                                       line=f"Task for phase '{ps.name}' assigned", due_at=ps.deadline_at,
                                       assignee_id=ps.responsible_id)
            result = await self._attempt(ps, "task", step_key, self._bookkeeping_call(f"task for phase {ps.key}"),
                                         open_task=opening)
            if isinstance(result, BookkeepingResult):
                ps.task_id = result.task_id
        else:
            ps.task_id = await workflow.execute_activity_method(
                TaskActivities.open_phase_task,
                OpenPhaseTaskInput(step=self._step_input(ps, step_key), due_at=ps.deadline_at),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
                summary=f"task for phase {ps.key}")
        until = f" (deadline {ps.deadline_at:%Y-%m-%d %H:%M} UTC)" if ps.deadline_at else ""
        self._details(f"phase **{ps.key}** ({index + 1}/{len(self.state.phases)}) waits for task "
                      f"#{ps.task_id} of user {ps.responsible_id}{until}")
        await self._park(ps)
        await workflow.wait_condition(lambda: ps.key in self._complete_requests or self._phase_interrupted(ps))

    async def _start_alone(self, ps: PhaseState) -> None:
        """A phase with no step of its own: its start (the responsible looked up, its line) is written now."""
        await self._attempt(ps, "responsible", f"{self.state.workflow_id}/{ps.key}/responsible/{ps.iteration}",
                            self._bookkeeping_call(f"start of phase {ps.key}"))

    def _phase_interrupted(self, ps: PhaseState) -> bool:
        return ps.key in self._skip_requests or self._abort is not None or self._end_reason is not None

    async def _mark_skipped(self, ps: PhaseState, step: str) -> None:
        request = self._skip_requests[ps.key]
        if ps.task_id is not None:  # closed first: a caller told "skipped" finds the task closed too
            await self._close_task(ps.task_id, TaskStatus.cancelled, request.actor)
        ps.status, ps.finished_at = PhaseStatus.skipped, workflow.now()
        ps.skip_reason = request.reason or None
        reason = f": {request.reason}" if request.reason else ""
        self._ledger.soften_start()  # a lookup that needed staff is moot once the phase is skipped
        self._phase_written[ps.key] = await self._line(f"{step}/skipped/{ps.iteration}", HistoryKind.phase_skipped,
                                                       f"Phase '{ps.name}' skipped{reason}", phase_key=ps.key,
                                                       actor=request.actor)

    # --- before the first phase, and after the last -------------------------------------

    async def _loop_guard_cancels(self) -> bool:
        """An automatic start past the daily limit of its template on its record is cancelled."""
        result = await workflow.execute_activity_method(
            LoopGuardActivities.apply_loop_guard,
            LoopGuardInput(workflow_id=self.state.workflow_id, template_key=self._template.key,
                           template_name=self._template.name, record_id=self.state.record_id,
                           owner_id=self.state.owner_id, controller_email=self._template.controller_email,
                           triggered_by_user_id=self._input.triggered_by_user_id),
            start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT,
            retry_policy=BOOKKEEPING_RETRY, summary="loop guard")
        if result.cancelled:
            self.state.end_reason, self.state.ended_by = result.reason, "loop guard"
            for ps in self.state.phases:
                ps.skip_reason = "process cancelled by the loop guard"
        return result.cancelled

    async def _wait_start_delay(self) -> None:
        delay = timedelta(seconds=self._input.start_delay_seconds)
        if not delay:
            return
        self._details(f"follow-up: the first phase starts at {workflow.now() + delay:%Y-%m-%d %H:%M} UTC")
        await self._flush()  # "process started" is in the history while the process waits
        try:
            await workflow.wait_condition(lambda: self._abort is not None, timeout=delay,
                                          timeout_summary="start of the follow-up")
        except asyncio.TimeoutError:
            pass
        self._check_abort()

    async def _start_follow_ups(self) -> None:
        """Start the planned follow-ups as children that live on after this process (ABANDON)."""
        wf = self.state.workflow_id
        for follow_up in self.state.follow_ups:
            if follow_up.status != "planned":
                continue
            try:
                plan = await workflow.execute_activity_method(
                    FollowUpActivities.prepare_follow_up,
                    PrepareFollowUpInput(step_key=follow_up.step_key, parent_workflow_id=wf,
                                         record_id=self.state.record_id, owner_id=self.state.owner_id,
                                         triggered_by_user_id=self._input.triggered_by_user_id,
                                         action=follow_up.action),
                    start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT,
                    retry_policy=ACTION_RETRY,
                    summary=f"prepare follow-up {follow_up.template}")
            except ActivityError as err:
                follow_up.status, follow_up.error = "failed", getattr(err.cause, "message", None) or str(err)
                await self._line(f"{follow_up.step_key}/failed", HistoryKind.follow_up_failed,
                                 f"Follow-up '{follow_up.template}' not started: {follow_up.error}")
                continue
            child = ProcessInput(template=plan.template, template_version=plan.template_version,
                                 record_id=plan.record_id, owner_id=plan.owner_id, started_by=f"follow-up of {wf}",
                                 lineage=[*self.state.lineage, wf], origin="follow_up",
                                 triggered_by_user_id=self._input.triggered_by_user_id,
                                 start_delay_seconds=follow_up.start_delay_seconds, parent_workflow_id=wf)
            await workflow.start_child_workflow(
                self._child_run, child, id=plan.workflow_id, task_queue=workflow.info().task_queue,
                parent_close_policy=ParentClosePolicy.ABANDON,
                search_attributes=sa.initial(plan.template.key, plan.record_id, plan.owner_id,
                                             plan.template.phases[0].key),
                static_summary=child.summary(), static_details=child.details())
            follow_up.status, follow_up.workflow_id = "started", plan.workflow_id
            await self._line(f"{follow_up.step_key}/started", HistoryKind.follow_up_started,
                             f"Follow-up process '{plan.template.name}' started: {plan.workflow_id}",
                             data={"workflow_id": plan.workflow_id, "record_id": plan.record_id})

    def _history_is_long(self) -> bool:
        """Continue as new at a phase boundary once the history grows large (never before a phase ran)."""
        if self._phases_this_run == 0:
            return False
        info = workflow.info()
        limit = self._input.history_limit
        return info.is_continue_as_new_suggested() or (limit is not None and
                                                       info.get_current_history_length() >= limit)

    def _resume_input(self, next_phase: int) -> ProcessInput:
        resume = ResumeState(state=self.state, next_phase=next_phase, incidents=self._incidents,
                             owner_changes=self._owner_changes, skip_requests=self._skip_requests,
                             update_ids=list(self._update_ids)[-UPDATE_IDS_CARRIED:])
        return self._input.model_copy(update={"resume": resume, "start_delay_seconds": 0})

    # --- timers racing a phase ----------------------------------------------------------

    def _watch(self, ps: PhaseState, delay: timedelta, summary: str,
               fire: Callable[[], Awaitable[None]]) -> _Watcher:
        watcher = _Watcher()

        async def run() -> None:
            await workflow.sleep(max(delay, timedelta(0)), summary=summary)
            watcher.asleep = False
            if not ps.status.finished:
                await fire()

        watcher.task = asyncio.create_task(run())
        return watcher

    async def _stop_watchers(self, watchers: list[_Watcher]) -> None:
        for watcher in watchers:
            assert watcher.task is not None
            if watcher.asleep or self.state.incident is not None:
                watcher.task.cancel()
            try:
                await watcher.task
            except asyncio.CancelledError:
                pass

    async def _notify_overdue(self, ps: PhaseState, spec: Phase) -> None:
        ps.overdue = True
        step_key = f"{self.state.workflow_id}/{ps.key}/overdue/{ps.iteration}"
        await self._attempt(ps, "deadline notice", step_key, lambda _: workflow.execute_activity_method(
            NoticeActivities.notify_overdue, OverdueNoticeInput(step=self._step_input(ps, step_key)),
            start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT, retry_policy=ACTION_RETRY,
            summary=f"overdue notice · phase {ps.key}"), carries=False)

    def _reminder_sender(self, ps: PhaseState, spec: Phase, j: int,
                         reminder: Reminder) -> Callable[[], Awaitable[None]]:
        async def send() -> None:
            step_key = f"{self.state.workflow_id}/{ps.key}/{j}/{ps.iteration}"
            index = self._template.phase_index(ps.key)
            result = await self._attempt(ps, f"actions[{j}].reminder", step_key,
                                         lambda _: workflow.execute_activity_method(
                                             NoticeActivities.send_reminder,
                                             ReminderInput(step=self._step_input(ps, step_key), action=reminder,
                                                           where=f"phases[{index}].actions[{j}].reminder"),
                                             start_to_close_timeout=ACTION_TIMEOUT, heartbeat_timeout=ACTION_HEARTBEAT,
                                             retry_policy=ACTION_RETRY,
                                             summary=f"reminder · phase {ps.key} · action {j}"), carries=False)
            if isinstance(result, ActionResult):
                ps.actions.append(ActionOutcome(index=j, kind="reminder", status="done", step_key=step_key,
                                                summary=result.summary, at=workflow.now()))
        return send

    # --- incidents -----------------------------------------------------------------------

    async def _attempt(self, ps: PhaseState, step: str, step_key: str, call: Step, *,
                       after: tuple[HistoryLine, ...] | list[HistoryLine] = (), carries: bool = True,
                       open_task: PhaseTaskOpening | None = None) -> Any:
        """Run a step, carrying the bookkeeping waiting in the ledger (unless `carries` is False: timers racing
        the phase); when it fails after its retries, open an incident and wait for staff.

        Returns the step's result, or None when staff skipped the step (or the phase).
        """
        while True:
            books = self._ledger.take(owner_id=self.state.owner_id, after=after, open_task=open_task) \
                if self._carry and carries else None
            try:
                result = await call(books)
            except ActivityError as err:
                cause = err.cause
                error_type = (cause.type if isinstance(cause, ApplicationError) and cause.type
                              else type(cause).__name__ if cause else "ActivityError")
                message = getattr(cause, "message", None) or str(cause or err)
            else:
                if books is not None:
                    self._settle(books, result)
                return result
            if books is not None and books.start is not None and error_type == "ResponsibleNotFound":
                # the phase's responsible cannot be found: staff fix it and retry, or skip the lookup
                action = await self._incident(ps, "responsible", step_key, error_type, message, hold_start=True)
                if action == "skip":
                    self._ledger.soften_start()
                if action is None:
                    return None
                continue
            if await self._incident(ps, step, step_key, error_type, message) != "retry":
                return None

    async def _incident(self, ps: PhaseState, step: str, step_key: str, error_type: str, message: str, *,
                        hold_start: bool = False) -> str | None:
        """Wait for staff: "retry" or "skip" the step, or None when the phase was skipped meanwhile.
        Raises `Aborted` on abort."""
        async with self._incident_lock:
            self._incidents += 1
            number = self._incidents
            incident = Incident(phase_key=ps.key, step=step, step_key=step_key, error_type=error_type,
                                message=message, at=workflow.now())
            self.state.incident, self.state.status, self._resolution = incident, ProcessStatus.incident, None
            self._upsert(sa.STATUS.value_set(ProcessStatus.incident.value))
            self._details(f"**incident** in phase **{ps.key}**, {step}: {error_type}. "
                          "Waiting for staff to retry, skip or abort.")
            try:
                await self._line(f"{self.state.workflow_id}/incident/{number}", HistoryKind.incident,
                                 f"Incident in phase '{ps.name}' at {step}: {message}", phase_key=ps.key,
                                 data={"error_type": error_type, "step_key": step_key})
                # the start of the phase is written with it (its responsible was found), unless that lookup failed
                await self._park(ps, with_start=not hold_start)
                await workflow.wait_condition(lambda: self._resolution is not None or self._phase_interrupted(ps))
                resolution = self._resolution
            finally:
                self.state.incident = None
                if not self.state.status.finished:
                    self.state.status = ProcessStatus.running
                    self._upsert(sa.STATUS.value_set(ProcessStatus.running.value))
            self._check_abort()
            if resolution is not None:
                await self._line(f"{self.state.workflow_id}/incident/{number}/resolved",
                                 HistoryKind.incident_resolved,
                                 f"Incident at {step} resolved: {resolution.action}", phase_key=ps.key,
                                 actor=resolution.actor)
                return None if self._phase_interrupted(ps) else resolution.action
            return None

    # --- staff requests (the handlers are ProcessWorkflow's) ---------------------------------

    def already_taken(self) -> bool:
        """The staff request being validated or handled has an ID the process has taken before.

        Temporal answers a request whose ID the current run has seen with that request's outcome, so
        only one taken by an earlier run gets here: before the process continued as new, where a
        retried "skip the current phase" would skip the next one. Such a request is accepted and
        answered with the process as it is now, and changes nothing."""
        info = workflow.current_update_info()
        return info is not None and info.id in self._update_ids

    def take_update(self) -> bool:
        """Whether the staff request being handled is to be applied (see `already_taken`); its ID is
        remembered for the runs to come."""
        if self.already_taken():
            return False
        info = workflow.current_update_info()
        if info is not None:
            self._update_ids[info.id] = None
        return True

    async def skip_phase(self, request: SkipPhaseRequest) -> ProcessState:
        key = request.phase or self.state.current_phase
        assert key is not None
        self._skip_requests.setdefault(key, request)
        ps = self.state.phase(key)
        assert ps is not None
        if key == self.state.current_phase:
            await workflow.wait_condition(lambda: self._phase_recorded(ps) or self.state.status.finished)
        return self.state

    def validate_skip_phase(self, request: SkipPhaseRequest) -> None:
        self._refuse_if_finished()
        ps = self._target_phase(request.phase, "skip")
        if ps.status.finished:
            raise _refuse(InvalidPhaseState, f"phase '{ps.key}' is already {ps.status.value}")

    async def complete_phase(self, request: CompletePhaseRequest) -> ProcessState:
        key = request.phase or self.state.current_phase
        assert key is not None
        if key not in self._complete_requests:
            self._complete_requests[key] = request
            self.state.answers.update(request.answers)
        ps = self.state.phase(key)
        assert ps is not None
        await workflow.wait_condition(lambda: self._phase_recorded(ps) or self.state.status.finished)
        return self.state

    def validate_complete_phase(self, request: CompletePhaseRequest) -> None:
        self._refuse_if_finished()
        ps = self._target_phase(request.phase, "complete")
        if ps.status is not PhaseStatus.running:
            raise _refuse(InvalidPhaseState, f"phase '{ps.key}' is {ps.status.value}, not running")
        if not ps.manual:
            raise _refuse(InvalidPhaseState, f"phase '{ps.key}' completes by itself when its actions are done")
        if request.task_id is not None and ps.task_id != request.task_id:
            raise _refuse(InvalidPhaseState, f"task {request.task_id} is not the task of phase '{ps.key}'")

    def _phase_recorded(self, ps: PhaseState) -> bool:
        """The phase is over and that is written: its task closed, its last line in the history."""
        return ps.status.finished and self._ledger.written >= self._phase_written.get(ps.key, 0)

    async def abort(self, request: AbortRequest) -> ProcessState:
        if self._abort is None:
            self._abort = request
        if self._carry or workflow.patched("abort-answers-when-recorded"):
            # answer once the tasks are cancelled and the history written: a caller told "aborted" finds them so
            await workflow.wait_condition(lambda: self._closed)
        else:  # how histories recorded before the patch completed the update
            await workflow.wait_condition(lambda: self.state.status.finished)
        return self.state

    def validate_abort(self, request: AbortRequest) -> None:
        self._refuse_if_finished()

    async def change_owner(self, request: ChangeOwnerRequest) -> ProcessState:
        previous = self.state.owner_id
        if request.owner_id == previous:
            return self.state
        self.state.owner_id = request.owner_id
        self._owner_changes += 1
        self._upsert(sa.OWNER.value_set(str(request.owner_id)))
        current = self.state.phase(self.state.current_phase) if self.state.current_phase else None
        index = self._template.phase_index(current.key) if current else None
        if (current is not None and index is not None and current.status is PhaseStatus.running
                and self._template.phases[index].responsible.kind == "process_owner"):
            current.responsible_id = request.owner_id
            if current.task_id is not None:
                await workflow.execute_activity_method(
                    TaskActivities.reassign_task, ReassignTaskInput(task_id=current.task_id,
                                                                    assignee_id=request.owner_id),
                    start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
                    summary=f"reassign task {current.task_id}")
        await self._history(f"{self.state.workflow_id}/owner/{self._owner_changes}", HistoryKind.owner_changed,
                            f"Process owner changed from user {previous} to user {request.owner_id}",
                            actor=request.actor, data={"from": previous, "to": request.owner_id})
        return self.state

    def validate_change_owner(self, request: ChangeOwnerRequest) -> None:
        self._refuse_if_finished()

    async def resolve_incident(self, request: ResolveIncidentRequest) -> ProcessState:
        incident = self.state.incident
        self._resolution = request
        await workflow.wait_condition(lambda: self.state.incident is not incident)
        return self.state

    def validate_resolve_incident(self, request: ResolveIncidentRequest) -> None:
        self._refuse_if_finished()
        if self.state.incident is None:
            raise _refuse(NoIncident, "the process has no open incident")

    def _refuse_if_finished(self) -> None:
        if self.state.status.finished or self._abort is not None:
            raise _refuse(ProcessFinished, f"the process has ended ({self.state.status.value})"
                          if self.state.status.finished else "the process is being aborted")

    def _target_phase(self, key: str | None, verb: str) -> PhaseState:
        key = key or self.state.current_phase
        if key is None:
            raise _refuse(InvalidPhaseState, f"no phase is current; name the phase to {verb}")
        ps = self.state.phase(key)
        if ps is None:
            raise _refuse(PhaseNotFound, f"no phase '{key}' in template '{self._template.key}'"
                          f"{did_you_mean(key, [p.key for p in self.state.phases])}")
        return ps

    # --- helpers -----------------------------------------------------------------------

    def _check_abort(self) -> None:
        if self._abort is not None:
            raise Aborted()

    def _step_input(self, ps: PhaseState, step_key: str, books: Bookkeeping | None = None) -> StepInput:
        return StepInput(
            step_key=step_key, workflow_id=self.state.workflow_id, record_id=self.state.record_id,
            owner_id=self.state.owner_id, template_key=self._template.key, template_name=self._template.name,
            template_version=self.state.template_version, controller_email=self._template.controller_email,
            process_started_at=self.state.started_at, phase_key=ps.key, phase_name=ps.name,
            phase_started_at=ps.started_at, phase_deadline=ps.deadline_at, responsible_id=ps.responsible_id,
            books=books)

    def _bookkeeping_call(self, summary: str) -> Step:
        """A step of bookkeeping alone (a phase's task, or its start when it has no step of its own)."""
        async def call(books: Bookkeeping | None) -> BookkeepingResult:
            if books is None:  # an incident's flush wrote it already
                return BookkeepingResult()
            return await workflow.execute_activity_method(
                BookkeepingActivities.record_bookkeeping, books, start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                retry_policy=ACTION_RETRY, summary=summary)
        return call

    def _settle(self, books: Bookkeeping, result: Any) -> None:
        """A step carried `books` and succeeded: they are written; the phase it started has its responsible."""
        self._ledger.settle(books)
        if books.start is not None and books.start.line.phase_key is not None:
            ps = self.state.phase(books.start.line.phase_key)
            assert ps is not None
            self._responsible_found(ps, self._template.phases[self._template.phase_index(ps.key)],
                                    getattr(result, "responsible_id", None))

    def _responsible_found(self, ps: PhaseState, spec: Phase, responsible_id: int | None) -> None:
        ps.responsible_id = responsible_id
        if spec.responsible.kind == "process_owner" and responsible_id is not None:
            ps.responsible_id = self.state.owner_id  # an owner change during the lookup wins

    async def _flush(self, *, with_start: bool = True) -> None:
        """Write what the ledger holds now (before the process waits, or as it ends). A phase start it
        carries is written even when its responsible cannot be found (nobody is responsible then)."""
        if not self._carry:
            return
        books = self._ledger.take(owner_id=self.state.owner_id, with_start=with_start, soft_start=True)
        if books is None:
            return
        result = await workflow.execute_activity_method(
            BookkeepingActivities.record_bookkeeping, books, start_to_close_timeout=BOOKKEEPING_TIMEOUT,
            retry_policy=BOOKKEEPING_RETRY, summary=f"history: {len(books.lines) + len(books.after)} lines")
        self._settle(books, result)

    async def _line(self, step_key: str, kind: HistoryKind, text: str, *, phase_key: str | None = None,
                    actor: str = "", data: dict[str, Any] | None = None) -> int:
        """A line of the engine's own in the record's history: into the ledger, for the next step to carry
        (runs from before `PATCH_CARRY`: written at once). Its ledger number."""
        if self._carry:
            return self._ledger.line(step_key, kind, text, phase_key=phase_key,
                                     actor=actor or f"process {self._template.key}", data=data)
        await self._history(step_key, kind, text, phase_key=phase_key, actor=actor, data=data)
        return 0

    async def _history(self, step_key: str, kind: HistoryKind, text: str, *, phase_key: str | None = None,
                       actor: str = "", data: dict[str, Any] | None = None) -> None:
        """A line written at once (an update handler's, or any from runs before `PATCH_CARRY`)."""
        await workflow.execute_activity_method(
            HistoryActivities.record_history,
            RecordHistoryInput(step_key=step_key, record_id=self.state.record_id, kind=kind, text=text,
                               workflow_id=self.state.workflow_id, phase_key=phase_key,
                               actor=actor or f"process {self._template.key}", data=data or {}),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
            summary=f"history: {kind.value}")

    async def _close_task(self, task_id: int, status: TaskStatus, actor: str) -> None:
        if self._carry:
            self._ledger.close_task(task_id, status, actor)
            return
        await workflow.execute_activity_method(
            TaskActivities.close_phase_task, ClosePhaseTaskInput(task_id=task_id, status=status, actor=actor),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
            summary=f"close task {task_id} ({status.value})")

    async def _park(self, ps: PhaseState, *, with_start: bool = True) -> None:
        """The process is about to wait: what it decided is written, and the process list shows the phase it
        waits in (runs from before `PATCH_CARRY` set the phase as each one began)."""
        if not self._carry:
            return
        await self._flush(with_start=with_start)
        if self._phase_attribute != ps.key:
            self._phase_attribute = ps.key
            self._upsert(sa.PHASE.value_set(ps.key))

    def _upsert(self, *updates: Any) -> None:
        workflow.upsert_search_attributes(list(updates))

    def _details(self, text: str) -> None:
        workflow.set_current_details(text)
