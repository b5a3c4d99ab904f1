"""The process template language, version 1: a template is ordered phases of actions.

A template is saved as an immutable version; a running process carries a frozen copy
of the version it started with. Every model forbids unknown fields so a typo in a
template is an error with its path, never a silently ignored key.
"""

from __future__ import annotations

import enum
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from processes.errors import did_you_mean

CURRENT_SCHEMA_VERSION = 1

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$", description="lower-case slug")]
Text = Annotated[str, Field(min_length=1, max_length=20_000)]
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _locale_field(what: str) -> Any:
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
    """When a phase starts: right after the previous phase ends (no offset), or N minutes, hours or days after."""

    after_minutes: int = Field(0, ge=0, le=60 * 24 * 366, exclude_if=lambda value: value == 0)

    @model_validator(mode="after")
    def _minutes_alone(self) -> StartRule:
        if self.after_minutes and (self.after_hours or self.after_days):
            raise ValueError("give after_minutes, after_hours or after_days, one of them")
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


RECIPIENT_ROLES = ("record_contact", "responsible", "process_owner", "record_owner", "controller")


class SendEmail(Frozen):
    """Email rendered from Jinja2 text, to a role or a fixed address."""

    to: str = Field("record_contact", description=f"one of {', '.join(RECIPIENT_ROLES)}, or an address")
    subject: Annotated[str, Field(min_length=1, max_length=500)]
    body: Text
    locale: str | None = _locale_field(TEXT_LOCALE)

    @field_validator("to")
    @classmethod
    def _recipient(cls, value: str) -> str:
        if value in RECIPIENT_ROLES or EMAIL_PATTERN.fullmatch(value):
            return value
        raise ValueError(f"'{value}' is neither an email address nor one of {', '.join(RECIPIENT_ROLES)}")


WEBHOOK_BODY = ('{"process": {{ process.id | tojson }}, "template": {{ process.template | tojson }}, '
                '"phase": {{ phase.key | tojson }}, "record": {{ record.id }}}')


class Webhook(Frozen):
    """POST a JSON body to an endpoint configured by name (WEBHOOK_ENDPOINTS), signed as Standard Webhooks says."""

    endpoint: Key = Field(description="the endpoint's name in WEBHOOK_ENDPOINTS")
    body: Text = Field(WEBHOOK_BODY, description="Jinja2 text that renders a JSON document")
    locale: str | None = _locale_field(TEXT_LOCALE)


SMS_RECIPIENTS = ("record_contact", "responsible", "process_owner", "record_owner")


class SendSms(Frozen):
    """A text message to a role's phone number or a fixed number, through the SMS gateway (or the outbox)."""

    to: str = Field("record_contact", max_length=40,
                    description=f"one of {', '.join(SMS_RECIPIENTS)}, or a phone number")
    text: Annotated[str, Field(min_length=1, max_length=1600)]
    locale: str | None = _locale_field(TEXT_LOCALE)

    @field_validator("to")
    @classmethod
    def _recipient(cls, value: str) -> str:
        if value in SMS_RECIPIENTS or re.fullmatch(r"\+?[0-9 ()./-]{6,30}", value):
            return value
        raise ValueError(f"'{value}' is neither a phone number nor one of {', '.join(SMS_RECIPIENTS)}")


APPOINTMENT_ATTENDEES = ("record_contact", "responsible", "process_owner", "record_owner")


class Appointment(Frozen):
    """A calendar entry, emailed as an invitation (.ics) to its attendees; cancelled when its phase is skipped or
    the process aborted, updated when its phase runs again."""

    title: Annotated[str, Field(min_length=1, max_length=500)]
    description: str = Field("", max_length=20_000)
    location: str = Field("", max_length=500)
    after_days: int = Field(0, ge=0, le=366, description="days after the phase starts")
    at: str = Field("09:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="local time (TIMEZONE), HH:MM")
    duration_minutes: int = Field(60, ge=5, le=24 * 60)
    attendees: list[Literal["record_contact", "responsible", "process_owner", "record_owner"]] = Field(
        ["record_contact", "responsible"], min_length=1, max_length=4)
    locale: str | None = _locale_field(TEXT_LOCALE)


class CreateTask(Frozen):
    """A task in a user's task list (the phase's responsible unless `assignee` says otherwise)."""

    title: Annotated[str, Field(min_length=1, max_length=500)]
    description: str = Field("", max_length=20_000)
    assignee: Responsible | None = None
    due_days: int | None = Field(None, ge=0, le=3650)
    locale: str | None = _locale_field(TEXT_LOCALE)


class WriteValues(Frozen):
    """Write rendered values into the record's free fields."""

    values: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], str] = Field(min_length=1)
    locale: str | None = _locale_field(TEXT_LOCALE)


class SetStatus(Frozen):
    status: Annotated[str, Field(min_length=1, max_length=64)]


class AddHistory(Frozen):
    """A free entry in the record's history (activity log)."""

    text: Text
    locale: str | None = _locale_field(TEXT_LOCALE)


class Reminder(Offset):
    """Email the phase's responsible user N hours/days into the phase, if it is still open."""

    message: Text = "Reminder: phase '{{ phase.name }}' of '{{ process.template_name }}' is still open."
    locale: str | None = _locale_field(TEXT_LOCALE)

    @model_validator(mode="after")
    def _has_offset(self) -> Reminder:
        if not self.delay:
            raise ValueError("give after_hours or after_days (greater than 0)")
        return self


