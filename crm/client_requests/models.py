"""Client requests: the rows. A request template (versioned like process templates) lists the questions;
a request is one sent to a record's contact, reached through a link whose token is stored only hashed;
a submission is its outbox row, delivered to the workflow waiting for it by the dispatcher, and so is the end of a
request a process waits for that was cancelled or expired unanswered (`ClientRequestClosure`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from crm.types import UTCDateTime, utcnow


def _at(nullable: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True)
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


CONTACT_EMAIL_INDEX = "ix_client_request_lower_contact_email"


class RequestStatus(StrEnum):
    pending = "pending"  # sent, the client has not answered yet
    submitted = "submitted"
    cancelled = "cancelled"
    expired = "expired"


class AutoMove(StrEnum):
    """What a submission does to what the request is linked to."""

    off = "off"  # nothing: staff read the answers
    on = "on"  # the phase waiting for it completes, or the record moves to the next status


class ClientRequestTemplate(SQLModel, table=True):
    """One version of a request template: title, message and questions (`questions`, validated at save)."""

    __tablename__ = "client_request_template"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, index=True)
    version: int
    language: str = Field(default="it", max_length=10)
    title: str = Field(max_length=200)
    message: str = Field(default="", max_length=10_000)
    questions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # the YAML or JSON text it was saved from, comments and layout and all (None: saved from data, or before
    # migration 0020); never read for sending a request: the columns above are the template
    source_text: str | None = Field(default=None, sa_type=sa.Text)
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = _at()


class ClientRequest(SQLModel, table=True):
    """A request sent to a record's contact. Its questions are a copy of its template's version at sending,
    so a later version of the template does not change what the client was asked."""

    __tablename__ = "client_request"
    # a client's requests by address, whatever its case (the record page's requests not linked yet, `?contact_email=`)
    __table_args__ = (sa.Index(CONTACT_EMAIL_INDEX, sa.text("lower(contact_email)")),)

    id: int | None = Field(default=None, primary_key=True)
    record_id: int | None = Field(default=None, foreign_key="record.id", index=True)  # None: not linked yet
    contact_email: str = Field(default="", max_length=320)
    template_key: str = Field(max_length=100)
    template_version: int
    language: str = Field(max_length=10)
    title: str = Field(max_length=200)
    message: str = Field(default="", max_length=10_000)
    questions: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    token_hash: str = Field(max_length=64, unique=True)  # SHA-256 of the link's token, in hex
    status: RequestStatus = Field(default=RequestStatus.pending, index=True,
                                  sa_type=sa.Enum(RequestStatus, native_enum=False, length=32))
    auto_move: AutoMove = Field(default=AutoMove.off, sa_type=sa.Enum(AutoMove, native_enum=False, length=32))
    # who waits for the submission: a process's workflow and its phase, or a record's status (pipeline)
    waiting_workflow_id: str | None = Field(default=None, max_length=200)
    waiting_phase_key: str | None = Field(default=None, max_length=100)
    waiting_status: str | None = Field(default=None, max_length=100)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    reminders_sent: int = 0
    answers: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_by: str = Field(default="", max_length=200)
    created_at: datetime = _at()
    submitted_at: datetime | None = _at(nullable=True)
    closed_by: str | None = Field(default=None, max_length=200)  # who cancelled it
    closed_at: datetime | None = _at(nullable=True)


class ClientRequestSubmission(SQLModel, table=True):
    """The outbox row written in the same transaction as a submission: the dispatcher signals the waiting
    workflow (signal-with-start where it may not run) and marks it delivered; a crash in between retries."""

    __tablename__ = "client_request_submission"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="client_request.id", unique=True)
    created_at: datetime = _at()
    delivered_at: datetime | None = _at(nullable=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2_000)


class ClientRequestClosure(SQLModel, table=True):
    """The outbox row written in the same transaction as a request's end without answers (`cancelled` by staff,
    `expired` by the sweep) when a process's phase waits for it: the dispatcher signals `client_request_closed` to
    that process and marks it delivered; a crash in between retries. A request resent and ending again has one more."""

    __tablename__ = "client_request_closure"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="client_request.id", index=True)
    outcome: RequestStatus = Field(sa_type=sa.Enum(RequestStatus, native_enum=False, length=32))
    created_at: datetime = _at()
    delivered_at: datetime | None = _at(nullable=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=2_000)


class ReplacedLink(SQLModel, table=True):
    """A request's link that a resend replaced: its token's hash, kept so that the client who opens an older email's
    link is told a newer one was sent (and when) instead of "not found"."""

    __tablename__ = "client_request_replaced_link"

    token_hash: str = Field(max_length=64, primary_key=True)  # SHA-256 of the replaced link's token, in hex
    request_id: int = Field(foreign_key="client_request.id", index=True)
    replaced_at: datetime = _at()
