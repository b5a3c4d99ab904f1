"""The action kinds of the template language: what one action of a phase (or of a status's automation) does.

An action is written as a one-key mapping (`- send_email: {...}`); `Action` checks that it has exactly one
known kind, and `ACTION_KINDS` lists them (each is also in the retry-safety table, `processes/retry_safety.py`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, Field, SerializerFunctionWrapHandler, field_validator, model_serializer,
                      model_validator)

from processes.errors import did_you_mean
from processes.template_basics import (EMAIL_PATTERN, TEXT_LOCALE, Frozen, Key, Offset, Responsible, StartRule,
                                       Text, locale_field)

RECIPIENT_ROLES = ("record_contact", "responsible", "process_owner", "record_owner", "controller")


def _not_blank(value: str) -> str:
    if not value.strip():  # a letter named "   " was kept as ".pdf"
        raise ValueError("expected some text, not only spaces")
    return value


def email_recipient(value: str) -> str:
    if value in RECIPIENT_ROLES or EMAIL_PATTERN.fullmatch(value):
        return value
    raise ValueError(f"'{value}' is neither an email address nor one of {', '.join(RECIPIENT_ROLES)}")


class SendEmail(Frozen):
    """Email rendered from Jinja2 text, to a role or a fixed address."""

    to: str = Field("record_contact", description=f"one of {', '.join(RECIPIENT_ROLES)}, or an address")
    subject: Annotated[str, Field(min_length=1, max_length=500)]
    body: Text
    locale: str | None = locale_field(TEXT_LOCALE)

    _recipient = field_validator("to")(email_recipient)


WEBHOOK_BODY = ('{"process": {{ process.id | tojson }}, "template": {{ process.template | tojson }}, '
                '"phase": {{ phase.key | tojson }}, "record": {{ record.id }}}')


class Webhook(Frozen):
    """POST a JSON body to an endpoint configured by name (WEBHOOK_ENDPOINTS), signed as Standard Webhooks says."""

    endpoint: Key = Field(description="the endpoint's name in WEBHOOK_ENDPOINTS")
    body: Text = Field(WEBHOOK_BODY, description="Jinja2 text that renders a JSON document")
    locale: str | None = locale_field(TEXT_LOCALE)


SMS_RECIPIENTS = ("record_contact", "responsible", "process_owner", "record_owner")


class SendSms(Frozen):
    """A text message to a role's phone number or a fixed number, through the SMS gateway (or the outbox)."""

    to: str = Field("record_contact", max_length=40,
                    description=f"one of {', '.join(SMS_RECIPIENTS)}, or a phone number")
    text: Annotated[str, Field(min_length=1, max_length=1600)]
    locale: str | None = locale_field(TEXT_LOCALE)

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
    locale: str | None = locale_field(TEXT_LOCALE)


class LetterEmail(Frozen):
    """The email a letter or report is sent with, the PDF attached."""

    to: str = Field("record_contact", max_length=320,
                    description=f"one of {', '.join(RECIPIENT_ROLES)}, or an address")
    subject: Annotated[str, Field(min_length=1, max_length=500)]
    body: Text

    _recipient = field_validator("to")(email_recipient)


LETTER_NAME = "{{ phase.name }} - {{ record.title }}.pdf"


class Letter(Frozen):
    """An HTML Jinja2 template made a PDF, kept as a document of the record (a new version of the record's document
    of that name, if it has one); optionally emailed with the PDF attached. `letter` and `report` are the same."""

    name: Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_not_blank)] = Field(
        LETTER_NAME, description="the document's file name (Jinja2 text; .pdf is added when missing)")
    html: Text = Field(description="Jinja2 text that renders HTML: the values it shows are escaped")
    title: str = Field("", max_length=500, description="the PDF's title (Jinja2 text); default: its name")
    email: LetterEmail | None = None
    locale: str | None = locale_field(TEXT_LOCALE)


class CreateTask(Frozen):
    """A task in a user's task list (the phase's responsible unless `assignee` says otherwise)."""

    title: Annotated[str, Field(min_length=1, max_length=500)]
    description: str = Field("", max_length=20_000)
    assignee: Responsible | None = None
    due_days: int | None = Field(None, ge=0, le=3650)
    locale: str | None = locale_field(TEXT_LOCALE)


class WriteValues(Frozen):
    """Write rendered values into the record's free fields."""

    values: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], str] = Field(min_length=1)
    locale: str | None = locale_field(TEXT_LOCALE)


class SetStatus(Frozen):
    status: Annotated[str, Field(min_length=1, max_length=64)]


class AddHistory(Frozen):
    """A free entry in the record's history (activity log)."""

    text: Text
    locale: str | None = locale_field(TEXT_LOCALE)


# texts an action has when its template leaves them out (these and OWNER_MESSAGE): the engine says them in the
# office's language (activities/engine_words.py, `default_text`)
REMINDER_MESSAGE = "Reminder: phase '{{ phase.name }}' of '{{ process.template_name }}' is still open."
NOTIFY_MESSAGE = "{{ record.title }} is now {{ record.status }}."


