"""A CSV row to the values of a record: mapped, checked, every error with its row and column.

Fields a column may map to:
- contacts: `title` (required), `type` (person, company...), `email`, `phone`, `channel`, `owner` (a user's
  handle), `fields.<name>` (a free field);
- cases: `name` (required), `tags` and `participants` (several, separated by `|`; participants by a
  contact's email), `owner` (a user's handle).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError, create_model
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm import pipeline_store
from crm.access import Viewer, record_visible
from crm.imports import email_domains  # noqa: F401  (each domain checked once)
from crm.imports.models import ImportKind
from crm.models import Record, RecordCreate, User
from processes.template import RecordKind

FIELDS = {
    ImportKind.contacts: ("title", "type", "email", "phone", "channel", "owner"),
    ImportKind.cases: ("name", "tags", "participants", "owner"),
}
REQUIRED = {ImportKind.contacts: "title", ImportKind.cases: "name"}
SEPARATOR = "|"
# A row is checked by RecordCreate's own fields (their types, bounds, EmailStr, the free fields' limits) in a plain
# pydantic model: pydantic-core calls SQLModel's `__init__` for each RecordCreate, a third of a row's check.
# (RecordCreate has no validator methods to carry over: tests/imports/test_import_events_and_sweep.py checks it.)
CheckedContact = create_model("CheckedContact", **{  # type: ignore[call-overload]
    name: (info.annotation, info) for name, info in RecordCreate.model_fields.items() if name != "access_user_ids"})
_VALIDATE = CheckedContact.__pydantic_validator__.validate_python


class RowError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column


def default_mapping(kind: ImportKind, columns: list[str]) -> dict[str, str]:
    """Columns named as a field (in any case) map to it; `fields.x` columns to free fields."""
    known = {f.casefold(): f for f in FIELDS[kind]}
    mapping = {}
    for column in columns:
        if column.casefold() in known:
            mapping[column] = known[column.casefold()]
        elif kind is ImportKind.contacts and column.startswith("fields.") and len(column) > 7:
            mapping[column] = column
    return mapping


def mapping_errors(kind: ImportKind, columns: list[str], mapping: dict[str, str]) -> list[str]:
    errors = [f"mapping: no column '{c}' in the file (its columns: {', '.join(columns)})"
              for c in mapping if c not in columns]
    errors += [f"mapping: column '{c}' maps to '{f}', which is not a field of {kind.value} "
               f"({', '.join(FIELDS[kind])}{', fields.<name>' if kind is ImportKind.contacts else ''})"
               for c, f in mapping.items() if f not in FIELDS[kind] and not (
                   kind is ImportKind.contacts and f.startswith("fields.") and len(f) > 7)]
    if REQUIRED[kind] not in mapping.values():
        errors.append(f"mapping: no column maps to '{REQUIRED[kind]}', which every row needs")
    return errors


class RowChecker:
    """Turns rows into values; looks users and contacts up once each."""

    def __init__(self, session: AsyncSession, kind: ImportKind, columns: list[str], mapping: dict[str, str],
                 viewer: Viewer, before_query: Callable[[], Awaitable[None]] | None = None) -> None:
        self.session, self.kind, self.viewer = session, kind, viewer
        self.before_query = before_query  # the session is free again (crm/imports/run.py writes while checking)
        self.fields = [(columns.index(column), column, field) for column, field in mapping.items()]
        self.width = len(columns)
        self._users: dict[str, int | None] = {}
        self._contacts: dict[str, int | None] = {}
        self._initial: dict[str, str | None] = {}  # a record type -> its pipeline's initial status
        self.kind_of_record = RecordKind.contact if kind is ImportKind.contacts else RecordKind.case

    async def check(self, values: list[str]) -> dict[str, Any]:
        if len(values) != self.width:
            raise RowError("*", f"{len(values)} values for {self.width} columns")
        raw = {field: (values[index].strip(), column) for index, column, field in self.fields}
        owner_id = await self._user(*raw.pop("owner")) if "owner" in raw and raw["owner"][0] else None
        raw.pop("owner", None)
        if self.kind is ImportKind.cases:
            return await self._case(raw, owner_id)
        body: dict[str, Any] = {"kind": RecordKind.contact, "owner_id": owner_id, "fields": {}}
        for field, (value, _) in raw.items():
            if field.startswith("fields."):
                if value:
                    body["fields"][field[7:]] = value
            elif value or field == "title":
                body[field] = value
        try:
            record = _VALIDATE(body)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            name = str(error["loc"][0]) if error["loc"] else "title"
            column = next((c for f, (_, c) in raw.items() if f == name or f == f"fields.{name}"), name)
            raise RowError(column, str(error["msg"]).removeprefix("Value error, ")) from None
        values: dict[str, Any] = record.__dict__  # the checked values as they are (model_dump copies them again)
        kind_of = values["type"]
        initial = self._initial[kind_of] if kind_of in self._initial else await self._initial_status(kind_of)
        if initial is not None:
            values["status"] = initial
        return values

    async def _case(self, raw: dict[str, tuple[str, str]], owner_id: int | None) -> dict[str, Any]:
        name, column = raw["name"]
        if not name or len(name) > 300:
            raise RowError(column, "a case needs a name of 1 to 300 characters")
        tags: list[str] = []
        if "tags" in raw:
            value, column = raw["tags"]
            tags = [t.strip() for t in value.split(SEPARATOR) if t.strip()]
            if any(len(t) > 64 for t in tags) or len(tags) > 50:
                raise RowError(column, "at most 50 tags of 64 characters each")
        participants = []
        if "participants" in raw:
            value, column = raw["participants"]
            for email in (e.strip() for e in value.split(SEPARATOR) if e.strip()):
                contact_id = await self._contact(email)
                if contact_id is None:
                    raise RowError(column, f"no contact with the email {email}")
                participants.append(contact_id)
        return {"name": name, "tags": tags, "participant_ids": list(dict.fromkeys(participants)), "owner_id": owner_id}

    async def _quiet(self) -> None:
        if self.before_query is not None:
            await self.before_query()

    async def _initial_status(self, type_name: str) -> str | None:
        """The status a new record of this type starts in when a pipeline lists the type (as `POST /records` does),
        so its pipeline's on-enter automations see it; None when its status is free."""
        await self._quiet()
        pipeline = await pipeline_store.governing(self.session, self.kind_of_record, type_name)
        spec = pipeline.record_type(type_name) if pipeline is not None else None
        self._initial[type_name] = spec.initial if spec is not None else None
        return self._initial[type_name]

    async def _user(self, handle: str, column: str) -> int | None:
        if handle not in self._users:
            await self._quiet()
            found = (await self.session.exec(select(User.id).where(User.handle == handle))).first()
            self._users[handle] = found
        if self._users[handle] is None:
            raise RowError(column, f"no user '{handle}'")
        return self._users[handle]

    async def _contact(self, email: str) -> int | None:
        if email not in self._contacts:
            await self._quiet()
            query = select(Record.id).where(Record.kind == RecordKind.contact, col(Record.email) == email,
                                            record_visible(self.viewer)).order_by(col(Record.id))
            self._contacts[email] = (await self.session.exec(query)).first()
        return self._contacts[email]
