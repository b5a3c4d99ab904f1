"""Saving and reading process template versions. A saved version never changes."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.models import User
from crm.template_models import ProcessTemplateSummary, ProcessTemplateVersion
from processes.errors import TemplateNotFound, did_you_mean
from processes.template import ProcessTemplate, RecordKind
from processes.upgrades import upgrade_template


async def user_handles(session: AsyncSession) -> set[str]:
    return set((await session.exec(select(User.handle))).all())


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


async def validation_context(session: AsyncSession) -> tuple[set[str], dict[str, RecordKind]]:
    """What a template is checked against: the users it may name, the templates a follow-up may start."""
    return await user_handles(session), await template_kinds(session)


def checksum(template: ProcessTemplate) -> str:
    canonical = json.dumps(template.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def latest(session: AsyncSession, key: str) -> ProcessTemplateVersion | None:
    query = (select(ProcessTemplateVersion).where(ProcessTemplateVersion.key == key)
             .order_by(col(ProcessTemplateVersion.version).desc()).limit(1))
    return (await session.exec(query)).first()


async def save(session: AsyncSession, template: ProcessTemplate, created_by: str) -> tuple[ProcessTemplateVersion, bool]:
    """Store a new version; a template identical to the latest version returns that one (created=False)."""
    digest = checksum(template)
    for _ in range(5):
        current = await latest(session, template.key)
        if current is not None and current.checksum == digest:
            return current, False
        row = ProcessTemplateVersion(
            key=template.key, version=(current.version + 1) if current else 1, name=template.name,
            record_kind=template.record_kind, definition=template.model_dump(mode="json"), checksum=digest,
            created_by=created_by)
        session.add(row)
        try:
            await session.commit()
        except IntegrityError:  # a concurrent save took this version number
            await session.rollback()
            continue
        await session.refresh(row)
        return row, True
    raise RuntimeError(f"could not allocate a version for template '{template.key}'")


async def get_version(session: AsyncSession, key: str, version: int | None = None) -> ProcessTemplateVersion:
    if version is None:
        row = await latest(session, key)
    else:
        query = select(ProcessTemplateVersion).where(ProcessTemplateVersion.key == key,
                                                     ProcessTemplateVersion.version == version)
        row = (await session.exec(query)).first()
    if row is None:
        if version is not None and await latest(session, key) is not None:
            raise TemplateNotFound(f"template '{key}' has no version {version}")
        keys = (await session.exec(select(ProcessTemplateVersion.key).distinct())).all()
        raise TemplateNotFound(f"no template '{key}'{did_you_mean(key, keys)}")
    return row


def load(row: ProcessTemplateVersion) -> ProcessTemplate:
    """The template of a stored version, upgraded to the current schema."""
    return ProcessTemplate.model_validate(upgrade_template(row.definition))


_PARSED: OrderedDict[tuple[str, int, str], ProcessTemplate] = OrderedDict()  # by key, version and checksum
PARSED_KEPT = 256


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


async def parsed(session: AsyncSession, key: str, version: int, checksum: str) -> ProcessTemplate:
    """The template of a version, read and parsed once per process: a saved version never changes (kept by its
    checksum too: another database may hold another template under the same key and number). Not to be changed
    by the caller."""
    if (template := _PARSED.get((key, version, checksum))) is None:
        template = load(await get_version(session, key, version))
        _PARSED[(key, version, checksum)] = template
        while len(_PARSED) > PARSED_KEPT:
            _PARSED.popitem(last=False)
    return template


async def summaries(session: AsyncSession, *, limit: int | None = None, offset: int = 0) -> list[ProcessTemplateSummary]:
    return [ProcessTemplateSummary(key=row.key, name=row.name, record_kind=row.record_kind,
                                   latest_version=row.version, versions=versions, updated_at=row.created_at)
            for row, versions in await latest_versions(session, limit=limit, offset=offset)]
