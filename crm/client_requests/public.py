"""What the staff API answers about client requests and their templates (the rows' `*Public` shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from crm.client_requests.models import AutoMove, RequestStatus
from processes.sent_values import TrueOrFalse, WholeNumber
from processes.template_basics import KEY_PATTERN


class RequestTemplatePublic(BaseModel):
    key: str
    version: int
    language: str
    title: str
    message: str
    questions: list[dict[str, Any]]
    created_by: str
    created_at: datetime


class RequestTemplateSummary(BaseModel):
    key: str
    title: str
    language: str
    latest_version: int
    versions: int
    updated_at: datetime


class TemplateValidation(BaseModel):
    valid: bool
    template: dict[str, Any]


class AnswerFile(BaseModel):
    """A file the client sent: kept as a document of the linked record (none yet while the request is unlinked)."""

    question: str
    document_id: int | None
    name: str
    content_type: str
    size: int
    download_url: str | None


class ClientRequestSummary(BaseModel):
    id: int
    record_id: int | None
    contact_email: str
    template_key: str
    template_version: int
    language: str
    title: str
    status: RequestStatus
    auto_move: AutoMove
    expires_at: datetime
    created_by: str
    created_at: datetime
    submitted_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None


class ClientRequestPublic(ClientRequestSummary):
    message: str
    questions: list[dict[str, Any]]
    waiting_workflow_id: str | None
    waiting_phase_key: str | None
    waiting_status: str | None
    reminders_sent: int
    answers: dict[str, Any] | None = Field(description="by question key; a file question's answer is its files")
    files: list[AnswerFile] = []


class ClientRequestSent(ClientRequestPublic):
    link: str = Field(description="the form's address, also emailed; shown once (only its token's hash is kept)")
    outbox_step_key: str | None = Field(description="the email's outbox message; none without an address")


class ClientRequestCreate(BaseModel):
    template: str = Field(pattern=KEY_PATTERN, max_length=63, description="the template's key")
    expires_days: WholeNumber | None = Field(None, ge=1, le=3650, description="default: CLIENT_REQUEST_EXPIRY_DAYS")
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=10,
                                 description="default: the template's")
    contact_email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$",
                                      description="default: the record's address, else its contact's")


class ClientRequestLink(BaseModel):
    record_id: WholeNumber = Field(ge=1, le=2**63 - 1)
    auto_move: TrueOrFalse = Field(True, description="a pending request's answers move the record on from the status "
                                                     "it is in now, as for one its status's automation sent (when a "
                                                     "pipeline governs the record)")


class ClientRequestResend(BaseModel):
    expires_days: WholeNumber | None = Field(None, ge=1, le=3650, description="default: CLIENT_REQUEST_EXPIRY_DAYS")
