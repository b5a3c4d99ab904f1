"""Staff requests: what staff may ask of a running process, how it is refused, applied and taken once.

`STAFF_REQUESTS` is the one table of them. Each entry names the request's Temporal update (built
onto `ProcessWorkflow` by `staff_update`), its API route (`POST /processes/{id}/{route}`, built by
`api/routers/processes.py`), the body the API takes and the request the process gets, and the
handler and validator below. A new staff request is a request and a body in `processes/instance.py`,
a handler and a validator here, and a line in the table.

- **Validators refuse** what cannot apply (an unknown phase, a finished process, no open incident)
  with a typed `ApplicationError` (`processes/errors.py`); the API maps its type to 404/409/422.
- **Handlers apply** a request to the `Run`: most leave a request the phase loop picks up
  (`skip_requests`, `complete_requests`, `abort`, `resolution`) and answer once it is written.
- **Idempotency**: a request's ID is its `Idempotency-Key`. Temporal answers a retry whose ID the
  current run has seen with the first outcome; the IDs of earlier runs are carried across
  continue-as-new (`workflows/continuing.py`), and a retry of one of those is answered with the
  process as it is now and changes nothing.
- **Signals**: skip_phase, abort, complete_phase and resolve_incident are also signals of the same
  names (`staff_signal`), for engineers in the Temporal UI and CLI. A signal has no answer: what the
  validator refuses is written to the record's history as a refused request and logged, and changes
  nothing; what it accepts goes to the same handler as the update. Its `Idempotency-Key` field is an
  ID like an update's. Runs that took such a signal before `PATCH_SIGNALS` dropped it, and still do.
  A signal naming no `actor` is recorded as its sender's Temporal identity, read from its event by an
  activity (`PATCH_SENDER`); signals wait for each other's lookup, so they apply in the order they came. A text
  holding the NUL character is refused as the API refuses it (`PATCH_SIGNAL_NUL`).

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import _event_groups

from activities.tasks import ReassignTaskInput, TaskActivities
from activities.temporal_history import SignalSenderInput, TemporalHistoryActivities
from crm.models import HistoryKind
from processes.errors import (
    AnswersInvalid,
    InvalidPhaseState,
    NoIncident,
    PhaseNotFound,
    ProcessFinished,
    StagecoachError,
    did_you_mean,
)
from processes.history_words import said
from processes.instance import (
    AbortBody,
    AbortRequest,
    AbortSignal,
    ChangeOwnerRequest,
    CompleteBody,
    CompletePhaseRequest,
    CompleteSignal,
    INEXACT_INTEGER,
    IncidentBody,
    IncidentSignal,
    OwnerBody,
    PhaseState,
    PhaseStatus,
    ProcessState,
    ResolveIncidentRequest,
    SkipBody,
    SkipPhaseRequest,
    SkipSignal,
    StaffSignal,
    inexact_integers,
)
from workflows import search_attributes as sa
from workflows.run import BOOKKEEPING_RETRY, BOOKKEEPING_TIMEOUT, Run

# The change that made staff requests signals too: before it, a process dropped them as unknown signals.
PATCH_SIGNALS = "staff-requests-as-signals"
# The change that records a signal's sender: its Temporal identity, read from the process's history by an activity.
PATCH_SENDER = "signal-sender-identity"
# The change that refuses a signal holding the NUL character in a text, as the API refuses such a body.
PATCH_SIGNAL_NUL = "signal-texts-without-nul"
PATCH_EXACT_ANSWERS = "signal-answers-exact-integers"  # a whole number answer JSON readers cannot keep is refused
SENDER_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
# Who a signal's request is recorded as when it names nobody and its sender cannot be read.
SIGNAL_ACTOR = "temporal signal"


def _refuse(error: type[StagecoachError], text: str, **values: object) -> ApplicationError:
    """An update's refusal: `text` with its values filled in as the message, and both as its details (the API
    keeps them as the error's `wording`, which the console shows in the office's language)."""
    refused = error.worded(text, **values)
    assert refused.wording is not None
    return ApplicationError(refused.message, {"text": text, "values": refused.wording[1]}, type=error.__name__,
                            non_retryable=True)


class StaffRequests:
    def __init__(self, run: Run) -> None:
        self.run = run
        self._signals_in_order = asyncio.Lock()

    async def handle(self, kind: StaffRequestKind, request: Any) -> ProcessState:
        """Apply a request once: one already taken is answered with the process as it is."""
        if not self._take():
            return self.run.state
        return await kind.handle(self, request)

    def validate(self, kind: StaffRequestKind, request: Any) -> None:
        if not self._already_taken():
            if isinstance(request, CompletePhaseRequest) and (inexact := inexact_integers(request.answers)):
                # an update from the Temporal UI or CLI (the API refuses them first); a validator does not run on
                # replay, so this needs no patch
                raise _refuse(AnswersInvalid, "answer '{name}': {problem}", name=inexact[0], problem=INEXACT_INTEGER)
            kind.validate(self, request)

    async def signal(self, kind: StaffRequestKind, args: Sequence[Any]) -> None:
        """A staff request sent as a signal: applied like the update, or refused in the history. Never raises."""
        run = self.run
        if not self.run.patched(PATCH_SIGNALS):
            workflow.logger.warning("signal %r dropped (the process started before it took staff requests as "
                                    "signals)", kind.name)
            return
        assert kind.signal is not None
        event_id = _signal_event_id()
        sent, request, problem = StaffSignal.model_construct(), None, None
        try:
            if len(args) > 1:
                raise ValueError(f"{len(args)} inputs: send one JSON object")
            if (nul := list(_nul_paths(args[0] if args else {}, ""))) and self.run.patched(PATCH_SIGNAL_NUL):
                raise ValueError("; ".join(f"{path}: holds the NUL character (\\u0000), which no text may hold"
                                           for path in nul))  # before it is read: its actor and reason are not kept
            sent = kind.signal.model_validate(args[0] if args else {})
            if (isinstance(sent, CompleteSignal) and (inexact := inexact_integers(sent.answers))
                    and self.run.patched(PATCH_EXACT_ANSWERS)):
                raise ValueError("; ".join(f"answers.{name}: {INEXACT_INTEGER}" for name in inexact))
            fields = sent.model_dump(exclude={"actor", "idempotency_key"})
            request = kind.request.model_validate({**{name: value for name, value in fields.items()
                                                      if name in kind.request.model_fields},
                                                   "actor": sent.actor or SIGNAL_ACTOR})
        except (ValidationError, ValueError) as exc:
            problem = ("InvalidSignal", _signal_errors(exc))
        async with self._signals_in_order:  # whatever the sender's lookup takes, signals apply in the order they came
            actor = sent.actor or await self._sender(event_id) or SIGNAL_ACTOR
            if request is not None:
                request = request.model_copy(update={"actor": actor})
                if sent.idempotency_key is not None and sent.idempotency_key in run.update_ids:
                    workflow.logger.info("signal %r with an Idempotency-Key already taken: nothing to do", kind.name)
                    return
                try:
                    kind.validate(self, request)
                except ApplicationError as refusal:
                    problem = (refusal.type or "Refused", refusal.message)
                else:
                    if sent.idempotency_key is not None:
                        run.update_ids[sent.idempotency_key] = None
        if problem is not None:
            await self._refused(kind, sent, actor, *problem)
            return
        await kind.handle(self, request)  # takes the request before it first waits: before the next signal's turn

    async def _sender(self, event_id: int | None) -> str:
        """The Temporal identity that sent the signal being handled, from its event in the process's history."""
        if event_id is None or not self.run.patched(PATCH_SENDER):
            return ""
        try:
            return await workflow.execute_activity_method(
                TemporalHistoryActivities.signal_sender,
                SignalSenderInput(workflow_id=self.run.state.workflow_id, run_id=workflow.info().run_id,
                                  event_id=event_id),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=SENDER_RETRY,
                summary=f"who sent the signal of event {event_id}")
        except ActivityError as exc:
            workflow.logger.warning("sender of the signal of event %d not found: %s", event_id, exc.cause or exc)
            return ""

    async def _refused(self, kind: StaffRequestKind, sent: StaffSignal, actor: str, error_type: str,
                       message: str) -> None:
        """A signal's request refused: a line in the record's history (and the process's), and the log."""
        run = self.run
        run.refusals += 1
        workflow.logger.warning("signal %r refused (%s): %s", kind.name, error_type, message)
        await run.history(f"{run.state.workflow_id}/refused/{run.state.runs}/{run.refusals}",
                          HistoryKind.request_refused,
                          said("request_refused_why", request=kind.name, message=message, reason=sent.reason)
                          if sent.reason else said("request_refused", request=kind.name, message=message),
                          actor=actor, phase_key=run.state.current_phase,
                          data={"request": kind.name, "error_type": error_type})

    def _already_taken(self) -> bool:
        """The staff request being validated or handled has an ID the process has taken before.

        Temporal answers a request whose ID the current run has seen with that request's outcome, so
        only one taken by an earlier run gets here: before the process continued as new, where a
        retried "skip the current phase" would skip the next one. Such a request is accepted and
        answered with the process as it is now, and changes nothing."""
        info = workflow.current_update_info()
        return info is not None and info.id in self.run.update_ids

    def _take(self) -> bool:
        """Whether the staff request being handled is to be applied (see `_already_taken`); its ID is
        remembered for the runs to come."""
        if self._already_taken():
            return False
        info = workflow.current_update_info()
        if info is not None:
            self.run.update_ids[info.id] = None
        return True

    # --- the requests: each handler, then its validator ------------------------------------------------

    async def skip_phase(self, request: SkipPhaseRequest) -> ProcessState:
        run = self.run
        key = request.phase or run.state.current_phase
        assert key is not None
        run.skip_requests.setdefault(key, request)
        ps = run.state.phase(key)
        assert ps is not None
        if key == run.state.current_phase:
            await workflow.wait_condition(lambda: self._phase_recorded(ps) or run.state.status.finished)
        return run.state

    def validate_skip_phase(self, request: SkipPhaseRequest) -> None:
        self._refuse_if_finished()
        ps = self._target_phase(request.phase, "skip")
        if ps.status.finished:
            raise _refuse(InvalidPhaseState, "phase '{phase}' is already {status}", phase=ps.key,
                          status=ps.status.value)

    async def complete_phase(self, request: CompletePhaseRequest) -> ProcessState:
        run = self.run
        key = request.phase or run.state.current_phase
        assert key is not None
        if key not in run.complete_requests:
            run.complete_requests[key] = request
            run.state.answers.update(request.answers)
        ps = run.state.phase(key)
        assert ps is not None
        await workflow.wait_condition(lambda: self._phase_recorded(ps) or run.state.status.finished)
        return run.state

    def validate_complete_phase(self, request: CompletePhaseRequest) -> None:
        self._refuse_if_finished()
        ps = self._target_phase(request.phase, "complete")
        if ps.status is not PhaseStatus.running:
            raise _refuse(InvalidPhaseState, "phase '{phase}' is {status}, not running", phase=ps.key,
                          status=ps.status.value)
        if not ps.manual and not ps.requests_closed:  # (one whose client request ended unanswered waits for staff)
            raise _refuse(InvalidPhaseState, "phase '{phase}' completes by itself when its actions are done",
                          phase=ps.key)
        if request.task_id is not None and ps.task_id is None:  # its row is written, its step not yet reported
            raise _refuse(InvalidPhaseState, "phase '{phase}' is still taking in its task {task} (the worker has not "
                                             "reported it yet); send it again in a moment", phase=ps.key,
                          task=request.task_id)
        if request.task_id is not None and ps.task_id != request.task_id:
            raise _refuse(InvalidPhaseState, "task {task} is not the task of phase '{phase}'", task=request.task_id,
                          phase=ps.key)

    async def abort(self, request: AbortRequest) -> ProcessState:
        run = self.run
        if run.abort is None:
            run.abort = request
        if run.carry or workflow.patched("abort-answers-when-recorded"):
            # answer once the tasks are cancelled and the history written: a caller told "aborted" finds them so
            await workflow.wait_condition(lambda: run.closed)
        else:  # how histories recorded before the patch completed the update
            await workflow.wait_condition(lambda: run.state.status.finished)
        return run.state

    def validate_abort(self, request: AbortRequest) -> None:
        self._refuse_if_finished()

    async def change_owner(self, request: ChangeOwnerRequest) -> ProcessState:
        run = self.run
        previous = run.state.owner_id
        if request.owner_id == previous:
            return run.state
        run.state.owner_id = request.owner_id
        run.owner_changes += 1
        run.upsert(sa.OWNER.value_set(str(request.owner_id)))
        current = run.state.phase(run.state.current_phase) if run.state.current_phase else None
        index = run.template.phase_index(current.key) if current else None
        if (current is not None and index is not None and current.status is PhaseStatus.running
                and run.template.phases[index].responsible.kind == "process_owner"):
            current.responsible_id = request.owner_id
            if current.task_id is not None:
                await workflow.execute_activity_method(
                    TaskActivities.reassign_task, ReassignTaskInput(task_id=current.task_id,
                                                                    assignee_id=request.owner_id),
                    start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY,
                    summary=f"reassign task {current.task_id}")
        await run.history(f"{run.state.workflow_id}/owner/{run.owner_changes}", HistoryKind.owner_changed,
                          said("owner_changed", previous=previous, owner=request.owner_id),
                          actor=request.actor, data={"from": previous, "to": request.owner_id})
        return run.state

    def validate_change_owner(self, request: ChangeOwnerRequest) -> None:
        self._refuse_if_finished()

    async def resolve_incident(self, request: ResolveIncidentRequest) -> ProcessState:
        run = self.run
        incident = run.state.incident
        run.resolution = request
        await workflow.wait_condition(lambda: run.state.incident is not incident)
        return run.state

    def validate_resolve_incident(self, request: ResolveIncidentRequest) -> None:
        if self.run.state.incident is None or self.run.state.status.finished:  # open while it is aborted: the
            self._refuse_if_finished()  # bookkeeping of its end failed, and only staff can retry it
        if self.run.state.incident is None:
            raise _refuse(NoIncident, "the process has no open incident")

    # --- what the validators and handlers share ---------------------------------------------------------

    def _phase_recorded(self, ps: PhaseState) -> bool:
        """The phase is over and that is written: its task closed, its last line in the history."""
        return ps.status.finished and self.run.ledger.written >= self.run.phase_written.get(ps.key, 0)

    def _refuse_if_finished(self) -> None:
        state = self.run.state
        if state.status.finished or self.run.abort is not None:
            if state.status.finished:
                raise _refuse(ProcessFinished, "the process has ended ({status})", status=state.status.value)
            raise _refuse(ProcessFinished, "the process is being aborted")

    def _target_phase(self, key: str | None, verb: str) -> PhaseState:
        state = self.run.state
        key = key or state.current_phase
        if key is None:
            raise _refuse(InvalidPhaseState, "no phase is current; name the phase to {verb}", verb=verb)
        ps = state.phase(key)
        if ps is None:
            raise _refuse(PhaseNotFound, "no phase '{phase}' in template '{template}'{hint}", phase=key,
                          template=self.run.template.key, hint=did_you_mean(key, [p.key for p in state.phases]))
        return ps


