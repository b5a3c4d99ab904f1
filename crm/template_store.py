"""Saving and reading process template versions. A saved version never changes."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.client_requests.models import ClientRequestTemplate
from crm.models import User
from crm.template_models import ProcessTemplateSummary, ProcessTemplateVersion
from processes.errors import TemplateNotFound, did_you_mean
from processes.template import ProcessTemplate
from processes.template_basics import RecordKind
from processes.upgrades import upgrade_template


async def user_roles(session: AsyncSession) -> dict[str, str]:
    """Each user's handle with the user's role (what `notify` and `assign` name)."""
    return dict((await session.exec(select(User.handle, User.role))).all())


def _latest_numbers() -> Any:
    """Each template key with its newest version number and how many versions it has."""
    return (select(ProcessTemplateVersion.key, func.max(ProcessTemplateVersion.version).label("version"),
                   func.count().label("versions"))
            .group_by(ProcessTemplateVersion.key).subquery())


async def latest_versions(session: AsyncSession, record_kind: RecordKind | None = None, *, limit: int | None = None,
                          offset: int = 0) -> list[tuple[ProcessTemplateVersion, int]]:
    """The newest version of every template (of one record kind), with its number of versions, by key."""
    latest = _latest_numbers()
    query = (select(ProcessTemplateVersion, latest.c.versions)
             .join(latest, (col(ProcessTemplateVersion.key) == latest.c.key)
                   & (col(ProcessTemplateVersion.version) == latest.c.version))
             .order_by(col(ProcessTemplateVersion.key)))
    if record_kind is not None:
        query = query.where(ProcessTemplateVersion.record_kind == record_kind)
    query = query.offset(offset).limit(limit)
    return [(row, versions) for row, versions in (await session.exec(query)).all()]


async def template_kinds(session: AsyncSession) -> dict[str, RecordKind]:
    """The record kind of every saved template (of its latest version)."""
    return {row.key: row.record_kind for row, _ in await latest_versions(session)}


async def request_template_keys(session: AsyncSession) -> set[str]:
    """The keys of the client request templates saved (a `send_client_request` action names one)."""
    return set((await session.exec(select(ClientRequestTemplate.key).distinct())).all())


async def validation_context(session: AsyncSession) -> tuple[dict[str, str], dict[str, RecordKind]]:
    """What a template is checked against: the users it may name (with their roles), the templates a follow-up may
    start."""
    return await user_roles(session), await template_kinds(session)


def checksum(template: ProcessTemplate) -> str:
    canonical = json.dumps(template.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def latest(session: AsyncSession, key: str) -> ProcessTemplateVersion | None:
    query = (select(ProcessTemplateVersion).where(ProcessTemplateVersion.key == key)
             .order_by(col(ProcessTemplateVersion.version).desc()).limit(1))
    return (await session.exec(query)).first()


Row = TypeVar("Row", bound=SQLModel)


async def add_version(session: AsyncSession, newest: Callable[[], Awaitable[Row | None]],
                      same: Callable[[Row], bool], build: Callable[[int], Row], what: str) -> tuple[Row, bool]:
    """Commit the next version of a saved document (`build(number)`); the newest one when `same` says nothing
    changed (created=False). A concurrent save taking the number makes it try again."""
    for _ in range(5):
        current = await newest()
        if current is not None and same(current):
            return current, False
        row = build(current.version + 1 if current is not None else 1)  # type: ignore[attr-defined]
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:  # a concurrent save took this version number
            await session.rollback()
            continue
        await session.refresh(row)
        return row, True
    raise RuntimeError(f"could not allocate a version for {what}")


async def save(session: AsyncSession, template: ProcessTemplate, created_by: str,
               source_text: str | None = None) -> tuple[ProcessTemplateVersion, bool]:
    """Store a new version, with the text it was parsed from if any; a template identical to the latest version
    returns that one (created=False), whatever its text: a change of comments or layout alone is no new version,
    and the latest keeps the text it was saved with."""
    digest = checksum(template)
    return await add_version(
        session, lambda: latest(session, template.key), lambda current: current.checksum == digest,
        lambda number: ProcessTemplateVersion(
            key=template.key, version=number, name=template.name, record_kind=template.record_kind,
            definition=template.model_dump(mode="json"), checksum=digest, created_by=created_by,
            source_text=source_text),
        f"template '{template.key}'")


async def get_version(session: AsyncSession, key: str, version: int | None = None) -> ProcessTemplateVersion:
    if version is None:
        row = await latest(session, key)
    else:
        query = select(ProcessTemplateVersion).where(ProcessTemplateVersion.key == key,
                                                     ProcessTemplateVersion.version == version)
        row = (await session.exec(query)).first()
    if row is None:
        if version is not None and await latest(session, key) is not None:
            raise TemplateNotFound.worded("template '{key}' has no version {version}", key=key, version=version)
        keys = (await session.exec(select(ProcessTemplateVersion.key).distinct())).all()
        raise TemplateNotFound.worded("no template '{key}'{hint}", key=key, hint=did_you_mean(key, keys))
    return row


def load(row: ProcessTemplateVersion) -> ProcessTemplate:
    """The template of a stored version, upgraded to the current schema."""
    return ProcessTemplate.model_validate(upgrade_template(row.definition))


_PARSED: OrderedDict[tuple[str, int, str], ProcessTemplate] = OrderedDict()  # by key, version and checksum
PARSED_KEPT = 256
# what `parsed` last kept of a key: (key, None) its newest version, (key, n) version n; as (number, checksum)
_AT_HAND: dict[tuple[str, int | None], tuple[int, str]] = {}


async def for_start(session: AsyncSession, key: str, version: int | None = None) -> tuple[ProcessTemplate, int]:
    """The template of a version (the latest when None) and its number, for starting a process."""
    query = select(ProcessTemplateVersion.version, ProcessTemplateVersion.checksum).where(
        ProcessTemplateVersion.key == key)
    if version is not None:
        query = query.where(ProcessTemplateVersion.version == version)
    found = (await session.exec(query.order_by(col(ProcessTemplateVersion.version).desc()).limit(1))).first()
    if found is None:
        await get_version(session, key, version)  # says what is missing
        raise TemplateNotFound(f"no template '{key}'")  # saved meanwhile: refused all the same, as when read first
    return await parsed(session, key, *found), found[0]


def at_hand(key: str, version: int | None) -> tuple[int, str, ProcessTemplate] | None:
    """The version of `key` this process parsed last (the newest it parsed when `version` is None), with its checksum
    and template, if it still keeps it (reads nothing): a guess, for a start that checks it against the database in
    the statement that allocates its run (`crm.start_reads.read_and_insert`)."""
    found = _AT_HAND.get((key, version))
    if found is None or (template := _PARSED.get((key, *found))) is None:
        return None
    return found[0], found[1], template


def is_parsed(key: str, version: int, checksum: str) -> bool:
    """Whether `parsed` has this version at hand (reads nothing)."""
    return (key, version, checksum) in _PARSED


async def parsed(session: AsyncSession, key: str, version: int, checksum: str) -> ProcessTemplate:
    """The template of a version, read and parsed once per process: a saved version never changes (kept by its
    checksum too: another database may hold another template under the same key and number). Not to be changed
    by the caller."""
    if (template := _PARSED.get((key, version, checksum))) is None:
        template = load(await get_version(session, key, version))
        _PARSED[(key, version, checksum)] = template
        while len(_PARSED) > PARSED_KEPT:
            _PARSED.popitem(last=False)
        if len(_AT_HAND) > 2 * PARSED_KEPT:
            _AT_HAND.clear()
    _AT_HAND[(key, version)] = (version, checksum)
    newest = _AT_HAND.get((key, None))
    if newest is None or version >= newest[0]:
        _AT_HAND[(key, None)] = (version, checksum)
    return template


async def summaries(session: AsyncSession, *, limit: int | None = None, offset: int = 0) -> list[ProcessTemplateSummary]:
    return [ProcessTemplateSummary(key=row.key, name=row.name, record_kind=row.record_kind,
                                   latest_version=row.version, versions=versions, updated_at=row.created_at)
            for row, versions in await latest_versions(session, limit=limit, offset=offset)]
