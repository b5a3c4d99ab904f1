"""The shapes of a running process: its input, its state, and the staff requests it takes (as the process
gets them, and as the API takes them).

Shared by the workflow (which owns the state), the API and the CLI (which read it).
New fields get defaults so that histories recorded before them still decode.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, FiniteFloat, Strict, StringConstraints

from processes.action_kinds import StartFollowUp
from processes.sent_values import WholeNumber
from processes.template import ProcessTemplate
from processes.wording import counted


class ProcessStatus(str, enum.Enum):
    running = "running"
    incident = "incident"  # a step failed after its retries; staff must retry, skip or abort
    completed = "completed"
    aborted = "aborted"
    cancelled = "cancelled"  # by the loop guard, before its first phase
    # ended in Temporal without the process having its say (an engineer terminated it...): never set by the
    # process itself, only read from Temporal by the sweep of process runs
    terminated = "terminated"
    failed = "failed"
    timed_out = "timed_out"

    @property
    def finished(self) -> bool:
        return self not in (ProcessStatus.running, ProcessStatus.incident)


class PhaseStatus(str, enum.Enum):
    pending = "pending"  # an earlier phase is still running
    waiting = "waiting"  # its start offset has not passed yet
    running = "running"
    done = "done"
    skipped = "skipped"

    @property
    def finished(self) -> bool:
        return self in (PhaseStatus.done, PhaseStatus.skipped)


class ActionOutcome(BaseModel):
    index: int
    kind: str
    status: Literal["done", "skipped", "cancelled"]  # cancelled: an appointment cancelled with its phase
    summary: str = ""
    step_key: str
    at: datetime


class PhaseState(BaseModel):
    key: str
    name: str
    manual: bool = False
    status: PhaseStatus = PhaseStatus.pending
    iteration: int = 0
    starts_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline_at: datetime | None = None
    overdue: bool = False
    responsible_id: int | None = None
    task_id: int | None = None
    skip_reason: str | None = None
    actions: list[ActionOutcome] = Field(default_factory=list)
    went_to: str | None = Field(None, description="a decision phase: the phase it chose")
    waiting_requests: list[int] = Field(default_factory=list, description="the client requests (auto-move) the "
                                                                          "phase waits for")
    waiting_signatures: list[int] = Field(default_factory=list, description="the signature requests the phase "
                                                                            "waits for")
    requests_closed: dict[int, Literal["cancelled", "expired"]] = Field(
        default_factory=dict, description="the phase's client requests that ended unanswered, as the phase took it: "
                                          "its deadline goes on, and its responsible decides (a task)")
    signature: Literal["signed", "declined", "expired"] | None = Field(
        None, description="what the signer did with the phase's signature request (`phases.<key>.signature`)")


class Incident(BaseModel):
    """A step that failed after its retries. The process waits for staff."""

    phase_key: str
    step: str  # "actions[1].send_email", "responsible", "deadline notice"...
    step_key: str
    error_type: str
    message: str
    at: datetime


class FollowUpState(BaseModel):
    """A follow-up process planned by a start_follow_up action, started when this process ends."""

    step_key: str
    template: str
    action: StartFollowUp
    start_delay_seconds: float = 0
    status: Literal["planned", "started", "failed", "dropped"] = "planned"
    workflow_id: str | None = None
    error: str | None = None


class ProcessState(BaseModel):
    workflow_id: str
    template_key: str
    template_name: str
    template_version: int
    record_id: int
    owner_id: int
    started_by: str = ""
    status: ProcessStatus = ProcessStatus.running
    current_phase: str | None = None
    phases: list[PhaseState]
    incident: Incident | None = None
    started_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None
    ended_by: str | None = None
    lineage: list[str] = Field(default_factory=list)
    parent_workflow_id: str | None = None
    origin: str = "manual"
    follow_ups: list[FollowUpState] = Field(default_factory=list)
    answers: dict[str, Any] = Field(default_factory=dict, description="collected when manual phases complete")
    runs: int = Field(1, description="the run of this process in Temporal (continue-as-new starts another)")

    def phase(self, key: str) -> PhaseState | None:
        return next((p for p in self.phases if p.key == key), None)


class StageRef(BaseModel):
    """The stage a process runs the automations of (processes/stage_templates.py): for the Temporal UI's search."""

    pipeline: str
    status: str


