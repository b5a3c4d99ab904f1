"""An import job: the file staff sent, how it is read, and how far it got."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Field, SQLModel

from crm.types import UTCDateTime, utcnow


class ImportKind(str, enum.Enum):
    contacts = "contacts"
    cases = "cases"


class ImportMode(str, enum.Enum):
    all_or_nothing = "all_or_nothing"  # nothing is written unless every row is valid
    valid_rows = "valid_rows"  # the valid rows are written; the others come back as CSV with a reason


class ImportStatus(str, enum.Enum):
    validating = "validating"  # sent: its header read, its rows not yet
    importing = "importing"  # its rows being checked and written (one transaction)
    done = "done"
    refused = "refused"  # rows are invalid and the mode is all_or_nothing: nothing was written
    failed = "failed"  # stopped by an error (or interrupted): nothing was written


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_job"

    id: int | None = Field(default=None, primary_key=True)
    kind: ImportKind = Field(sa_type=sa.Enum(ImportKind, native_enum=False, length=32))
    mode: ImportMode = Field(sa_type=sa.Enum(ImportMode, native_enum=False, length=32))
    status: ImportStatus = Field(default=ImportStatus.validating,
                                 sa_type=sa.Enum(ImportStatus, native_enum=False, length=32))
    api_key_id: int | None = Field(default=None, foreign_key="api_key.id", index=True,
                                   description="who sent it: an API key, or")
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True,
                                description="a user signed in to the console")
    encoding: str = Field(default="", max_length=32)
    delimiter: str = Field(default="", max_length=1)
    columns: list[str] = Field(default_factory=list, sa_type=JSON, description="the file's header")
    mapping: dict[str, str] = Field(default_factory=dict, sa_type=JSON, description="column -> field")
    rows_read: int = 0
    rows_invalid: int = 0
    rows_written: int = 0
    errors: list[str] = Field(default_factory=list, sa_type=JSON, description="the first 1,000 errors")
    detail: str = Field(default="", sa_type=sa.Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ImportJobPublic(SQLModel):
    id: int
    kind: ImportKind
    mode: ImportMode
    status: ImportStatus
    encoding: str
    delimiter: str
    columns: list[str]
    mapping: dict[str, Any]
    rows_read: int
    rows_invalid: int
    rows_written: int
    errors: list[str]
    detail: str
    created_at: datetime
    finished_at: datetime | None
    rejected_url: str | None = None
