"""The pipeline language: a record kind's statuses in order, the moves between them, record types, automations.

A pipeline lists the statuses of one record kind (lead, order, job...) in order; a status may be a state with
substates, opened and closed while the record stays in it. `moves` says which status may follow which (every
other status, when it is left out). Each record **type** of the pipeline (`Website lead`, `Warranty repair`)
has its own initial status (when it names none: `New` if its sequence has it, else its sequence's first) and its
own sequence: the statuses it may be in, and the moves among them, isolated from the other types'. Each status
and substate has **automations**: actions run when a record enters it (a substate: opens), leaves it (closes), or
a span after entering, for every channel or the ones listed: the actions of process phases, run as processes
(`processes/stage_templates.py`). Saved as immutable versions like process templates; records move under the
newest. Checked beyond their shape by `processes/pipeline_validation.py`.
"""

from __future__ import annotations

import unicodedata
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from processes.action_kinds import Action
from processes.template_basics import EMAIL_PATTERN, Frozen, Key, RecordKind

DEFAULT_INITIAL_STATUS = "New"


def name_key(name: str) -> str:
    """A status's or a record type's name as names that look the same share it: its accents composed (NFC), its letter
    case folded (`Nuovo`, `nuovo`; `Già` typed either way)."""
    return unicodedata.normalize("NFC", name).casefold()


StatusName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$",
                                  description="a status as people read it: `New`, `Waiting for parts`")]
Moves = dict[StatusName, Annotated[list[StatusName], Field(max_length=100)]]
Channel = Annotated[str, Field(min_length=1, max_length=64)]


STAGE_EXCLUDED = {"reminder": "a scheduled automation", "end_process": "nothing (an automation is no process)",
                  "start_follow_up": "start_process"}  # process actions that make no sense in a stage, and instead


class Automation(Frozen):
    """Actions run when a record enters a status (a substate: is opened), leaves it (is closed), or a span after it
    entered, if it is still there; for every channel, or only the ones listed."""

    on: Literal["enter", "exit", "scheduled"]
    after_minutes: int = Field(0, ge=0, le=60 * 24 * 366)
    after_hours: int = Field(0, ge=0, le=24 * 366)
    after_days: int = Field(0, ge=0, le=366)
    channels: list[Channel] = Field(default_factory=list, max_length=50, description="none: every channel")
    actions: list[Action] = Field(min_length=1, max_length=50, description="the actions of process phases, "
                                  "`set_status` moving the record on; not reminder, end_process, start_follow_up")

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
    initial_status: StatusName | None = Field(None, description=f"default: {DEFAULT_INITIAL_STATUS} when its "
                                                                 "sequence has it, else its sequence's first status")
    statuses: list[StatusName] | None = Field(None, min_length=1, max_length=100,
                                              description="the statuses it may be in; default: all")
    moves: Moves | None = Field(None, description="its allowed moves; default: the pipeline's, among its statuses")


class Pipeline(Frozen):
    schema_version: Literal[1] = 1
    key: Key
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = Field("", max_length=5_000)
    record_kind: RecordKind
    statuses: list[Status] = Field(min_length=1, max_length=100)
    moves: Moves | None = Field(None, description="from each status, the statuses it may move to; default: any")
    types: list[RecordTypeSpec] = Field(min_length=1, max_length=100)
    controller_email: str | None = Field(None, description="who hears of the automations' incidents and loop guard "
                                                           "(needed when a status has automations)")

    @field_validator("controller_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL_PATTERN.fullmatch(value):
            raise ValueError(f"'{value}' is not an email address")
        return value

    def status(self, name: str) -> Status | None:
        return next((s for s in self.statuses if s.name == name), None)

    def record_type(self, name: str) -> RecordTypeSpec | None:
        return next((t for t in self.types if t.name == name), None)

    def sequence(self, type_name: str) -> list[str]:
        """The statuses a record of the type may be in, in the pipeline's order."""
        spec = self.record_type(type_name)
        allowed = set(spec.statuses) if spec is not None and spec.statuses is not None else None
        return [s.name for s in self.statuses if allowed is None or s.name in allowed]

    def initial(self, type_name: str) -> str:
        """The status a new record of the type starts in: the one it names, else `New` when its sequence has it (as
        every pipeline did before), else its sequence's first (`Nuovo`, `Da fare`: an office names its own)."""
        spec = self.record_type(type_name)
        if spec is not None and spec.initial_status is not None:
            return spec.initial_status
        sequence = self.sequence(type_name)
        return sequence[0] if sequence and DEFAULT_INITIAL_STATUS not in sequence else DEFAULT_INITIAL_STATUS

    def allowed_next(self, type_name: str, current: str) -> list[str]:
        """Where a record of the type may move from `current`, in the pipeline's order."""
        spec = self.record_type(type_name)
        sequence = self.sequence(type_name)
        moves = spec.moves if spec is not None and spec.moves is not None else self.moves
        if moves is None:
            return [s for s in sequence if s != current]
        targets = set(moves.get(current, ()))
        return [s for s in sequence if s in targets and s != current]