# The engine's generation, carried by every process started since (`ProcessInput.engine`, set by the starter): a run
# of this generation takes every workflow change made up to it without asking Temporal for a patch marker, where
# each `workflow.patched` costs a new process two history events (the marker and Temporal's change-version search
# attribute). Runs started before have 0 and ask for their patches as they always did (`workflows/run.py`).
# Generation 2 also runs a step's first attempt as a local activity (`workflows/first_attempt.py`).
ENGINE = 2


class ProcessInput(BaseModel):
    """What a process starts with: a frozen copy of the template version it is pinned to."""

    template: ProcessTemplate
    template_version: int
    record_id: int
    owner_id: int
    started_by: str = ""
    lineage: list[str] = Field(default_factory=list, description="workflow ids of the processes that led here")
    origin: Literal["manual", "follow_up", "autostart"] = "manual"
    triggered_by_user_id: int | None = Field(None, description="the user whose action led to this start")
    start_delay_seconds: float = Field(0, ge=0, description="wait this long before the first phase")
    parent_workflow_id: str | None = None
    history_limit: int | None = Field(None, description="continue-as-new past this many history events "
                                                         "(besides when Temporal suggests it); for tests")
    resume: ResumeState | None = Field(None, description="set by continue-as-new: where the process was")
    stage: StageRef | None = Field(None, description="a stage's automations: its pipeline and status")
    loop_guard_passed: bool = Field(False, description="the starter counted this start within the loop guard's "
                                                       "daily limit when it allocated the run: the process does "
                                                       "not count it again (activities/loop_guard.py)")
    engine: int = Field(0, description="the engine generation that started the run (`ENGINE`; 0: a run started "
                                       "before generations, which asks Temporal for each patch)")

    def summary(self) -> str:
        """The one line the Temporal UI shows for the run (keys and ids only, no personal data)."""
        origin = "" if self.origin == "manual" else f" ({self.origin.replace('_', '-')})"
        return (f"{self.template.key} v{self.template_version} on {self.template.record_kind.value} "
                f"{self.record_id}{origin}")

    def details(self) -> str:
        return f"{counted(len(self.template.phases), 'phase')}: " + " → ".join(p.key for p in self.template.phases)


class ResumeState(BaseModel):
    """What a process carries into its next run when it continues as new, at a phase boundary."""

    state: ProcessState
    next_phase: int
    incidents: int = 0
    owner_changes: int = 0
    skip_requests: dict[str, SkipPhaseRequest] = Field(default_factory=dict)
    update_ids: list[str] = Field(default_factory=list, description="the IDs of the last staff requests the "
                                  "process took, oldest first: the server knows only those of the current run")
    requests_answered: dict[int, datetime] = Field(default_factory=dict, description="the client requests "
                                                   "answered (their submissions delivered), by id, oldest first")
    signatures: dict[int, SignatureOutcome] = Field(default_factory=dict, description="the outcomes of signature "
                                                    "requests delivered, by id, oldest first")
    requests_closed: dict[int, Literal["cancelled", "expired"]] = Field(
        default_factory=dict, description="the client requests that ended unanswered (their closures delivered), "
                                          "by id, oldest first")


SignatureOutcome = Literal["signed", "declined", "expired"]


class SignatureCompleted(BaseModel):
    """The signal `signature_completed`: a signing provider's callback told a signature request's outcome."""

    signature_id: int
    outcome: SignatureOutcome
    at: datetime


class ClientRequestSubmitted(BaseModel):
    """The signal `client_request_submitted`: a client answered a request (delivered by the dispatcher)."""

    request_id: int
    submitted_at: datetime


class ClientRequestEnded(BaseModel):
    """The signal `client_request_closed`: a request a phase waits for ended unanswered (delivered by the
    dispatcher from its `ClientRequestClosure` row)."""

    request_id: int
    outcome: Literal["cancelled", "expired"]
    at: datetime


