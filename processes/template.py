"""The process template language, version 1: a template is ordered phases of actions (`processes/action_kinds.py`).

A template is saved as an immutable version; a running process carries a frozen copy
of the version it started with. Every model forbids unknown fields so a typo in a
template is an error with its path, never a silently ignored key.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from processes.action_kinds import Action
from processes.template_basics import EMAIL_PATTERN, Frozen, Key, RecordKind, Responsible, StartRule, locale_field

CURRENT_SCHEMA_VERSION = 1


class Branch(Frozen):
    """Go to `goto` when `when` (a Jinja2 expression) is true."""

    when: Annotated[str, Field(min_length=1, max_length=2000)]
    goto: Key


class Phase(Frozen):
    key: Key
    name: Annotated[str, Field(min_length=1, max_length=200)]
    start: StartRule = StartRule()
    responsible: Responsible = Responsible()
    deadline_days: int | None = Field(None, ge=1, le=3650)
    completion: Literal["automatic", "manual"] = "automatic"
    actions: list[Action] = Field(default_factory=list, max_length=100)
    decision: list[Branch] | None = Field(
        None, min_length=1, max_length=50,
        description="after the phase, go to the first branch whose condition is true")
    next: Key | None = Field(None, description="the phase after this one (when no branch matched); "
                                               "default: the phase that follows in the list")

    @property
    def ends_process(self) -> bool:
        return any(a.end_process is not None for a in self.actions)


class Trigger(Frozen):
    """When a process of this template starts by itself on a record of its kind."""

    on: Literal["record_created", "status_changed", "field_changed"]
    status: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="status_changed: the status the record moved to")
    field: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")] | None = Field(
        None, description="field_changed: the free field that changed")
    record_type: str | None = Field(None, max_length=64, description="only records of this type")

    @model_validator(mode="after")
    def _needs(self) -> Trigger:
        if self.on == "status_changed" and not self.status:
            raise ValueError("a status_changed trigger needs the status")
        if self.on == "field_changed" and not self.field:
            raise ValueError("a field_changed trigger needs the field")
        if self.on != "status_changed" and self.status:
            raise ValueError(f"'status' is only for status_changed triggers, not {self.on}")
        if self.on != "field_changed" and self.field:
            raise ValueError(f"'field' is only for field_changed triggers, not {self.on}")
        return self


class ProcessTemplate(Frozen):
    schema_version: Literal[1] = CURRENT_SCHEMA_VERSION
    key: Key
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = Field("", max_length=5_000)
    controller_email: str
    record_kind: RecordKind
    locale: str | None = locale_field("the language of the template's text (dates, numbers, money: it, fr, de, "
                                       "en, de_CH...); default: the installation's LOCALE")
    phases: list[Phase] = Field(min_length=1, max_length=200)
    autostart: list[Trigger] = Field(default_factory=list, max_length=20)

    @field_validator("controller_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL_PATTERN.fullmatch(value):
            raise ValueError(f"'{value}' is not an email address")
        return value

    def phase_index(self, key: str) -> int | None:
        return next((i for i, p in enumerate(self.phases) if p.key == key), None)
