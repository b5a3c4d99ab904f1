"""The pipeline language: a record kind's statuses in order, the moves between them, record types, automations.

A pipeline lists the statuses of one record kind (lead, order, job...) in order; a status may be a state with
substates, opened and closed while the record stays in it. `moves` says which status may follow which (every
other status, when it is left out). Each record **type** of the pipeline (`Website lead`, `Warranty repair`)
has its own initial status (`New` when it names none) and its own sequence: the statuses it may be in, and
the moves among them, isolated from the other types'. Each status and substate has **automations**: actions
run when a record enters it (a substate: opens), leaves it (closes), or a span after entering, for every
channel or the ones listed. Saved as immutable versions like process templates; records move under the
newest. Checked beyond their shape by `processes/pipeline_validation.py`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from processes.template import (
    AddHistory,
    CreateTask,
    Frozen,
    Key,
    RecordKind,
    Responsible,
    SendEmail,
    SetStatus,
    Text,
    WriteValues,
    one_kind,
)

DEFAULT_INITIAL_STATUS = "New"
StatusName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$",
                                  description="a status as people read it: `New`, `Waiting for parts`")]
Moves = dict[StatusName, Annotated[list[StatusName], Field(max_length=100)]]
Channel = Annotated[str, Field(min_length=1, max_length=64)]


class MoveTo(Frozen):
    """Move the record to another status (checked like any move: its type must allow it)."""

    status: StatusName
    reason: str = Field("", max_length=500)


class SubstateChange(Frozen):
    """Open or close a substate of the status the record is in."""

    substate: StatusName


class StartProcess(Frozen):
    """Start a process of a saved template on the record."""

    template: Key
    owner: Responsible = Field(Responsible(kind="record_owner"), description="the process owner; default: the "
                                                                              "record's owner")


class Notify(Frozen):
    """Email chosen users, and every active user of chosen roles, that the record moved."""

    users: list[Key] = Field(default_factory=list, max_length=50, description="user handles")
    roles: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=20)
    message: Text = "{{ record.title }} is now {{ record.status }}."

    @model_validator(mode="after")
    def _someone(self) -> Notify:
        if not self.users and not self.roles:
            raise ValueError("name the users or the roles to notify")
        return self


class Rule(Frozen):
    """A rule on one of the record's fields: `type`, `channel`, `title`, or a free field (`fields.region`)."""

    field: Annotated[str, Field(pattern=r"^(type|channel|title|fields\.[A-Za-z_][A-Za-z0-9_]{0,63})$")]
    equals: str | None = Field(None, max_length=300)
    one_of: list[Annotated[str, Field(max_length=300)]] | None = Field(None, min_length=1, max_length=100)
    prefix: str | None = Field(None, min_length=1, max_length=64, description="a postcode prefix, say")
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _a_test(self) -> Rule:
        if self.equals is None and self.one_of is None and self.prefix is None and self.min is None \
                and self.max is None:
            raise ValueError("give equals, one_of, prefix, min or max")
        return self


class Candidates(Frozen):
    """Users who may be assigned when the record matches `rules` (all of them)."""

    rules: list[Rule] = Field(default_factory=list, max_length=20)
    users: list[Key] = Field(default_factory=list, max_length=200,
                             description="user handles; none: every active user of the role")


class Assign(Frozen):
    """Assign a role on the record (salesperson, installer...) to a user chosen by assignment criteria.

    The first criterion whose rules the record matches gives the candidates (the active users of the role, or the
    ones it lists); `round_robin` takes turns among them, `least_loaded` picks the one with the fewest open records
    in this role. No candidate is an incident, never a silent skip. The assignee then sees the record.
    """

    role: Annotated[str, Field(min_length=1, max_length=64)]
    criteria: list[Candidates] = Field(default_factory=lambda: [Candidates()], min_length=1, max_length=50)
    strategy: Literal["round_robin", "least_loaded"] = "round_robin"


STAGE_ACTION_KINDS: dict[str, type[Frozen]] = {
    "send_email": SendEmail,
    "create_task": CreateTask,
    "write_values": WriteValues,
    "add_history": AddHistory,
    "set_status": SetStatus,
    "move_to": MoveTo,
    "open_substate": SubstateChange,
    "close_substate": SubstateChange,
    "start_process": StartProcess,
    "notify": Notify,
    "assign": Assign,
}