@dataclass(frozen=True)
class StaffRequestKind:
    """One thing staff may ask of a running process: an update of `ProcessWorkflow` and a route of the API."""

    name: str  # the update's name, and ProcessWorkflow's attribute
    route: str  # POST /processes/{workflow_id}/{route}
    body: type[BaseModel]  # what the API takes
    request: type[BaseModel]  # what the process gets: the body, and the caller as its actor
    handle: Callable[[StaffRequests, Any], Awaitable[ProcessState]]
    validate: Callable[[StaffRequests, Any], None]
    description: str
    user_field: str | None = None  # a field of the body naming a user, who must exist
    signal: type[StaffSignal] | None = None  # what the request sent as a signal carries; None: no such signal


SKIP_PHASE = StaffRequestKind("skip_phase", "skip", SkipBody, SkipPhaseRequest, StaffRequests.skip_phase,
                              StaffRequests.validate_skip_phase, "Skip the current phase, or a named later one.",
                              signal=SkipSignal)
ABORT = StaffRequestKind("abort", "abort", AbortBody, AbortRequest, StaffRequests.abort, StaffRequests.validate_abort,
                         "Abort the process: its open tasks are cancelled, its follow-ups dropped.",
                         signal=AbortSignal)
COMPLETE_PHASE = StaffRequestKind("complete_phase", "complete", CompleteBody, CompletePhaseRequest,
                                  StaffRequests.complete_phase, StaffRequests.validate_complete_phase,
                                  "Complete a manual phase, or one whose client request ended unanswered (the same as "
                                  "completing its task).",
                                  signal=CompleteSignal)
