"""The tables, with the SQLModel family per entity: XBase, X(table=True), XCreate, XUpdate, XPublic.

The API returns `*Public` models only. Rows that record a side effect of a process (task, history entry,
outbox message) carry the step key of that effect, unique, so a retried activity finds its earlier write.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import EmailStr
from sqlmodel import JSON, Field, SQLModel

from crm import free_fields
from crm.patch import Patch
from crm.text_search import FOLD_FUNCTION
from crm.types import UTCDateTime, utcnow
from processes.sent_values import Line, PhoneNumber, Text, TrueOrFalse, WholeNumber
from processes.template_basics import KEY_PATTERN, RecordKind


def _enum(cls: type[enum.Enum]) -> sa.Enum:
    return sa.Enum(cls, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e],
                   validate_strings=True)


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# --- users ---------------------------------------------------------------------------

class UserBase(SQLModel):
    handle: str = Field(index=True, unique=True, max_length=63)
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr = Field(max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    role: str = Field(default="agent", max_length=64, description="the user's job: agent, installer, accountant...")
    active: TrueOrFalse = Field(default=True, sa_column_kwargs={"server_default": sa.true()},
                         description="an inactive user is never assigned records by an automation")


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _created()
    password_hash: str | None = Field(default=None, max_length=200, description="argon2id; the console's sign-in")
    console_role: str = Field(default="staff", max_length=16, sa_column_kwargs={"server_default": "staff"},
                              description="staff or admin, in the console")


class UserCreate(UserBase):
    # checked on the way in only: a handle saved before the check (when it was declared as `regex=`, which pydantic 2
    # ignores) is still answered; `pattern` is pydantic's own keyword, passed through schema_extra
    handle: str = Field(max_length=63, schema_extra={"pattern": KEY_PATTERN},
                        description="how templates, imports and the console's sign-in name the user: a lower-case "
                                    "letter, then lower-case letters, digits, - and _")
    name: Text = Field(min_length=1, max_length=200)
    role: Text = Field(default="agent", max_length=64, description="the user's job: agent, installer, accountant...")
    phone: PhoneNumber | None = None


class UserUpdate(Patch):
    name: Text = Field(default=None, min_length=1, max_length=200)
    email: EmailStr = Field(default=None, max_length=320)
    phone: PhoneNumber | None = None
    role: Text = Field(default=None, max_length=64)
    active: TrueOrFalse = None  # type: ignore[assignment]


class UserPublic(UserBase):
    id: int
    created_at: datetime


# --- API keys ------------------------------------------------------------------------

class ApiRole(str, enum.Enum):
    """What an API key may do. Each role includes the ones below it."""

    client = "client"
    staff = "staff"
    admin = "admin"

    @property
    def rank(self) -> int:
        return ["client", "staff", "admin"].index(self.value)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    role: ApiRole = Field(sa_type=_enum(ApiRole))
    prefix: str = Field(max_length=16, description="the first characters, to tell keys apart")
    key_hash: str = Field(unique=True, max_length=64)
    user_id: int | None = Field(default=None, foreign_key="user.id", description="the staff user acting")
    created_at: datetime = _created()
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- records -------------------------------------------------------------------------

class RecordBase(SQLModel):
    kind: RecordKind = Field(sa_type=_enum(RecordKind), index=True)
    type: str = Field(default="", max_length=64, description="the record type within its kind")
    status: str = Field(default="New", max_length=64)
    title: str = Field(min_length=1, max_length=300)
    email: EmailStr | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    channel: str = Field(default="", max_length=64, description="where it came from: web, phone, partner...")
    owner_id: WholeNumber | None = Field(default=None, foreign_key="user.id", index=True)
    contact_id: WholeNumber | None = Field(default=None, foreign_key="record.id",
                                           description="the contact record this record belongs to")
    fields: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    restricted: TrueOrFalse = Field(default=False, index=True, sa_column_kwargs={"server_default": sa.false()},
                                    description="seen only by its owner, the users on its access list, and admins")


TITLE_SEARCH_INDEX = "ix_record_title_folded_trgm"


class Record(RecordBase, table=True):
    # The title search (`?q=`, `stagecoach_fold(title) LIKE '%…%'`, crm/text_search.py): a trigram index on the
    # folded title in PostgreSQL (pg_trgm). SQLite scans, fast enough at its scale (bench/data_scale.py), and has no
    # such index: its folding is a Python function each connection registers, which an index must not depend on.
    # The pipeline board counts and pages a pipeline's records by type and status (crm/pipeline_board.py).
    __table_args__ = (sa.Index(TITLE_SEARCH_INDEX, getattr(sa.func, FOLD_FUNCTION)(sa.column("title")).label("folded"),
                               postgresql_using="gin", postgresql_ops={"folded": "gin_trgm_ops"})
                      .ddl_if(dialect="postgresql"),
                      sa.Index("ix_record_kind_type_status_id", "kind", "type", "status", "id"))

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = _created()
    updated_at: datetime = _created()
    # the record's moves, counted: each move (crm/pipeline_moves.py) checks it and bumps it, so of two racing
    # moves one wins; the move that entered its status (its visit) and each open substate's keys their automations
    moves: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    visit: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    substates: dict[str, int] = Field(default_factory=dict, sa_type=JSON, sa_column_kwargs={"server_default": "{}"},
                                      description="the substates open in its status, each with the move that opened it")


class RecordAccess(SQLModel, table=True):
    """A user listed on a restricted record: they see it, its history, processes, tasks and email."""

    __tablename__ = "record_access"

    record_id: int = Field(foreign_key="record.id", primary_key=True)
    user_id: int = Field(foreign_key="user.id", primary_key=True, index=True)


class RecordCreate(RecordBase):
    type: Line = Field(default="", max_length=64, description="the record type within its kind")
    channel: Line = Field(default="", max_length=64, description="where it came from: web, phone, partner...")
    status: Text = Field(default="New", max_length=64)
    title: Text = Field(min_length=1, max_length=300)
    phone: PhoneNumber | None = None
    fields: free_fields.FreeFields = Field(default_factory=dict, description=f"free fields: {free_fields.LIMITS}")
    access_user_ids: list[WholeNumber] = Field(default_factory=list, max_length=500,
                                               description="the users who see the record when it is restricted")


class RecordUpdate(Patch):
    type: Line = Field(default=None, max_length=64)
    status: Text = Field(default=None, min_length=1, max_length=64)
    title: Text = Field(default=None, min_length=1, max_length=300)
    email: EmailStr | None = Field(default=None, max_length=320)
    phone: PhoneNumber | None = None
    channel: Line = Field(default=None, max_length=64)
    owner_id: WholeNumber | None = None
    contact_id: WholeNumber | None = None
    fields: free_fields.FreeFields = Field(default=None, description=f"merged into its fields: {free_fields.LIMITS}")
    restricted: TrueOrFalse = None  # type: ignore[assignment]
    access_user_ids: list[WholeNumber] = Field(default=None, max_length=500, description="replaces the record's access list")


class RecordPublic(RecordBase):
    id: int
    created_at: datetime
    updated_at: datetime
    moves: int = 0
    substates: dict[str, int] = Field(default_factory=dict, description="the substates open in its status, each "
                                                                         "with the move that opened it")
    access_user_ids: list[int] = Field(default_factory=list)


# --- record events (autostart) ---------------------------------------------------------

class RecordEventKind(str, enum.Enum):
    created = "created"
    status_changed = "status_changed"
    field_changed = "field_changed"
    substate_opened = "substate_opened"
    substate_closed = "substate_closed"
    # a pipeline's save moved the record out of a status it removed (`remap`): the pipeline's move, not the record's;
    # what the status's automations scheduled stops, and no automation or autostart runs
    status_remapped = "status_remapped"


class RecordEvent(SQLModel, table=True):
    """A change to a record that may start processes, written in the transaction of the change; dispatched once:
    each start it causes is keyed by the event id and the template."""

    __tablename__ = "record_event"

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="record.id", index=True)
    kind: RecordEventKind = Field(sa_type=_enum(RecordEventKind))
    status: str | None = Field(default=None, max_length=64, description="status_changed: the new status")
    # a move (crm/pipeline_moves.py): the status left and the visits, for the automations of both statuses
    previous_status: str | None = Field(default=None, max_length=64)
    previous_visit: int | None = None
    visit: int | None = Field(default=None, description="the move that entered the status or opened the substate")
    substate: str | None = Field(default=None, max_length=64)
    previous_substates: dict[str, int] | None = Field(default=None, sa_type=JSON,
                                                      description="status_changed: the substates open in the status "
                                                                  "left (closed by the move), with their visits")
    fields: list[str] = Field(default_factory=list, sa_type=JSON, description="field_changed: the fields")
    actor: str = Field(default="", max_length=200)
    actor_user_id: int | None = Field(default=None, foreign_key="user.id")
    step_key: str | None = Field(default=None, unique=True, max_length=400,
                                 description="set when a process step caused the change")
    created_at: datetime = _created()
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


# --- tasks ---------------------------------------------------------------------------

class TaskStatus(str, enum.Enum):
    open = "open"
    done = "done"
    cancelled = "cancelled"


class TaskKind(str, enum.Enum):
    phase = "phase"  # completing it completes its phase (manual, or one whose client request ended unanswered)
    action = "action"  # made by a create_task action; completing it just closes it
    manual = "manual"  # made by staff on a record (api/routers/tasks.py): its own due date and reminder


class Task(SQLModel, table=True):
    # a user's task list: by assignee and status, by due date (nulls last) then id (bench/data_scale.py); the open
    # phase tasks by due date: the processes overdue (crm/process_list.py `overdue_runs`)
    __table_args__ = (sa.Index("ix_task_assignee_id_status_due_at_id", "assignee_id", "status", "due_at", "id"),
                      sa.Index("ix_task_kind_status_due_at_workflow_id", "kind", "status", "due_at", "workflow_id"))

    id: int | None = Field(default=None, primary_key=True)
    step_key: str = Field(unique=True, max_length=400)
    kind: TaskKind = Field(sa_type=_enum(TaskKind))
    workflow_id: str = Field(index=True, max_length=255)
    phase_key: str = Field(max_length=63)
    record_id: int | None = Field(default=None, foreign_key="record.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="user.id")
    title: str = Field(max_length=500)
    description: str = Field(default="", sa_type=sa.Text)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    category: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    remind_minutes_before: int | None = Field(default=None, description="a reminder this long before due_at")
    status: TaskStatus = Field(default=TaskStatus.open, sa_type=_enum(TaskStatus), index=True)
    created_at: datetime = _created()
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_by: str | None = Field(default=None, max_length=200)
    close_reason: str | None = Field(default=None, max_length=1000,
                                     description="why it was closed when its process was aborted or cancelled")


class TaskPublic(SQLModel):
    id: int
    kind: TaskKind
    workflow_id: str
    phase_key: str
    record_id: int | None
    assignee_id: int | None
    title: str
    description: str
    due_at: datetime | None
    category: str = ""
    remind_minutes_before: int | None = None
    status: TaskStatus
    overdue: bool = False
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None
    close_reason: str | None = None


# --- history -------------------------------------------------------------------------

class HistoryKind(str, enum.Enum):
    process_started = "process_started"
    process_ended = "process_ended"
    process_aborted = "process_aborted"
    owner_changed = "owner_changed"
    phase_started = "phase_started"
    phase_done = "phase_done"
    phase_skipped = "phase_skipped"
    phase_overdue = "phase_overdue"
    email_sent = "email_sent"
    appointment_sent = "appointment_sent"
    appointment_cancelled = "appointment_cancelled"
    webhook_sent = "webhook_sent"
    sms_sent = "sms_sent"
    task_created = "task_created"
    task_completed = "task_completed"
    task_deleted = "task_deleted"
    values_written = "values_written"
    status_changed = "status_changed"
    substate_opened = "substate_opened"
    substate_closed = "substate_closed"
    type_changed = "type_changed"
    assigned = "assigned"
    reminder_sent = "reminder_sent"
    incident = "incident"
    incident_resolved = "incident_resolved"
    decision = "decision"
    follow_up_started = "follow_up_started"
    follow_up_failed = "follow_up_failed"
    loop_guard = "loop_guard"
    notice_not_sent = "notice_not_sent"  # an email the engine sends by itself (a loop guard notice) was not sent
    request_refused = "request_refused"
    note = "note"  # a note staff wrote (POST /records/{id}/events), or a change noted by the API
    call = "call"  # a call staff logged
    meeting = "meeting"  # a meeting staff logged
    email_logged = "email_logged"  # an email staff logged (one sent or received outside Stagecoach)
    case_created = "case_created"
    participant_added = "participant_added"
    participant_removed = "participant_removed"
    tags_changed = "tags_changed"
    case_closed = "case_closed"
    case_reopened = "case_reopened"
    document_added = "document_added"
    document_version_added = "document_version_added"
    document_deleted = "document_deleted"
    client_request_sent = "client_request_sent"
    client_request_submitted = "client_request_submitted"
    client_request_cancelled = "client_request_cancelled"
    client_request_linked = "client_request_linked"
    client_request_expired = "client_request_expired"  # past its expiry unanswered (the sweep marks it)
    client_request_unanswered = "client_request_unanswered"  # a phase waiting for it learnt it ended unanswered
    signature_requested = "signature_requested"
    signature_completed = "signature_completed"  # signed, declined or expired (`data.outcome`)


class HistoryEntry(SQLModel, table=True):
    """One line of a record's activity log."""

    __tablename__ = "history_entry"
    # a record's history, in id order, straight from the index (bench/data_scale.py)
    __table_args__ = (sa.Index("ix_history_entry_record_id_id", "record_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="record.id")
    step_key: str | None = Field(default=None, unique=True, max_length=400)
    kind: HistoryKind = Field(sa_type=_enum(HistoryKind))
    text: str = Field(sa_type=sa.Text)
    workflow_id: str | None = Field(default=None, max_length=255, index=True)
    phase_key: str | None = Field(default=None, max_length=63)
    actor: str = Field(default="", max_length=200)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    created_at: datetime = _created()


class HistoryEntryPublic(SQLModel):
    id: int
    record_id: int
    kind: HistoryKind
    text: str
    workflow_id: str | None
    phase_key: str | None
    actor: str
    data: dict[str, Any]
    created_at: datetime


# --- outbound email ------------------------------------------------------------------

class MessageStatus(str, enum.Enum):
    pending = "pending"  # recorded, delivery not confirmed yet
    sent = "sent"  # accepted by the SMTP server
    held = "held"  # no SMTP server configured: kept in the outbox
    failed = "failed"  # refused for good (5xx) at the last attempt: not sent (a staff retry may send it)


class OutboxMessage(SQLModel, table=True):
    """Every email a process sends, recorded before it is sent; the outbox of the embedded default."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    step_key: str = Field(unique=True, max_length=400)
    message_id: str = Field(max_length=400)
    workflow_id: str | None = Field(default=None, max_length=255, index=True)
    record_id: int | None = Field(default=None, foreign_key="record.id", index=True)
    to_address: str = Field(max_length=320)
    subject: str = Field(max_length=1000)
    body: str = Field(sa_type=sa.Text)
    # files sent with it, as sent on every attempt: [{filename, content_type, size, data (base64)}]
    attachments: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON,
                                              sa_column_kwargs={"server_default": "[]"})
    status: MessageStatus = Field(default=MessageStatus.pending, sa_type=_enum(MessageStatus), index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AttachmentPublic(SQLModel):
    filename: str
    content_type: str
    size: int


class OutboxMessagePublic(SQLModel):
    id: int
    message_id: str
    workflow_id: str | None
    record_id: int | None
    to_address: str
    subject: str
    body: str
    attachments: list[AttachmentPublic] = []
    status: MessageStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