class StageAction(Frozen):
    """One action of an automation, written as a one-key mapping like a process's actions."""

    send_email: SendEmail | None = None
    create_task: CreateTask | None = None
    write_values: WriteValues | None = None
    add_history: AddHistory | None = None
    set_status: SetStatus | None = None
    move_to: MoveTo | None = None
    open_substate: SubstateChange | None = None
    close_substate: SubstateChange | None = None
    start_process: StartProcess | None = None
    notify: Notify | None = None
    assign: Assign | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, value: Any) -> Any:
        return one_kind(value, STAGE_ACTION_KINDS)

    @model_serializer(mode="wrap")
    def _only_kind(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}

    @property
    def kind(self) -> str:
        return next(k for k in STAGE_ACTION_KINDS if getattr(self, k) is not None)

    @property
    def spec(self) -> Frozen:
        return getattr(self, self.kind)


class Automation(Frozen):
    """Actions run when a record enters a status (a substate: is opened), leaves it (is closed), or a span after it
    entered, if it is still there; for every channel, or only the ones listed."""

    on: Literal["enter", "exit", "scheduled"]
    after_minutes: int = Field(0, ge=0, le=60 * 24 * 366)
    after_hours: int = Field(0, ge=0, le=24 * 366)
    after_days: int = Field(0, ge=0, le=366)
    channels: list[Channel] = Field(default_factory=list, max_length=50, description="none: every channel")
    actions: list[StageAction] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _when(self) -> Automation:
        spans = [n for n in (self.after_minutes, self.after_hours, self.after_days) if n]
        if self.on == "scheduled" and len(spans) != 1:
            raise ValueError("a scheduled automation gives one of after_minutes, after_hours or after_days")
        if self.on != "scheduled" and spans:
            raise ValueError(f"after_minutes, after_hours and after_days are for scheduled automations, not {self.on}")
        return self

    @property
    def delay(self) -> timedelta:
        return timedelta(minutes=self.after_minutes, hours=self.after_hours, days=self.after_days)

    def applies_to(self, channel: str) -> bool:
        return not self.channels or channel in self.channels


class Substate(Frozen):
    name: StatusName
    automations: list[Automation] = Field(default_factory=list, max_length=50)


class Status(Frozen):
    name: StatusName
    substates: list[Substate] = Field(default_factory=list, max_length=50)
    automations: list[Automation] = Field(default_factory=list, max_length=50)

    def substate(self, name: str) -> Substate | None:
        return next((s for s in self.substates if s.name == name), None)


class RecordTypeSpec(Frozen):
    """A record type: its initial status, and its own sequence (the statuses and moves it allows)."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    initial_status: StatusName | None = Field(None, description=f"default: {DEFAULT_INITIAL_STATUS}")
    statuses: list[StatusName] | None = Field(None, min_length=1, max_length=100,
                                              description="the statuses it may be in; default: all")
    moves: Moves | None = Field(None, description="its allowed moves; default: the pipeline's, among its statuses")

    @property
    def initial(self) -> str:
        return self.initial_status or DEFAULT_INITIAL_STATUS


class Pipeline(Frozen):
    schema_version: Literal[1] = 1
    key: Key
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = Field("", max_length=5_000)
    record_kind: RecordKind
    statuses: list[Status] = Field(min_length=1, max_length=100)
    moves: Moves | None = Field(None, description="from each status, the statuses it may move to; default: any")
    types: list[RecordTypeSpec] = Field(min_length=1, max_length=100)

    def status(self, name: str) -> Status | None:
        return next((s for s in self.statuses if s.name == name), None)

    def record_type(self, name: str) -> RecordTypeSpec | None:
        return next((t for t in self.types if t.name == name), None)

    def sequence(self, type_name: str) -> list[str]:
        """The statuses a record of the type may be in, in the pipeline's order."""
        spec = self.record_type(type_name)
        allowed = set(spec.statuses) if spec is not None and spec.statuses is not None else None
        return [s.name for s in self.statuses if allowed is None or s.name in allowed]

    def allowed_next(self, type_name: str, current: str) -> list[str]:
        """Where a record of the type may move from `current`, in the pipeline's order."""
        spec = self.record_type(type_name)
        sequence = self.sequence(type_name)
        moves = spec.moves if spec is not None and spec.moves is not None else self.moves
        if moves is None:
            return [s for s in sequence if s != current]
        targets = set(moves.get(current, ()))
        return [s for s in sequence if s in targets and s != current]