class EndProcess(Frozen):
    """End the process after this action; the remaining phases do not run."""

    reason: str = Field("", max_length=500)


class StartFollowUp(Frozen):
    """Start a process (another template, or this one again) when this process has ended.

    The follow-up runs on its own; `start` counts from the end of this process.
    """

    template: Key
    start: StartRule = StartRule()
    owner: Responsible = Field(Responsible(), description="the follow-up's process owner")
    record: Literal["same", "contact"] = Field("same", description="this record, or its linked contact")


class SubstateChange(Frozen):
    """Open or close a substate of the status the record is in (a move: checked and written like one)."""

    substate: Annotated[str, Field(min_length=1, max_length=64)]


class StartProcess(Frozen):
    """Start a process of a saved template on the record now (it runs on its own)."""

    template: Key
    owner: Responsible = Field(Responsible(kind="record_owner"), description="its process owner; default: the "
                                                                              "record's owner")


class Notify(Frozen):
    """Email chosen users, and every active user of chosen roles, about the record."""

    users: list[Key] = Field(default_factory=list, max_length=50, description="user handles")
    roles: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=20)
    subject: Annotated[str, Field(min_length=1, max_length=500)] = "{{ record.title }}: {{ record.status }}"
    message: Text = "{{ record.title }} is now {{ record.status }}."
    locale: str | None = _locale_field(TEXT_LOCALE)

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
        if all(v is None for v in (self.equals, self.one_of, self.prefix, self.min, self.max)):
            raise ValueError("give equals, one_of, prefix, min or max")
        return self


class Candidates(Frozen):
    """Who may be assigned when the record matches every rule: the active users of the role, or those listed."""

    rules: list[Rule] = Field(default_factory=list, max_length=20)
    users: list[Key] = Field(default_factory=list, max_length=200, description="user handles; none: the role's")


class Assign(Frozen):
    """Assign a role on the record (salesperson, installer...) by assignment criteria: the first criterion whose rules
    the record matches gives the candidates; `round_robin` takes turns among them, `least_loaded` picks the one
    holding the role on the fewest records. No active candidate is an incident. The assignee then sees the record."""

    role: Annotated[str, Field(min_length=1, max_length=64)]
    criteria: list[Candidates] = Field(default_factory=lambda: [Candidates()], min_length=1, max_length=50)
    strategy: Literal["round_robin", "least_loaded"] = "round_robin"


ACTION_KINDS: dict[str, type[Frozen]] = {
    "send_email": SendEmail,
    "webhook": Webhook,
    "send_sms": SendSms,
    "appointment": Appointment,
    "create_task": CreateTask,
    "write_values": WriteValues,
    "set_status": SetStatus,
    "add_history": AddHistory,
    "reminder": Reminder,
    "end_process": EndProcess,
    "start_follow_up": StartFollowUp,
    "open_substate": SubstateChange,
    "close_substate": SubstateChange,
    "start_process": StartProcess,
    "notify": Notify,
    "assign": Assign,
}

# the kinds of the first version: a full dump of an action (every kind, unset ones as None) has them all
FIRST_KINDS = frozenset({"send_email", "create_task", "write_values", "set_status", "add_history", "reminder",
                         "end_process", "start_follow_up"})


def one_kind(value: Any, kinds: dict[str, Any], what: str = "action", first: frozenset[str] | None = None) -> Any:
    """An action written as a one-key mapping (`- send_email: {...}`), checked against `kinds`; `None` options
    (`- end_process:` in YAML) mean none. `first`: the kinds of the first version, which a full dump of any
    version has (every kind of its time, unset ones as None); by default all of `kinds`."""
    if not isinstance(value, dict):
        return value
    if (first if first is not None else frozenset(kinds)) <= set(value) <= set(kinds):  # a full dump
        value = {k: v for k, v in value.items() if v is not None}
    found, unknown = [k for k in value if k in kinds], [k for k in value if k not in kinds]
    if unknown:
        raise ValueError(f"unknown {what} '{unknown[0]}'{did_you_mean(unknown[0], kinds)}; "
                         f"{what}s are {', '.join(kinds)}")
    if len(found) != 1:
        raise ValueError(f"an {what} has exactly one kind, got {len(found)}: {', '.join(found) or 'none'}")
    return {k: ({} if v is None else v) for k, v in value.items()}


class Action(Frozen):
    """One action, written as a one-key mapping: `- send_email: {to: ..., subject: ...}`."""

    send_email: SendEmail | None = None
    webhook: Webhook | None = None
    send_sms: SendSms | None = None
    appointment: Appointment | None = None
    create_task: CreateTask | None = None
    write_values: WriteValues | None = None
    set_status: SetStatus | None = None
    add_history: AddHistory | None = None
    reminder: Reminder | None = None
    end_process: EndProcess | None = None
    start_follow_up: StartFollowUp | None = None
    open_substate: SubstateChange | None = None
    close_substate: SubstateChange | None = None
    start_process: StartProcess | None = None
    notify: Notify | None = None
    assign: Assign | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, value: Any) -> Any:
        return one_kind(value, ACTION_KINDS, first=FIRST_KINDS)

    @model_serializer(mode="wrap")
    def _only_kind(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}

    @property
    def kind(self) -> str:
        return next(k for k in ACTION_KINDS if getattr(self, k) is not None)

    @property
    def spec(self) -> Frozen:
        return getattr(self, self.kind)


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
    locale: str | None = _locale_field("the language of the template's text (dates, numbers, money: it, fr, de, "
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