CHANGE_OWNER = StaffRequestKind("change_owner", "owner", OwnerBody, ChangeOwnerRequest, StaffRequests.change_owner,
                                StaffRequests.validate_change_owner,
                                "Change the process owner (and the responsible of a phase the owner holds).",
                                user_field="owner_id")
RESOLVE_INCIDENT = StaffRequestKind("resolve_incident", "incident", IncidentBody, ResolveIncidentRequest,
                                    StaffRequests.resolve_incident, StaffRequests.validate_resolve_incident,
                                    "Retry the failed step of an incident, or skip it.", signal=IncidentSignal)

STAFF_REQUESTS = (SKIP_PHASE, COMPLETE_PHASE, ABORT, CHANGE_OWNER, RESOLVE_INCIDENT)


def staff_update(kind: StaffRequestKind) -> Any:
    """The Temporal update (with its validator) of a staff request, for `ProcessWorkflow`'s class body.
    It hands the request to the workflow's `staff` (a `StaffRequests`)."""
    async def update(self: Any, request: Any) -> ProcessState:
        return await self.staff.handle(kind, request)

    def validate(self: Any, request: Any) -> None:
        self.staff.validate(kind, request)

    update.__name__ = update.__qualname__ = kind.name
    validate.__name__ = validate.__qualname__ = f"validate_{kind.name}"
    update.__annotations__ = {"request": kind.request, "return": ProcessState}
    validate.__annotations__ = {"request": kind.request, "return": None}
    handler = workflow.update(name=kind.name, description=kind.description)(update)
    handler.validator(validate)
    return handler


