"""Saving and reading pipeline versions, and the record types they define.

A save that changes a pipeline is a new immutable version. Its record types are claimed in `record_type`
(a type belongs to one pipeline); a status that leaves a type's sequence while records of the type sit in
it is refused, unless the save maps it (`remap: {Old: New}`): those records move, each with its history
line, in the transaction of the save.
"""

from __future__ import annotations

import hashlib
import json
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.db import begin_write
from crm.models import HistoryEntry, HistoryKind, Record, RecordEvent, RecordEventKind
from crm.pipeline_models import PipelineSummary, PipelineVersion, RecordType, RecordTypePublic
from crm.types import utcnow
from processes.errors import AlreadyExists, ErrorDetail, PipelineInvalid, PipelineNotFound, did_you_mean
from processes.history_words import history_text
from processes.pipeline import Pipeline, name_key
from processes.template_basics import RecordKind
from processes.wording import counted


def checksum(pipeline: Pipeline) -> str:
    canonical = json.dumps(pipeline.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def latest(session: AsyncSession, key: str) -> PipelineVersion | None:
    query = (select(PipelineVersion).where(PipelineVersion.key == key)
             .order_by(col(PipelineVersion.version).desc()).limit(1))
    return (await session.exec(query)).first()


def load(row: PipelineVersion) -> Pipeline:
    return Pipeline.model_validate(row.definition)


async def get_version(session: AsyncSession, key: str, version: int | None = None) -> PipelineVersion:
    if version is None:
        row = await latest(session, key)
    else:
        row = (await session.exec(select(PipelineVersion).where(PipelineVersion.key == key,
                                                                PipelineVersion.version == version))).first()
    if row is None:
        if version is not None and await latest(session, key) is not None:
            raise PipelineNotFound(f"pipeline '{key}' has no version {version}")
        keys = (await session.exec(select(PipelineVersion.key).distinct())).all()
        raise PipelineNotFound(f"no pipeline '{key}'{did_you_mean(key, keys)}")
    return row


async def _check_types(session: AsyncSession, pipeline: Pipeline) -> None:
    """Each of the pipeline's types is free or already its own."""
    names = [t.name for t in pipeline.types]
    query = select(RecordType).where(RecordType.record_kind == pipeline.record_kind, col(RecordType.name).in_(names),
                                     RecordType.pipeline_key != pipeline.key)
    taken = (await session.exec(query)).all()
    if taken:
        raise AlreadyExists("; ".join(f"record type '{t.name}' of {t.record_kind.value} records belongs to pipeline "
                                      f"'{t.pipeline_key}'" for t in taken) + ": a type is in one pipeline at a time")


async def _records_out_of_sequence(session: AsyncSession, before: Pipeline | None, pipeline: Pipeline,
                                   remap: dict[str, str]) -> list[tuple[str, str, str | None, int]]:
    """(type, status, mapped-to, count) for every group of records the new version leaves without a status;
    `PipelineInvalid` when one is not mapped, or mapped to a status its type does not have."""
    old_types = {t.name for t in before.types} if before is not None else set()
    types = old_types | {t.name for t in pipeline.types}
    if not types:
        return []
    query = (select(Record.type, Record.status, func.count()).where(Record.kind == pipeline.record_kind,
                                                                     col(Record.type).in_(types))
             .group_by(col(Record.type), col(Record.status)))
    errors: list[ErrorDetail] = []
    moves: list[tuple[str, str, str | None, int]] = []
    dropped: dict[str, int] = {}  # a type this version leaves out -> its records, whatever their status
    for type_name, status, count in (await session.exec(query)).all():
        if pipeline.record_type(type_name) is None:
            dropped[type_name] = dropped.get(type_name, 0) + count
            continue
        sequence = pipeline.sequence(type_name)
        if status in sequence:
            continue
        target = remap.get(status)
        if target is None:
            errors.append(ErrorDetail(f"remap.{status}", f"{counted(count, 'record')} of type '{type_name}' "
                                      f"{'is' if count == 1 else 'are'} in "
                                      f"'{status}', which this version leaves out of the type's sequence: map it "
                                      f"to one of {', '.join(sequence)}"))
        elif target not in sequence:
            errors.append(ErrorDetail(f"remap.{status}", f"'{target}' is not in the sequence of type '{type_name}' "
                                      f"({', '.join(sequence)})"))
        else:
            moves.append((type_name, status, target, count))
    errors[:0] = [ErrorDetail("types", f"record type '{type_name}' has {counted(count, 'record')}: keep it in the "
                                       "pipeline, or change their type first") for type_name, count in dropped.items()]
    if errors:
        raise PipelineInvalid(errors)
    return moves


async def _remap(session: AsyncSession, pipeline: Pipeline, moves: list[tuple[str, str, str | None, int]],
                 actor: str, version: int, locale: str) -> dict[str, int]:
    moved: dict[str, int] = {}
    for type_name, status, target, _ in moves:
        assert target is not None
        where = (Record.kind == pipeline.record_kind, Record.type == type_name, Record.status == status)
        records = (await session.exec(select(Record.id, Record.visit, Record.moves, Record.substates)
                                      .where(*where))).all()
        await session.exec(update(Record).where(*where).values(  # type: ignore[call-overload]
            status=target, substates={}, moves=Record.moves + 1, visit=Record.moves + 1, updated_at=utcnow()))
        for record_id, visit, moves, substates in records:
            session.add(HistoryEntry(record_id=record_id, kind=HistoryKind.status_changed, actor=actor,
                                     text=history_text(locale, "status_remapped", previous=status, status=target,
                                                       pipeline=pipeline.key, version=version),
                                     data={"from": status, "to": target, "pipeline": pipeline.key,
                                           "version": version, "move": moves + 1}))
            # for the dispatcher: what the status and its substates scheduled for this record stops
            session.add(RecordEvent(record_id=record_id, kind=RecordEventKind.status_remapped, status=target,
                                    previous_status=status, previous_visit=visit, visit=moves + 1,
                                    previous_substates=dict(substates or {}), actor=actor))
        moved[status] = moved.get(status, 0) + len(records)
    return moved


async def _close_removed_substates(session: AsyncSession, before: Pipeline | None, pipeline: Pipeline, actor: str,
                                   version: int, locale: str) -> None:
    """Close the substates this version takes out of a status it keeps, where records have them open: each with its
    history line and its `substate_closed` event (what it scheduled stops; it has no automations left to run).
    Left open, such a substate could never be closed (no longer the status's)."""
    removed = {status.name: {s.name for s in status.substates} - {s.name for s in kept.substates}
               for status in (before.statuses if before is not None else []) if (kept := pipeline.status(status.name))}
    removed = {status: names for status, names in removed.items() if names}
    if not removed:
        return
    rows = (await session.exec(select(Record).where(
        Record.kind == pipeline.record_kind, col(Record.type).in_([t.name for t in pipeline.types]),
        col(Record.status).in_(list(removed))))).all()
    for record in rows:
        open_ = dict(record.substates or {})
        for name in sorted(removed[record.status] & open_.keys()):
            visit = open_.pop(name)
            session.add(HistoryEntry(record_id=record.id, kind=HistoryKind.substate_closed, actor=actor,
                                     text=history_text(locale, "substate_removed", substate=name, status=record.status,
                                                       pipeline=pipeline.key, version=version),
                                     data={"substate": name, "pipeline": pipeline.key, "version": version}))
            session.add(RecordEvent(record_id=record.id, kind=RecordEventKind.substate_closed, status=record.status,
                                    substate=name, visit=visit, actor=actor))
        if len(open_) != len(record.substates or {}):
            record.substates, record.updated_at = open_, utcnow()
            session.add(record)


async def _claim_types(session: AsyncSession, pipeline: Pipeline) -> None:
    now = utcnow()
    rows = {t.name: t for t in (await session.exec(select(RecordType).where(
        RecordType.pipeline_key == pipeline.key))).all()}
    for spec in pipeline.types:
        initial = pipeline.initial(spec.name)
        row = rows.pop(spec.name, None) or RecordType(record_kind=pipeline.record_kind, name=spec.name,
                                                      pipeline_key=pipeline.key, initial_status=initial)
        row.initial_status, row.updated_at = initial, now
        session.add(row)
    for row in rows.values():  # types the new version dropped (no record has them: checked before)
        await session.delete(row)


async def _checked(session: AsyncSession, current: PipelineVersion | None, pipeline: Pipeline,
                   remap: dict[str, str]) -> list[tuple[str, str, str | None, int]]:
    """What a save of a changed pipeline checks against what is stored: its record kind kept, its types free, and
    every record of its types left in a status of the new version or mapped (the groups to move)."""
    if current is not None and current.record_kind != pipeline.record_kind:
        raise PipelineInvalid([ErrorDetail("record_kind", f"pipeline '{pipeline.key}' is for "
                                           f"{current.record_kind.value} records; it cannot change kind")])
    await _check_types(session, pipeline)
    before = load(current) if current is not None else None
    _check_remap(before, pipeline, remap)
    return await _records_out_of_sequence(session, before, pipeline, remap)


def _check_remap(before: Pipeline | None, pipeline: Pipeline, remap: dict[str, str]) -> None:
    """`PipelineInvalid` for a `remap` entry that maps nothing this version removes, or to a status it does not have:
    a typo there was taken as nothing to move."""
    kept = [s.name for s in pipeline.statuses]
    old = [s.name for s in before.statuses] if before is not None else []
    errors = []
    for source, target in remap.items():
        if source in kept:
            errors.append(ErrorDetail(f"remap.{source}", f"'{source}' is still a status of this version: nothing "
                                                         "to map"))
        elif source not in old:
            errors.append(ErrorDetail(f"remap.{source}", f"no status '{source}' in the version this one replaces"
                                      f"{did_you_mean(source, old)}"))
        if target not in kept:
            errors.append(ErrorDetail(f"remap.{source}", f"'{target}' is not a status of this version"
                                      f"{did_you_mean(target, kept)}"))
    if errors:
        raise PipelineInvalid(errors)


def _new_version(pipeline: Pipeline, current: PipelineVersion | None, digest: str, created_by: str) -> PipelineVersion:
    return PipelineVersion(key=pipeline.key, version=(current.version + 1) if current else 1, name=pipeline.name,
                           record_kind=pipeline.record_kind, definition=pipeline.model_dump(mode="json"),
                           checksum=digest, created_by=created_by)


async def would_save(session: AsyncSession, pipeline: Pipeline,
                     remap: dict[str, str] | None = None) -> tuple[PipelineVersion, bool, dict[str, int]]:
    """What `save` would answer, saving nothing: the version it would store (created=False: the latest, identical,
    which the save keeps), the records it would move by status, and the same errors."""
    digest = checksum(pipeline)
    current = await latest(session, pipeline.key)
    if current is not None and current.checksum == digest:
        return current, False, {}
    moves = await _checked(session, current, pipeline, remap or {})
    moving: dict[str, int] = {}
    for _, status, _, count in moves:
        moving[status] = moving.get(status, 0) + count
    return _new_version(pipeline, current, digest, ""), True, moving


async def save(session: AsyncSession, pipeline: Pipeline, created_by: str, remap: dict[str, str] | None = None,
               locale: str = "en") -> tuple[PipelineVersion, bool, dict[str, int]]:
    """Store a new version (created=False: identical to the latest, nothing saved), with the records it remaps
    (their history lines in the language of `locale`: the office's, LOCALE)."""
    digest = checksum(pipeline)
    for _ in range(5):
        await hold_types(session, pipeline)
        current = await latest(session, pipeline.key)
        if current is not None and current.checksum == digest:
            await session.commit()  # nothing to save: the types are let go
            return current, False, {}
        moves = await _checked(session, current, pipeline, remap or {})
        row = _new_version(pipeline, current, digest, created_by)
        session.add(row)
        try:
            await session.flush()
            moved = await _remap(session, pipeline, moves, created_by, row.version, locale)
            await _close_removed_substates(session, load(current) if current is not None else None, pipeline,
                                           created_by, row.version, locale)
            await _claim_types(session, pipeline)
            await session.commit()
        except IntegrityError:  # a concurrent save took this version number, or one of the types
            await session.rollback()
            continue
        await session.refresh(row)
        return row, True, moved
    raise AlreadyExists(f"pipeline '{pipeline.key}' is being saved by someone else; try again")


async def governing_version(session: AsyncSession, kind: RecordKind, type_name: str,
                            to_write: bool = False) -> PipelineVersion | None:
    """The newest version of the pipeline that lists the type, or None: the record's status is free. `to_write`: a
    record of the type is about to be written by it (moved, made, retyped), so no save of the pipeline may come
    between (`hold_types`); the caller's transaction holds it until it ends."""
    if not type_name:
        return None
    if to_write:
        await begin_write(session)  # SQLite: one writer at a time, from before this read
    query = select(RecordType).where(RecordType.record_kind == kind, RecordType.name == type_name)
    row = (await session.exec(query.with_for_update(read=True) if to_write else query)).first()  # PostgreSQL
    return await latest(session, row.pipeline_key) if row is not None else None


async def hold_types(session: AsyncSession, pipeline: Pipeline) -> None:
    """Hold the pipeline's types until the save's transaction ends: a move, a record made or retyped by the version
    it read (`governing_version(to_write=True)`) ends before, or starts after, and sees this version. Without it, a
    record moved into a status the save was removing, after the save had counted them, stayed in it."""
    await begin_write(session)
    await session.exec(select(RecordType).where(RecordType.pipeline_key == pipeline.key)  # type: ignore[call-overload]
                       .with_for_update())


async def canonical_type(session: AsyncSession, kind: RecordKind, type_name: str) -> str:
    """The record type as a pipeline names it when `type_name` is that name in another letter case or accent encoding
    (`claim` for `Claim`: the record is governed by its pipeline); else `type_name`, its spaces around taken off."""
    type_name = type_name.strip()
    if not type_name:
        return type_name
    names = (await session.exec(select(RecordType.name).where(RecordType.record_kind == kind))).all()
    if type_name in names:
        return type_name
    key = name_key(type_name)
    return next((name for name in names if name_key(name) == key), type_name)


async def governing(session: AsyncSession, kind: RecordKind, type_name: str, to_write: bool = False) -> Pipeline | None:
    row = await governing_version(session, kind, type_name, to_write)
    return load(row) if row is not None else None


def type_public(pipeline: Pipeline, version: int, type_name: str) -> RecordTypePublic:
    assert pipeline.record_type(type_name) is not None
    sequence = pipeline.sequence(type_name)
    return RecordTypePublic(record_kind=pipeline.record_kind, name=type_name, pipeline=pipeline.key,
                            pipeline_version=version, initial_status=pipeline.initial(type_name), statuses=sequence,
                            moves={s: pipeline.allowed_next(type_name, s) for s in sequence})


async def summaries(session: AsyncSession, kind: RecordKind | None, *, limit: int, offset: int) -> list[PipelineSummary]:
    numbers = (select(PipelineVersion.key, func.max(PipelineVersion.version).label("version"),
                      func.count().label("versions")).group_by(PipelineVersion.key).subquery())
    query = (select(PipelineVersion, numbers.c.versions)
             .join(numbers, (col(PipelineVersion.key) == numbers.c.key)
                   & (col(PipelineVersion.version) == numbers.c.version))
             .order_by(col(PipelineVersion.key)).offset(offset).limit(limit))
    if kind is not None:
        query = query.where(PipelineVersion.record_kind == kind)
    return [PipelineSummary(key=row.key, name=row.name, record_kind=row.record_kind, latest_version=row.version,
                            versions=versions, types=[t.name for t in load(row).types], updated_at=row.created_at)
            for row, versions in (await session.exec(query)).all()]

