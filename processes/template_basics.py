"""The template language's shared pieces: slugs and texts, record kinds, offsets, the responsible of a phase.

The process template (`processes/template.py`) and its action kinds (`processes/action_kinds.py`) are made of
these; every model forbids unknown fields, so a typo is an error with its path, never a silently ignored key.
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

KEY_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
"""A key (a template's, a phase's, an answer's) or a user's handle: a lower-case letter, then lower-case letters,
digits, - and _."""
Key = Annotated[str, Field(pattern=KEY_PATTERN, description="lower-case slug")]
Text = Annotated[str, Field(min_length=1, max_length=20_000)]
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def locale_field(what: str) -> Any:
    """An optional locale (`it`, `de_CH`), left out of the template's dump when not given, so templates saved
    before locales existed keep their checksum."""
    return Field(None, min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$",
                 exclude_if=lambda value: value is None, description=what)


TEXT_LOCALE = "the language of this action's text (dates, numbers, money); default: the template's `locale`"


class RecordKind(str, enum.Enum):
    contact = "contact"
    property = "property"
    opportunity = "opportunity"
    job = "job"
    order = "order"
    quote = "quote"
    lead = "lead"
    case = "case"


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Offset(Frozen):
    """A span of hours or days (one unit, not both)."""

    after_hours: int = Field(0, ge=0, le=24 * 366)
    after_days: int = Field(0, ge=0, le=366)

    @model_validator(mode="after")
    def _one_unit(self) -> Offset:
        if self.after_hours and self.after_days:
            raise ValueError("give after_hours or after_days, not both")
        return self

    @property
    def delay(self) -> timedelta:
        return timedelta(hours=self.after_hours, days=self.after_days)


class StartRule(Offset):
    """When a phase starts: right after the previous phase ends (no offset), or N minutes, hours or days after it
    ended, or (`since: process_start`) after the process started: a phase due then starts as soon as the phases
    before it are done."""

    after_minutes: int = Field(0, ge=0, le=60 * 24 * 366, exclude_if=lambda value: value == 0)
    since: Literal["previous_phase", "process_start"] = Field(
        "previous_phase", exclude_if=lambda value: value == "previous_phase",
        description="what the span counts from: the previous phase's end (default) or the process's start")

    @model_validator(mode="after")
    def _minutes_alone(self) -> StartRule:
        if self.after_minutes and (self.after_hours or self.after_days):
            raise ValueError("give after_minutes, after_hours or after_days, one of them")
        if self.since == "process_start" and not self.delay:
            raise ValueError("since: process_start needs after_minutes, after_hours or after_days")
        return self

    @property
    def delay(self) -> timedelta:
        return timedelta(minutes=self.after_minutes, hours=self.after_hours, days=self.after_days)


class Responsible(Frozen):
    """Who a phase (or a task) belongs to.

    Written as `process_owner`, `record_owner`, or `{user: maria}` (a user's handle).
    """

    kind: Literal["process_owner", "record_owner", "user"] = "process_owner"
    user: Key | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"kind": value}
        if isinstance(value, dict) and "user" in value and "kind" not in value:
            return {"kind": "user", **value}
        return value

    @model_validator(mode="after")
    def _user_named(self) -> Responsible:
        if self.kind == "user" and not self.user:
            raise ValueError("a responsible of kind 'user' needs the user's handle")
        if self.kind != "user" and self.user:
            raise ValueError(f"'user' is only for kind 'user', not '{self.kind}'")
        return self
