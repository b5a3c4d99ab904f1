"""A document of a record and its versions: the rows; the bytes are in the storage (crm/documents/storage.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.types import UTCDateTime, utcnow


def _created() -> datetime:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)  # type: ignore[no-any-return]


class Document(SQLModel, table=True):
    """A named file of a record; `current_version` is the one a download gives."""

    __tablename__ = "document"

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="record.id", index=True)
    name: str = Field(max_length=255)
    current_version: int = 1
    created_at: datetime = _created()
    updated_at: datetime = _created()


class DocumentVersion(SQLModel, table=True):
    """One upload of a document; older versions stay until the document is deleted."""

    __tablename__ = "document_version"
    __table_args__ = (sa.UniqueConstraint("document_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="document.id")
    number: int
    name: str = Field(max_length=255)  # the file name this version was uploaded with
    content_type: str = Field(max_length=100)  # sniffed from the bytes
    size: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=255, unique=True)
    uploaded_by: str = Field(default="", max_length=200)
    uploaded_at: datetime = _created()


class DocumentVersionPublic(SQLModel):
    number: int
    name: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    download_url: str = ""


class DocumentPublic(SQLModel):
    id: int
    record_id: int
    name: str
    current_version: int
    content_type: str
    size: int
    created_at: datetime
    updated_at: datetime
    download_url: str
    versions: list[DocumentVersionPublic]