def staff_signal(kind: StaffRequestKind) -> Any:
    """The Temporal signal of a staff request, named as its update, for `ProcessWorkflow`'s class body. Its input
    is read here, not by the SDK: an input that is not the request's JSON object is refused in the history,
    where the SDK would drop it with a line in the worker's log only."""
    async def signal(self: Any, *args: Any) -> None:
        await self.staff.signal(kind, args)

    signal.__name__ = signal.__qualname__ = f"{kind.name}_signal"
    return workflow.signal(name=kind.name, description=f"{kind.description} (As a signal: no answer; a refusal is "
                                                       "written to the record's history.)")(signal)


def _signal_event_id() -> int | None:
    """The id of the WorkflowExecutionSignaled event of the signal being handled. The Python SDK (1.35) has it only
    in the implicit event group it opens around each signal handler (an experimental API, and this part of it
    private); None where it is not there, and the sender is then not looked up."""
    group = _event_groups._active_event_groups.get().implicit
    if group is None:
        return None
    marker = group._to_proto()
    return marker.inbound_event.inbound_event_id if marker.HasField("inbound_event") else None


def _nul_paths(value: Any, at: str) -> Iterator[str]:
    """Where a signal's input holds the NUL character: each text's path (`answers.esito`), or `input`."""
    if isinstance(value, str):
        if "\x00" in value:
            yield at or "input"
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{at}.{key}" if at else str(key)
            yield from (path,) if isinstance(key, str) and "\x00" in key else _nul_paths(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_paths(item, f"{at}[{index}]")


def _signal_errors(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors())
    return str(exc)
