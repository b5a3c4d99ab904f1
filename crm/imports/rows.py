"""A CSV row to the values of a record: mapped, checked, every error with its row and column.

Fields a column may map to:
- contacts: `title` (required), `type` (person, company...), `email`, `phone`, `channel`, `owner` (a user's
  handle), `restricted` (`true` or `false`; `yes`, `no`, `sì`, `1`, `0` too; empty: false), `access` (the handles of
  the users who see a restricted contact, separated by `|`), `fields.<name>` (a free field);
- cases: `name` (required), `tags` and `participants` (several, separated by `|`; participants by a
  contact's email), `owner` (a user's handle).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError, create_model
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm import pipeline_store
from crm.access import Viewer, record_visible
from crm.cases.models import MAX_TAG, fits_as_key
from crm.imports.cells import imported_cell
from crm.imports.email_domains import checked_email  # each domain checked once, plain addresses by a pattern
from crm.imports.models import ImportKind
from crm.models import Record, RecordCreate, User
from processes.template_basics import RecordKind

FIELDS = {
    ImportKind.contacts: ("title", "type", "email", "phone", "channel", "owner", "restricted", "access"),
    ImportKind.cases: ("name", "tags", "participants", "owner", "restricted", "access", "state"),
}
REQUIRED = {ImportKind.contacts: "title", ImportKind.cases: "name"}
SEPARATOR = "|"
SPECIAL = ("title", "owner", "restricted", "access")  # a contact's fields read apart from the plain ones
FLAGS = {"true": True, "yes": True, "sì": True, "si": True, "1": True, "false": False, "no": False, "0": False}
# a case's state as the export writes it, and as the console says it in Italian (a case is "aperta", "chiusa"): closed?
STATES = {"open": False, "closed": True, "aperta": False, "aperto": False, "chiusa": True, "chiuso": True}
# A row is checked by RecordCreate's own fields (their types, bounds, EmailStr, the free fields' limits) in a plain
# pydantic model: pydantic-core calls SQLModel's `__init__` for each RecordCreate, a third of a row's check.
# (RecordCreate has no validator methods to carry over: tests/imports/test_import_events_and_sweep.py checks it.)
CheckedContact = create_model("CheckedContact", **{  # type: ignore[call-overload]
    name: (info.annotation, info) for name, info in RecordCreate.model_fields.items() if name != "access_user_ids"})
_VALIDATE = CheckedContact.__pydantic_validator__.validate_python
_ORDER = {name: n for n, name in enumerate(CheckedContact.model_fields)}


class RowError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column


# the names a spreadsheet's header gives a field, in the languages the console speaks (in any case, spaces, dots and
# dashes aside): a field named as itself first, then the first column of one of these names
HEADERS = {
    ImportKind.contacts: {
        "title": ("name", "full name", "nome", "nominativo", "nome e cognome", "ragione sociale", "cliente", "nom",
                  "raison sociale", "vollständiger name"),
        "type": ("tipo", "tipologia", "typ"),
        "email": ("e-mail", "mail", "email address", "indirizzo email", "posta elettronica", "courriel", "adresse e-mail"),
        "phone": ("telephone", "phone number", "mobile", "tel", "telefono", "cellulare", "numero di telefono",
                  "téléphone", "telefon", "handy"),
        "channel": ("source", "canale", "fonte", "origine", "canal", "kanal", "quelle"),
        "owner": ("titolare", "responsabile", "assegnatario", "propriétaire", "inhaber"),
        "restricted": ("riservato", "riservata", "restreint", "eingeschränkt"),
        "access": ("accesso", "accès", "zugriff"),
    },
    ImportKind.cases: {
        "name": ("title", "nome", "titolo", "pratica", "nom", "titre"),
        "tags": ("etichette", "tag", "étiquettes", "schlagwörter"),
        "participants": ("partecipanti", "participants", "teilnehmer"),
        "owner": ("titolare", "responsabile", "propriétaire", "inhaber"),
        "restricted": ("riservata", "riservato", "restreint", "eingeschränkt"),
        "access": ("accesso", "accès", "zugriff"),
        "state": ("stato", "état", "status"),
    },
}


def _header(name: str) -> str:
    return "".join(c for c in name.casefold() if c.isalnum())


def default_mapping(kind: ImportKind, columns: list[str]) -> dict[str, str]:
    """Columns named as a field (in any case) map to it, then the first column named as people name the field
    (`Nome`, `E-mail`, `Telefono`: `HEADERS`); `fields.x` columns to free fields."""
    known = {f.casefold(): f for f in FIELDS[kind]}
    mapping = {}
    for column in columns:
        if column.casefold() in known:
            mapping[column] = known[column.casefold()]
        elif kind is ImportKind.contacts and column.startswith("fields.") and len(column) > 7:
            mapping[column] = column
    said = {_header(name): field for field, names in HEADERS[kind].items() for name in names}
    for column in columns:
        field = said.get(_header(column))
        if column not in mapping and field is not None and field not in mapping.values():
            mapping[column] = field
    return mapping


def mapping_errors(kind: ImportKind, columns: list[str], mapping: dict[str, str], by_name: bool = False) -> list[str]:
    """What is wrong with a mapping (`by_name`: the default mapping, by the columns' names)."""
    errors = [f"mapping: no column '{c}' in the file (its columns: {', '.join(columns)})"
              for c in mapping if c not in columns]
    first: dict[str, str] = {}  # a field -> the first column mapped to it (a second one's values would overwrite it)
    for column, field in mapping.items():
        if field in first:
            errors.append(f"mapping: columns '{first[field]}' and '{column}' both map to '{field}'"
                          + (" (by their names: a mapping names the one to read)" if by_name else ""))
        first.setdefault(field, column)
    errors += [f"mapping: column '{c}' maps to '{f}', which is not a field of {kind.value} "
               f"({', '.join(FIELDS[kind])}{', fields.<name>' if kind is ImportKind.contacts else ''})"
               for c, f in mapping.items() if f not in FIELDS[kind] and not (
                   kind is ImportKind.contacts and f.startswith("fields.") and len(f) > 7)]
    if REQUIRED[kind] not in mapping.values():
        errors.append(f"mapping: no column maps to '{REQUIRED[kind]}', which every row needs")
    return errors


def _flag(value: str, column: str) -> bool:
    """A cell's yes or no (`restricted`): true, yes, sì, 1 or their opposites, in any case."""
    if value.casefold() not in FLAGS:
        raise RowError(column, f"'{value}' is not true or false")
    return FLAGS[value.casefold()]


class RowChecker:
    """Turns rows into values; looks users and contacts up once each."""

    def __init__(self, session: AsyncSession, kind: ImportKind, columns: list[str], mapping: dict[str, str],
                 viewer: Viewer, before_query: Callable[[], Awaitable[None]] | None = None) -> None:
        self.session, self.kind, self.viewer = session, kind, viewer
        self.before_query = before_query  # the session is free again (crm/imports/run.py writes while checking)
        self.fields = [(columns.index(column), column, field) for column, field in mapping.items()]
        # contacts: the columns of the title (required: taken empty or not), of the other fields, free fields, owner
        self._at = {f: (i, c) for i, c, f in self.fields}  # a field -> its column's index and name (one each)
        self._plain = [(i, f) for i, _, f in self.fields if f not in SPECIAL and not f.startswith("fields.")]
        self._free = [(i, f[7:]) for i, _, f in self.fields if f.startswith("fields.")]
        self._column_of = {f: c for _, c, f in self.fields}
        self.width = len(columns)
        self._users: dict[str, int | None] = {}
        self._contacts: dict[str, int | None] = {}
        self._initial: dict[str, str | None] = {}  # a record type -> its pipeline's initial status
        self._types: dict[str, str] = {}  # a type as written -> as its pipeline names it
        self.kind_of_record = RecordKind.contact if kind is ImportKind.contacts else RecordKind.case

    async def check(self, values: list[str]) -> dict[str, Any]:
        if len(values) > self.width and not any(v.strip() for v in values[self.width:]):
            values = values[:self.width]  # the empty cells of columns the header leaves unnamed at its end
        if len(values) != self.width:
            raise RowError("*", f"{len(values)} values for {self.width} columns")
        if (nul := next((column for index, column, _ in self.fields if "\x00" in values[index]), None)) is not None:
            raise RowError(nul, "holds the NUL character (\\0), which no text may hold")
        values = [imported_cell(v) if v[:1] == "'" else v for v in values]  # an export's `'=...` is `=...` again
        if self.kind is ImportKind.cases:
            raw = {field: (values[index].strip(), column) for index, column, field in self.fields}
            owner_id = await self._user(*raw.pop("owner")) if "owner" in raw and raw["owner"][0] else None
            raw.pop("owner", None)
            return await self._case(raw, owner_id)
        return await self._contact_values(values)

    async def _contact_values(self, values: list[str]) -> dict[str, Any]:
        """A contact's values, checked by RecordCreate's fields; its status its type's initial one (pipelines)."""
        free: dict[str, str] = {}
        body: dict[str, Any] = {"kind": RecordKind.contact, "owner_id": None, "fields": free}
        if (title := self._at.get("title")) is not None:
            body["title"] = values[title[0]].strip()
        for index, field in self._plain:
            if value := values[index].strip():
                body[field] = value
        for index, name in self._free:
            if value := values[index].strip():
                free[name] = value
        if (owner := self._at.get("owner")) is not None and (handle := values[owner[0]].strip()):
            body["owner_id"] = await self._user(handle, owner[1])
        if (restricted := self._at.get("restricted")) is not None and (flag := values[restricted[0]].strip()):
            body["restricted"] = _flag(flag, restricted[1])
        access = []
        if (listed := self._at.get("access")) is not None:
            access = await self._handles(values[listed[0]], listed[1])
        email = body.pop("email", None)
        errors = []  # the first mistake in the fields' order, as RecordCreate would report it
        try:
            record = _VALIDATE(body)
        except ValidationError as exc:
            errors.append(exc.errors(include_url=False)[0])
        if email is not None:
            try:
                email = checked_email(email)
            except ValidationError as exc:
                errors.append({**exc.errors(include_url=False)[0], "loc": ("email",)})
        if errors:
            error = min(errors, key=lambda e: _ORDER.get(str(e["loc"][0]) if e["loc"] else "title", 0))
            name = str(error["loc"][0]) if error["loc"] else "title"
            column = self._column_of.get(name, self._column_of.get(f"fields.{name}", name))
            raise RowError(column, str(error["msg"]).removeprefix("Value error, "))
        checked: dict[str, Any] = record.__dict__  # the values as checked (model_dump would copy them again)
        checked["email"] = email
        kind_of = checked["type"] = await self._type(checked["type"])
        initial = self._initial[kind_of] if kind_of in self._initial else await self._initial_status(kind_of)
        if initial is not None:
            checked["status"] = initial
        checked["access_user_ids"] = list(dict.fromkeys(access))  # crm/imports/run.py writes them to record_access
        return checked

    async def _case(self, raw: dict[str, tuple[str, str]], owner_id: int | None) -> dict[str, Any]:
        name, column = raw["name"]
        if not name or len(name) > 300:
            raise RowError(column, "a case needs a name of 1 to 300 characters")
        tags: list[str] = []
        if "tags" in raw:
            value, column = raw["tags"]
            tags = [t.strip() for t in value.split(SEPARATOR) if t.strip()]
            if any(len(t) > MAX_TAG or not fits_as_key(t) for t in tags) or len(tags) > 50:
                raise RowError(column, f"at most 50 tags of {MAX_TAG} characters each")
        restricted = _flag(*raw["restricted"]) if "restricted" in raw and raw["restricted"][0] else False
        access = await self._handles(*raw["access"]) if "access" in raw else []
        closed = False
        if "state" in raw and (state := raw["state"][0].strip().casefold()):
            if state not in STATES:
                raise RowError(raw["state"][1], f"'{raw['state'][0]}' is not open or closed")
            closed = STATES[state]
        participants = []
        if "participants" in raw:
            value, column = raw["participants"]
            for email in (e.strip() for e in value.split(SEPARATOR) if e.strip()):
                contact_id = await self._contact(email)
                if contact_id is None:
                    raise RowError(column, f"no contact with the email {email}")
                participants.append(contact_id)
        return {"name": name, "tags": tags, "participant_ids": list(dict.fromkeys(participants)), "owner_id": owner_id,
                "restricted": restricted, "access_user_ids": list(dict.fromkeys(access)),
                "closed": closed}

    async def _quiet(self) -> None:
        if self.before_query is not None:
            await self.before_query()

    async def _type(self, given: str) -> str:
        """The type as its pipeline names it (`claim` for `Claim`), as `POST /records` takes it."""
        if given not in self._types:
            await self._quiet()
            self._types[given] = await pipeline_store.canonical_type(self.session, self.kind_of_record, given)
        return self._types[given]

    async def _initial_status(self, type_name: str) -> str | None:
        """The status a new record of this type starts in when a pipeline lists the type (as `POST /records` does),
        so its pipeline's on-enter automations see it; None when its status is free."""
        await self._quiet()
        pipeline = await pipeline_store.governing(self.session, self.kind_of_record, type_name)
        self._initial[type_name] = pipeline.initial(type_name) if pipeline is not None else None  # it lists the type
        return self._initial[type_name]

    async def _handles(self, value: str, column: str) -> list[int]:
        """The users of the handles a cell lists, separated by `|` (a restricted record's access list)."""
        return [await self._user(h.strip(), column) for h in value.split(SEPARATOR) if h.strip()]

    async def _user(self, handle: str, column: str) -> int:
        """The user of the handle, in any case (`Maria` is maria: handles are written in lower case)."""
        if handle not in self._users:
            await self._quiet()
            found = (await self.session.exec(select(User.id).where(User.handle == handle))).first()
            if found is None and handle != handle.lower():
                found = (await self.session.exec(select(User.id).where(User.handle == handle.lower()))).first()
            self._users[handle] = found
        if (user_id := self._users[handle]) is None:
            raise RowError(column, f"no user '{handle}'")
        return user_id

    async def _contact(self, email: str) -> int | None:
        """The contact with this email, in any case (`GIULIA@X.IT` is giulia@x.it); the oldest when several have it."""
        key = email.casefold()
        if key not in self._contacts:
            await self._quiet()
            query = select(Record.id).where(Record.kind == RecordKind.contact,
                                            sa.func.lower(col(Record.email)) == email.lower(),
                                            record_visible(self.viewer)).order_by(col(Record.id))
            self._contacts[key] = (await self.session.exec(query)).first()
        return self._contacts[key]
