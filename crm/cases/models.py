"""The tables a case adds to its record: participants, tags and their links, and its closure."""

from __future__ import annotations

import enum
import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, StringConstraints
from sqlmodel import Field, SQLModel

from crm.patch import Patch
from crm.types import UTCDateTime, utcnow
from processes.sent_values import Text, TrueOrFalse, WholeNumber, seen

MAX_TAG = 64


def tag_name(name: str) -> str:
    """A name as stored: without spaces around, its accents composed (NFC)."""
    return unicodedata.normalize("NFC", name.strip())


def tag_key(name: str) -> str:
    """One key for names that look the same: any letter case, an accent composed or not (`Perché` typed, or pasted
    from a file named on a Mac)."""
    return tag_name(name).casefold()


def fits_as_key(name: str) -> bool:
    """A tag's key can be longer than its name: `ß` is `ss`."""
    return len(tag_key(name)) <= MAX_TAG


def _key_fits(name: str) -> str:
    """The name as stored, when its key fits."""
    name = tag_name(name)
    if "|" in name:  # a CSV file lists a case's tags separated by it: such a tag came back as two
        raise ValueError("a tag name holds no '|': CSV files separate a case's tags with it")
    if not fits_as_key(name):
        raise ValueError(f"the name takes {len(name.casefold())} characters once its case is folded (ß is ss): "
                         f"a tag takes at most {MAX_TAG}")
    return name


TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TAG),
                    AfterValidator(seen), AfterValidator(_key_fits)]


def _created() -> datetime:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)  # type: ignore[no-any-return]


class CaseState(str, enum.Enum):
    open = "open"
    closed = "closed"


class CaseClosure(SQLModel, table=True):
    """A closed case; an open case has no row (reopening deletes it, the timeline keeps both)."""

    __tablename__ = "case_closure"

    case_id: int = Field(foreign_key="record.id", primary_key=True)
    closed_at: datetime = _created()
    closed_by: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=500)


class CaseParticipant(SQLModel, table=True):
    """A contact (a person or a company) taking part in a case."""

    __tablename__ = "case_participant"

    case_id: int = Field(foreign_key="record.id", primary_key=True)
    contact_id: int = Field(foreign_key="record.id", primary_key=True, index=True)
    added_at: datetime = _created()
    added_by: str = Field(default="", max_length=200)


class Tag(SQLModel, table=True):
    """A label for cases; `name_key` (its name with accents composed, in lower case: `tag_key`) is
    unique, so "Urgent" and "urgent" are one tag."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    name_key: str = Field(max_length=64, unique=True)
    created_at: datetime = _created()


class RecordTag(SQLModel, table=True):
    __tablename__ = "record_tag"

    record_id: int = Field(foreign_key="record.id", primary_key=True)
    tag_id: int = Field(foreign_key="tag.id", primary_key=True, index=True)


class CaseCreate(SQLModel):
    name: Text = Field(min_length=1, max_length=300)
    owner_id: WholeNumber | None = Field(default=None, description="the user responsible for the case")
    participant_ids: list[WholeNumber] = Field(default_factory=list, max_length=500,
                                               description="contact records (people or companies) taking part")
    tags: list[TagName] = Field(default_factory=list, max_length=50,
                                description="tag names: existing tags are picked, new ones created")
    restricted: TrueOrFalse = Field(default=False,
                                    description="seen only by its owner, the users listed and admins")
    access_user_ids: list[WholeNumber] = Field(default_factory=list, max_length=500)
    notify_user_ids: list[WholeNumber] = Field(default_factory=list, max_length=500,
                                               description="users told by email that the case was created")


class CaseUpdate(Patch):
    name: Text = Field(default=None, min_length=1, max_length=300)
    tags: list[TagName] = Field(default=None, max_length=50, description="replaces the case's tags")


class CasePublic(SQLModel):
    id: int
    name: str
    state: CaseState
    closed_at: datetime | None = None
    closed_by: str | None = None
    owner_id: int | None
    restricted: bool
    access_user_ids: list[int]
    participant_ids: list[int]
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class TagCreate(SQLModel):
    name: TagName


class TagUpdate(Patch):
    name: TagName = Field(default=None)


class TagPublic(SQLModel):
    id: int
    name: str
    cases: int = Field(0, description="the cases carrying it that the caller may see")
