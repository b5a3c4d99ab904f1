"""Process template versions: each save of a template is a new immutable row; a running process is pinned to one.

`VersionBase` and `VersionPublic` are the shape of every saved document kept as versions (templates,
pipelines: crm/pipeline_models.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import computed_field
from sqlmodel import JSON, Field, SQLModel

from crm.models import _created, _enum  # the tables' shared column types
from processes.sms_text import template_notes
from processes.template_basics import RecordKind


class VersionBase(SQLModel):
    """A saved document's version: its key, number, name, record kind, definition and checksum."""

    key: str = Field(index=True, max_length=63)
    version: int
    name: str = Field(max_length=200)
    record_kind: RecordKind = Field(sa_type=_enum(RecordKind))
    definition: dict[str, Any] = Field(sa_type=JSON)
    checksum: str = Field(max_length=64)
    created_at: datetime = _created()
    created_by: str = Field(default="", max_length=200)


class ProcessTemplateVersion(VersionBase, table=True):
    """One immutable version of a process template; a running process is pinned to one."""

    __tablename__ = "process_template_version"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    # the YAML or JSON text it was saved from, comments and layout and all (None: saved from a form of
    # data, or before migration 0019); never read for running it: `definition` is the template
    source_text: str | None = Field(default=None, sa_type=sa.Text)


class VersionPublic(SQLModel):
    key: str
    version: int
    name: str
    record_kind: RecordKind
    checksum: str
    created_at: datetime
    created_by: str
    definition: dict[str, Any]


class ProcessTemplateVersionPublic(VersionPublic):
    @computed_field  # type: ignore[prop-decorator]
    @property
    def notes(self) -> list[str]:
        """What the template's texts cost (the SMS segments of each `send_sms` text)."""
        return template_notes(self.definition)


class ProcessTemplateSummary(SQLModel):
    key: str
    name: str
    record_kind: RecordKind
    latest_version: int
    versions: int
    updated_at: datetime
