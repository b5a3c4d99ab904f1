"""One run of a process: what the interpreter's rooms share, and how they write it down.

`Run` holds the process's state (`ProcessState`, what the query answers) and the run's own
bookkeeping: the staff requests taken and waiting to apply, the open incident's resolution, the
counters that make step keys unique, and the ledger of what is decided but not yet written. The
rooms (`phases`, `timers`, `incidents`, `staff_requests`, `follow_ups`, `continuing`) hold no
state of their own: they act on one `Run`, so what a process carries into its next run is exactly
what `workflows/continuing.py` copies out of it.

How it writes: a history line goes into the ledger for the next step to carry (`line`), or at once
(`history`: update handlers, and runs from before `PATCH_CARRY`). Before the process waits it
`park`s: what is left is flushed and the process list shows the phase it waits in.

Also here: the retry policies and timeouts of steps, and `Aborted`, which unwinds a run when
staff abort it. Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from activities.bookkeeping import Bookkeeping, BookkeepingActivities, BookkeepingResult, RunEnd, StepEnd
from activities.history import HistoryActivities, RecordHistoryInput
from activities.step import StepInput
from activities.tasks import ClosePhaseTaskInput, TaskActivities
from crm.models import HistoryKind, TaskStatus
from processes.instance import (
    AbortRequest,
    CompletePhaseRequest,
    PhaseState,
    ProcessInput,
    ProcessState,
    ResolveIncidentRequest,
    SignatureOutcome,
    SkipPhaseRequest,
)
from processes.template import Phase
from processes.history_words import Said, english, said
from processes.wording import counted
from workflows import search_attributes as sa
from workflows.first_attempt import run_step
from workflows.ledger import Ledger

# Action steps: retried a few times, then an incident staff can see and act on.
ACTION_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                           maximum_interval=timedelta(minutes=1), maximum_attempts=5)
ACTION_TIMEOUT = timedelta(minutes=2)
# A worker that dies mid-step is noticed after this, not after ACTION_TIMEOUT: the worker heartbeats for
# every running step (activities/heartbeats.py), and the step is retried elsewhere under its step key.
ACTION_HEARTBEAT = timedelta(seconds=10)
# The engine's own bookkeeping in update handlers and in runs from before PATCH_CARRY is retried until the
# database answers.
BOOKKEEPING_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                maximum_interval=timedelta(minutes=5))
# The process's own bookkeeping (what it flushes, the loop guard) is retried for about six minutes; then it is an
# incident staff see and retry or skip, like any step (`Incidents.stuck`).
BOUNDED_BOOKKEEPING_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                                        maximum_interval=timedelta(minutes=2), maximum_attempts=10)
BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
# The change that made bookkeeping ride along with steps; runs without its marker keep the old path.
PATCH_CARRY = "phase-steps-carry-bookkeeping"
# Bookkeeping that failed after its retries is an incident; before (unbounded retries) it never failed.
PATCH_BOOKKEEPING_INCIDENT = "bookkeeping-failure-is-an-incident"
# The step a process ends with writes its end to the run row (`StepEnd`), where an activity of its own did after it.
# A run with this marker was started by code that has every patch in `IMPLIED`: it records this one marker instead
# of one per patch (each costs a process two history events: the marker and Temporal's change-version attribute).
PATCH_LAST_STEP_ENDS = "last-step-writes-the-process-end"
IMPLIED = frozenset({
    PATCH_CARRY, PATCH_BOOKKEEPING_INCIDENT,
    "process-end-written-to-its-run", "aborted-process-ends-canceled-in-temporal",
    "own-cancellation-arriving-before-its-request-returned", "appointments-cancelled-with-their-phase",
    "decide-after-the-step-that-ended-the-phase", "phase-waits-for-client-requests", "phase-waits-for-signatures",
    "follow-up-start-failure-is-a-line", "staff-requests-as-signals", "signal-sender-identity",
    "abort-answers-when-recorded", "deadline-pauses-while-the-client-is-awaited", "status-final-after-history",
})  # patches added after PATCH_LAST_STEP_ENDS are asked of `workflow.patched` itself, never added here
# Every change a run of engine generation 1 (`processes.instance.ENGINE`) takes without a marker: all the patches
# made before it. A change made later is a patch asked of `workflow.patched`, or a new generation with its own set.
GENERATION_1 = IMPLIED | {
    PATCH_LAST_STEP_ENDS, "phase-takes-client-requests-ended-unanswered", "deadline-pauses-while-the-signer-is-awaited",
    "signatures-cancelled-with-their-phase", "signatures-cancelled-when-the-process-ends",
}

# Changes made after generation 1: every run asks `workflow.patched` for them (a marker in the runs that take one).
LATER = frozenset({"signal-texts-without-nul", "signal-answers-exact-integers",
                   "client-requests-cancelled-with-their-phase"})
# Engine generation 2: every change before it without a marker, and a step's first attempt as a local activity
# (`workflows/first_attempt.py`).
GENERATION_2 = GENERATION_1 | LATER

Step = Callable[[Bookkeeping | None], Awaitable[Any]]  # runs a step's activity, carrying the bookkeeping given
# bookkeeping failed after its retries: what staff say ("retry", "skip"), or None when the process is aborted
Stuck = Callable[[str, str, ActivityError], Awaitable[str | None]]


class Aborted(Exception):
    """Unwinds the run when staff abort the process."""


class Run:
    def __init__(self, input: ProcessInput) -> None:
        self.input = input
        self.template = input.template
        # True: a run started since its last step writes its end, with every patch before (`IMPLIED`)
        self.last_step_ends = self.patched(PATCH_LAST_STEP_ENDS)
        self.carry = self.patched(PATCH_CARRY)  # False: a run from before bookkeeping rode along with steps
        self.local_first = input.engine >= 2  # a step's first attempt is a local activity (`first_attempt.py`)
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
        # staff requests taken and waiting for the run to apply them
        self.skip_requests: dict[str, SkipPhaseRequest] = {}
        self.complete_requests: dict[str, CompletePhaseRequest] = {}
        self.abort: AbortRequest | None = None
        self.resolution: ResolveIncidentRequest | None = None  # of the open incident
        self.update_ids: dict[str, None] = {}  # the IDs of the staff requests taken, oldest first (a set in order)
        self.requests_answered: dict[int, datetime] = {}  # client requests answered, by id (signals, carried)
        self.requests_closed: dict[int, str] = {}  # client requests ended unanswered, by id (signals, carried)
        # a phase's deadline paused while the client is awaited: the office time it has left (workflows/timers.py)
        self.paused_deadline: dict[str, timedelta] = {}
        self.signatures: dict[int, SignatureOutcome] = {}  # signature requests' outcomes, by id (signals, carried)
        self.signature_expiry: dict[int, str] = {}  # when a signature request sent in this run expires (ISO)
        # counters that make step keys unique across the process's runs
        self.incidents = 0
        self.owner_changes = 0
        self.refusals = 0  # staff requests sent as signals and refused, in this run
        self.incident_lock = asyncio.Lock()
        self.end_reason: str | None = None  # an `end_process` action ran
        self.closed = False  # the end is recorded: tasks closed, history written
        self.first_phase = 0
        self.phases_this_run = 0
        self.ledger = Ledger(input.record_id, self.state.workflow_id, f"process {input.template.key}")
        self.phase_attribute: str | None = input.template.phases[0].key  # StagecoachPhase as last set
        self.ended_written = False  # the last step wrote "process ended" with its own effect
        self.phase_written: dict[str, int] = {}  # phase key -> ledger item of its last "done"/"skipped" line
        self.ending = False  # the process is writing its end: an abort can come no more
        self.cancel_requested = False  # cancelled through Temporal (its UI or CLI)
        self.stuck: Stuck | None = None  # set by `Incidents`: bookkeeping that failed for good is an incident
        self.step_end: StepEnd | None = None  # the end the process's last step carried (PATCH_LAST_STEP_ENDS)
        self.step_ended: RunEnd | None = None  # the end that step wrote, at the time its result says

    def patched(self, patch_id: str) -> bool:
        """`workflow.patched(patch_id)`, true without a marker for a patch of the run's engine generation, or one
        `IMPLIED` by its marker."""
        if self.input.engine >= 1 and patch_id in GENERATION_1 or self.input.engine >= 2 and patch_id in GENERATION_2:
            return True
        return (patch_id in IMPLIED and self.last_step_ends) or workflow.patched(patch_id)

    # --- what the rooms ask of the run -------------------------------------------------------

    def check_abort(self) -> None:
        if self.abort is not None:
            raise Aborted()

    def phase_interrupted(self, ps: PhaseState) -> bool:
        return ps.key in self.skip_requests or self.abort is not None or self.end_reason is not None

    def answered(self, ps: PhaseState) -> bool:
        """The phase waits for client requests and every one of them is answered."""
        return bool(ps.waiting_requests) and all(r in self.requests_answered for r in ps.waiting_requests)

    def client_awaited(self, ps: PhaseState) -> bool:
        """Some client request the phase waits for is neither answered nor ended unanswered (as the phase took it)."""
        return any(r not in self.requests_answered and r not in ps.requests_closed for r in ps.waiting_requests)

    def signed(self, ps: PhaseState) -> bool:
        """The phase waits for signature requests and every one of them has its outcome."""
        return bool(ps.waiting_signatures) and all(s in self.signatures for s in ps.waiting_signatures)

    def following(self, index: int) -> int | None:
        """The phase after `index` when no decision says otherwise: its `next`, or the one below it."""
        spec = self.template.phases[index]
        if spec.next is not None:
            return self.template.phase_index(spec.next)
        return index + 1 if index + 1 < len(self.template.phases) else None

    def ended_words(self, reason: str | None) -> Said:
        return said("process_ended_why", template=self.template.name, reason=reason) if reason else \
            said("process_ended", template=self.template.name)

    def step_input(self, ps: PhaseState, step_key: str, books: Bookkeeping | None = None, text: str = "") -> StepInput:
        """The input of a step; `answers` and `phases` go with it only when its `text` names them."""
        return StepInput(
            step_key=step_key, workflow_id=self.state.workflow_id, record_id=self.state.record_id,
            owner_id=self.state.owner_id, template_key=self.template.key, template_name=self.template.name,
            template_version=self.state.template_version, controller_email=self.template.controller_email,
            process_started_at=self.state.started_at, phase_key=ps.key, phase_name=ps.name,
            phase_started_at=ps.started_at, phase_deadline=ps.deadline_at, responsible_id=ps.responsible_id,
            books=books, locale=self.template.locale, answers=dict(self.state.answers) if "answers" in text else {},
            phases=self.outcomes() if "phases" in text else {})

    def outcomes(self) -> dict[str, dict[str, Any]]:
        """Each phase's status, overdue, iteration and signature outcome: `phases` in conditions and text."""
        return {p.key: {"status": p.status.value, "overdue": p.overdue, "iteration": p.iteration,
                        "signature": p.signature} for p in self.state.phases}

    def responsible_found(self, ps: PhaseState, spec: Phase, responsible_id: int | None) -> None:
        ps.responsible_id = responsible_id
        if spec.responsible.kind == "process_owner" and responsible_id is not None:
            ps.responsible_id = self.state.owner_id  # an owner change during the lookup wins

    # --- writing -------------------------------------------------------------------------------

    def bookkeeping_call(self, summary: str) -> Step:
        """A step of bookkeeping alone (a phase's task, or its start when it has no step of its own)."""
        async def call(books: Bookkeeping | None) -> BookkeepingResult:
            if books is None:  # an incident's flush wrote it already
                return BookkeepingResult()
            return await run_step(self.local_first, BookkeepingActivities.record_bookkeeping, books,
                                  start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=ACTION_RETRY, summary=summary)
        return call

    def settle(self, books: Bookkeeping, result: Any) -> None:
        """A step carried `books` and succeeded: they are written; the phase it started has its responsible."""
        self.ledger.settle(books)
        if books.start is not None and books.start.line.phase_key is not None:
            ps = self.state.phase(books.start.line.phase_key)
            assert ps is not None
            self.responsible_found(ps, self.template.phases[self.template.phase_index(ps.key)],
                                   getattr(result, "responsible_id", None))

    async def flush(self, *, with_start: bool = True, in_incident: bool = False) -> None:
        """Write what the ledger holds now (before the process waits, or as it ends). A phase start it
        carries is written even when its responsible cannot be found (nobody is responsible then).

        When that still fails after its retries, the process opens an incident and waits for staff (`stuck`):
        retry writes it, skip drops it; an abort leaves it for the end of the process to write. In an open
        incident (`in_incident`) it stays in the ledger for the next step."""
        if not self.carry:
            return
        while (books := self.ledger.take(owner_id=self.state.owner_id, with_start=with_start,
                                         soft_start=True)) is not None:
            try:
                result = await run_step(
                    self.local_first, BookkeepingActivities.record_bookkeeping, books,
                    start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOUNDED_BOOKKEEPING_RETRY,
                    summary=f"history: {counted(len(books.lines) + len(books.after), 'line')}")
            except ActivityError as err:
                if in_incident:
                    workflow.logger.warning("bookkeeping not written during an incident: %s", err.cause or err)
                    return
                assert self.stuck is not None
                action = await self.stuck(english("step_history"), books.lines[0].step_key if books.lines else
                                          f"{self.state.workflow_id}/bookkeeping", err)
                if action == "skip":
                    self.ledger.settle(books)  # dropped: staff chose to go on without it
                if action != "retry":
                    return
                continue
            self.settle(books, result)
            return

    async def line(self, step_key: str, kind: HistoryKind, words: Said, *, phase_key: str | None = None,
                   actor: str = "", data: dict[str, Any] | None = None) -> int:
        """A line of the engine's own in the record's history: into the ledger, for the next step to carry
        (runs from before `PATCH_CARRY`: written at once). Its ledger number."""
        if self.carry:
            return self.ledger.line(step_key, kind, words, phase_key=phase_key,
                                    actor=actor or f"process {self.template.key}", data=data)
        await self.history(step_key, kind, words, phase_key=phase_key, actor=actor, data=data)
        return 0

    async def history(self, step_key: str, kind: HistoryKind, words: Said, *, phase_key: str | None = None,
                      actor: str = "", data: dict[str, Any] | None = None) -> None:
        """A line written at once (an update handler's, or any from runs before `PATCH_CARRY`)."""
        await workflow.execute_activity_method(
            HistoryActivities.record_history,
            RecordHistoryInput(step_key=step_key, record_id=self.state.record_id, kind=kind, text=words.english,
                               words=words.key, values=words.values,
                               workflow_id=self.state.workflow_id, phase_key=phase_key,
                               actor=actor or f"process {self.template.key}", data=data or {}),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
            summary=f"history: {kind.value}")

    async def close_task(self, task_id: int, status: TaskStatus, actor: str) -> None:
        if self.carry:
            self.ledger.close_task(task_id, status, actor)
            return
        await workflow.execute_activity_method(
            TaskActivities.close_phase_task, ClosePhaseTaskInput(task_id=task_id, status=status, actor=actor),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
            summary=f"close task {task_id} ({status.value})")

    async def park(self, ps: PhaseState, *, with_start: bool = True, in_incident: bool = False) -> None:
        """The process is about to wait: what it decided is written, and the process list shows the phase it
        waits in (runs from before `PATCH_CARRY` set the phase as each one began)."""
        if not self.carry:
            return
        await self.flush(with_start=with_start, in_incident=in_incident)
        if self.phase_attribute != ps.key:
            self.phase_attribute = ps.key
            self.upsert(sa.PHASE.value_set(ps.key))

    def upsert(self, *updates: Any) -> None:
        workflow.upsert_search_attributes(list(updates))

    def details(self, text: str) -> None:
        workflow.set_current_details(text)