class SkipPhaseRequest(BaseModel):
    phase: str | None = Field(None, description="the phase to skip; the current one when empty")
    reason: str = Field("", max_length=500)
    actor: str = ""


class AbortRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
    actor: str = ""


Answer = str | int | float | bool | None


class CompletePhaseRequest(BaseModel):
    phase: str | None = Field(None, description="the phase to complete; the current one when empty")
    task_id: int | None = None
    answers: dict[str, Answer] = Field(default_factory=dict, max_length=100,
                                       description="answers the process keeps (decisions may use them)")
    actor: str = ""


class ChangeOwnerRequest(BaseModel):
    owner_id: int
    actor: str = ""


class ResolveIncidentRequest(BaseModel):
    action: Literal["retry", "skip"]
    actor: str = ""


# What the API takes for each staff request: the request without its actor, which the API sets from the caller's
# key (the table of staff requests, `workflows/staff_requests.py`, pairs each body with its request).

PhaseKey = Annotated[str, StringConstraints(max_length=63)]
MAX_EXACT_INTEGER = 2**53 - 1
"""The largest whole number every JSON reader keeps exactly (JavaScript's `Number.MAX_SAFE_INTEGER`)."""
INEXACT_INTEGER = f"a whole number answer is at most {MAX_EXACT_INTEGER} either way (a larger one loses digits)"


def inexact_integers(answers: dict[str, Any]) -> list[str]:
    """The names of the answers that are whole numbers too large to be kept exactly."""
    return [name for name, value in answers.items()
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_INTEGER]


def _exact(value: Any) -> Any:
    if inexact_integers({"": value}):
        raise ValueError(INEXACT_INTEGER)
    return value


AnswerAny = Annotated[str, StringConstraints(max_length=2000)] | int | FiniteFloat | Annotated[bool, Strict()] | None
AnswerIn = Annotated[AnswerAny, AfterValidator(_exact)]
AnswerKey = Annotated[str, StringConstraints(min_length=1, max_length=63)]
AnswersIn = Annotated[dict[AnswerKey, AnswerIn], Field(max_length=100)]
"""Answers a client sends for a process to keep: at most 100, texts of up to 2,000 characters, numbers JSON can write
(no NaN or Infinity, which Python's JSON reader takes; whole numbers JSON readers keep exactly)."""


class SkipBody(BaseModel):
    phase: PhaseKey | None = Field(None, description="the current phase when empty")
    reason: str = Field("", max_length=500)


class AbortBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class CompleteBody(BaseModel):
    phase: PhaseKey | None = Field(None, description="the current phase when empty")
    answers: AnswersIn = Field(default_factory=dict, description="answers the process keeps; decisions may use them")


class OwnerBody(BaseModel):
    owner_id: WholeNumber


class IncidentBody(BaseModel):
    action: Literal["retry", "skip"] = Field(description="retry the failed step, or skip it")


# What a staff request sent as a Temporal signal carries (`temporal workflow signal --name skip_phase --input
# '{...}'`, or "Send a Signal" in the Temporal UI): the API's body, plus who sends it and why, and the request's
# `Idempotency-Key`. Unknown fields are refused: a misspelt "phase" must not skip the current phase.

class StaffSignal(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    actor: str = Field("", max_length=200, description="who sends it (recorded in the history)")
    reason: str = Field("", max_length=500)
    idempotency_key: str | None = Field(None, alias="Idempotency-Key", min_length=1, max_length=200,
                                        description="sent again with the same key, the request applies once")


class SkipSignal(StaffSignal, SkipBody):
    pass


class AbortSignal(StaffSignal):
    reason: str = Field("aborted through Temporal", min_length=1, max_length=500)


class CompleteSignal(StaffSignal, CompleteBody):
    # whole numbers of any size, as signals took them before they were bounded: the process checks them
    # (`workflows/staff_requests.py`), so that a signal in a history from before replays as it ran
    answers: Annotated[dict[AnswerKey, AnswerAny], Field(max_length=100)] = Field(default_factory=dict)


class IncidentSignal(StaffSignal, IncidentBody):
    pass


ProcessInput.model_rebuild()
ResumeState.model_rebuild()
