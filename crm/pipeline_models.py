"""Pipeline versions, record types, and the roles assigned on records (the tables and their public shapes).

A pipeline is saved like a process template: each save that changes it is a new immutable version, and records
move under the newest. `record_type` says which pipeline each (kind, type) belongs to: a type is in one
pipeline at a time, and a record whose type no pipeline lists keeps a free status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from pydantic import BeforeValidator
from sqlmodel import Field, SQLModel

from crm.client_requests.pending import PendingChoice
from crm.models import _created, _enum  # the tables' shared column types
from crm.template_models import VersionBase, VersionPublic
from processes.pipeline import StatusName
from processes.template_basics import RecordKind


class PipelineVersion(VersionBase, table=True):
    """One immutable version of a pipeline."""

    __tablename__ = "pipeline_version"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)

    id: int | None = Field(default=None, primary_key=True)


class PipelineVersionPublic(VersionPublic):
    pass


class PipelineSaved(PipelineVersionPublic):
    """A save's answer: the version, and the records it moved (a version read later does not say: it keeps no count)."""

    remapped: dict[str, int] = Field(default_factory=dict,
                                     description="a save that mapped removed statuses: records moved, by status")


class PipelineSummary(SQLModel):
    key: str
    name: str
    record_kind: RecordKind
    latest_version: int
    versions: int
    types: list[str]
    updated_at: datetime


class RecordType(SQLModel, table=True):
    """A record type and the pipeline whose newest version defines it (its initial status and sequence)."""

    __tablename__ = "record_type"
    __table_args__ = (sa.UniqueConstraint("record_kind", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    record_kind: RecordKind = Field(sa_type=_enum(RecordKind))
    name: str = Field(max_length=64)
    pipeline_key: str = Field(max_length=63, index=True)
    initial_status: str = Field(max_length=64)
    updated_at: datetime = _created()


class RecordTypePublic(SQLModel):
    record_kind: RecordKind
    name: str
    pipeline: str
    pipeline_version: int
    initial_status: str
    statuses: list[str] = Field(description="its sequence, in order")
    moves: dict[str, list[str]] = Field(description="from each status of its sequence, where it may move")


def _trimmed(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


SentStatus = Annotated[StatusName, BeforeValidator(_trimmed)]
"""A status as a client sends it: the spaces around it taken off, as `POST /records` does (not refused with the
pattern's text)."""


class MoveBody(SQLModel):
    """A move of a record to another status, or a substate opened or closed."""

    to: SentStatus | None = Field(None, description="the status to move to")
    open_substate: SentStatus | None = None
    close_substate: SentStatus | None = None
    reason: str = Field("", max_length=1000)
    expected_status: SentStatus | None = Field(None, description="refuse (409) unless the record is still in it")
    pending_requests: PendingChoice | None = Field(None, description="what becomes of the client requests whose "
                                                   "answers would move the record (without it, such a move is "
                                                   "refused, 409 ClientRequestsPending, listing them)")


class AllowedMoves(SQLModel):
    record_id: int
    status: str
    governed: bool = Field(description="false: no pipeline lists the record's type, its status is free")
    pipeline: str | None
    allowed_next: list[str]
    substates: list[str] = Field(description="the substates of its status")
    open_substates: list[str]


class BoardRecord(SQLModel):
    id: int
    title: str
    type: str
    owner_id: int | None
    channel: str
    substates: list[str]
    updated_at: datetime


class BoardColumn(SQLModel):
    status: str
    count: int
    records: list[BoardRecord]


class Board(SQLModel):
    pipeline: str
    version: int
    columns: list[BoardColumn]


class RecordAssignment(SQLModel, table=True):
    """A role on a record (salesperson, installer...) and the user who holds it."""

    __tablename__ = "record_assignment"
    __table_args__ = (sa.Index("ix_record_assignment_role_user_id", "role", "user_id"),)

    record_id: int = Field(foreign_key="record.id", primary_key=True)
    role: str = Field(max_length=64, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    step_key: str | None = Field(default=None, max_length=400)
    assigned_at: datetime = _created()


class AssignmentTurn(SQLModel, table=True):
    """Whose turn a role's next assignment is: the user given it last and how many times it was given.

    The row is the role's lock: an assignment locks it (PostgreSQL `FOR UPDATE`; SQLite's write lock) from its
    choice to its commit, so concurrent assignments of a role take turns, in the order the counter says and not
    by the clocks of the workers that made them."""

    __tablename__ = "assignment_turn"

    role: str = Field(max_length=64, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", description="the user given the role last")
    turns: int = Field(default=0, description="assignments of the role made so far")