class Reminder(Offset):
    """Email the phase's responsible user N hours/days into the phase, if it is still open."""

    message: Text = REMINDER_MESSAGE
    locale: str | None = locale_field(TEXT_LOCALE)

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
    message: Text = NOTIFY_MESSAGE
    locale: str | None = locale_field(TEXT_LOCALE)

    @model_validator(mode="after")
    def _someone(self) -> Notify:
        if not self.users and not self.roles:
            raise ValueError("name the users or the roles to notify")
        return self


class ForwardEmail(Frozen):
    """Forward a stored email of the record to a person: the last one logged on its timeline (received or sent
    outside Stagecoach, logged by staff), or the last one a process sent about it (with its attachments)."""

    to: str = Field("responsible", max_length=320,
                    description=f"one of {', '.join(RECIPIENT_ROLES)}, or an address")
    email: Literal["last_logged", "last_sent"] = Field("last_logged", description="which stored email")
    note: str = Field("", max_length=20_000, description="Jinja2 text written above the forwarded email")
    locale: str | None = locale_field(TEXT_LOCALE)

    _recipient = field_validator("to")(email_recipient)


OWNER_SUBJECT = "{{ record.title }}: {{ record.status }}"
OWNER_MESSAGE = ("Good day,\n\nan update on {{ record.title }}.\n\nStatus: {{ record.status }}\n"
                 "Process: {{ process.template_name }}, phase: {{ phase.name }}\n"
                 "{% if record.owner %}Your contact: {{ record.owner.name }}, {{ record.owner.email }}\n{% endif %}")


class NotifyOwner(Frozen):
    """Email the owner a summary: `owner` is the property's owner (the contact a property record links) when there
    is one, else the record's owner (a user); `property_owner` and `record_owner` say which."""

    to: Literal["owner", "property_owner", "record_owner"] = "owner"
    subject: Annotated[str, Field(min_length=1, max_length=500)] = OWNER_SUBJECT
    message: Text = OWNER_MESSAGE
    history: int = Field(0, ge=0, le=50, description="the record's last N history lines added below the message")
    locale: str | None = locale_field(TEXT_LOCALE)


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


class RequestReminders(Frozen):
    """Email the client again when the request is still unanswered: every `every_days`, at most `count` times."""

    every_days: int = Field(ge=1, le=90)
    count: int = Field(1, ge=1, le=20)


class SendClientRequest(Frozen):
    """Send the record's contact a client request made from a request template (a link to a form), linked to the
    record. With `auto_move`, the client's submission completes the phase (a process) or moves the record to the
    next status of its type (a status's automation)."""

    template: Key = Field(description="the request template's key")
    auto_move: bool = True
    expires_days: int | None = Field(None, ge=1, le=366, description="default: CLIENT_REQUEST_EXPIRY_DAYS")
    reminders: RequestReminders | None = None
    to: str = Field("record_contact", description="record_contact, or an address")
    language: str | None = Field(None, max_length=10, description="the form's and the email's language; default: "
                                                                  "the request template's")

    @field_validator("to")
    @classmethod
    def _recipient(cls, value: str) -> str:
        if value == "record_contact" or EMAIL_PATTERN.fullmatch(value):
            return value
        raise ValueError(f"'{value}' is neither an email address nor record_contact")


class RequestSignature(Frozen):
    """Send a document a `letter` or `report` action made earlier in the process to a signing provider; the phase
    (of a process) waits for the provider's answer: signed, declined or expired (`phases.<key>.signature`)."""

    document: Annotated[str, Field(min_length=1, max_length=255)] = Field(
        LETTER_NAME, description="the document's file name: the `name` of the letter or report that made it")
    signer: str = Field("record_contact", max_length=320, description="record_contact, or an address")
    provider: Key = Field("embedded", description="a name in SIGNING_PROVIDERS, or `embedded`")
    expires_days: int = Field(14, ge=1, le=366, description="unsigned after this many days: expired")

    @field_validator("signer")
    @classmethod
    def _signer(cls, value: str) -> str:
        if value == "record_contact" or EMAIL_PATTERN.fullmatch(value):
            return value
        raise ValueError(f"'{value}' is neither an email address nor record_contact")


ACTION_KINDS: dict[str, type[Frozen]] = {
    "send_email": SendEmail,
    "webhook": Webhook,
    "send_sms": SendSms,
    "appointment": Appointment,
    "letter": Letter,
    "report": Letter,
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
    "send_client_request": SendClientRequest,
    "forward_email": ForwardEmail,
    "notify_owner": NotifyOwner,
    "request_signature": RequestSignature,
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
    letter: Letter | None = None
    report: Letter | None = None
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
    send_client_request: SendClientRequest | None = None
    forward_email: ForwardEmail | None = None
    notify_owner: NotifyOwner | None = None
    request_signature: RequestSignature | None = None

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
