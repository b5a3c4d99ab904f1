"""Adding, listing, reading and removing a record's documents: the rows and the storage kept together.

An upload is checked (crm/documents/sniff.py), put in the storage, then its rows are committed; if the
commit fails the stored file is deleted. A removal commits the rows' deletion first, then deletes the
files: a crash in between leaves a file of no row, never a row of no file.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.documents.models import Document, DocumentPublic, DocumentVersion, DocumentVersionPublic
from crm.documents.sniff import Sniffed, sniff
from crm.documents.storage import Storage, new_key
from crm.models import HistoryEntry, HistoryKind
from crm.types import utcnow
from processes.errors import DocumentConflict, DocumentInvalid, DocumentNotFound
from processes.history_words import history_text

log = logging.getLogger("stagecoach.documents")


def clean_name(name: str | None) -> str:
    """The file's own name (no folders, no control characters), at most 255 characters."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip()
    if not base or base in (".", ".."):
        raise DocumentInvalid("the file has no name: send it with a file name (multipart `filename`)")
    if len(base) > 255:
        raise DocumentInvalid(f"the file name is {len(base)} characters long; at most 255")
    return base


def shortened_name(name: str, limit: int = 255) -> str:
    """A name cut to `limit` characters, its ending (.pdf) kept: for a client's file, whose name they cannot easily
    change (a phone's, a scanner's); the API refuses a name too long instead (`clean_name`)."""
    base = re.split(r"[/\\]", name)[-1]
    if len(base) <= limit:
        return base
    stem, dot, ending = base.rpartition(".")
    ending = dot + ending if stem and len(ending) <= 16 else ""
    return base[:limit - len(ending) - 1].rstrip() + "…" + ending


def _url(document: Document, number: int | None = None) -> str:
    url = f"/records/{document.record_id}/documents/{document.id}"
    return url if number is None else f"{url}/versions/{number}"


async def versions_of(session: AsyncSession, document_id: int) -> list[DocumentVersion]:
    rows = await session.exec(select(DocumentVersion).where(DocumentVersion.document_id == document_id)
                              .order_by(col(DocumentVersion.number).desc()))
    return list(rows.all())


async def public(session: AsyncSession, document: Document) -> DocumentPublic:
    assert document.id is not None
    versions = await versions_of(session, document.id)
    current = next(v for v in versions if v.number == document.current_version)
    return DocumentPublic(
        id=document.id, record_id=document.record_id, name=document.name, current_version=document.current_version,
        content_type=current.content_type, size=current.size, created_at=document.created_at,
        updated_at=document.updated_at, download_url=_url(document),
        versions=[DocumentVersionPublic.model_validate(v, from_attributes=True,
                                                       update={"download_url": _url(document, v.number)})
                  for v in versions])


async def listing(session: AsyncSession, record_id: int, offset: int = 0, limit: int = 100) -> list[Document]:
    rows = await session.exec(select(Document).where(Document.record_id == record_id).order_by(col(Document.id))
                              .offset(offset).limit(limit))
    return list(rows.all())


async def get(session: AsyncSession, record_id: int, document_id: int) -> Document:
    document = await session.get(Document, document_id)
    if document is None or document.record_id != record_id:
        raise DocumentNotFound(f"record {record_id} has no document {document_id}")
    return document


async def version(session: AsyncSession, document: Document, number: int | None = None) -> DocumentVersion:
    wanted = document.current_version if number is None else number
    row = (await session.exec(select(DocumentVersion).where(DocumentVersion.document_id == document.id,
                                                            DocumentVersion.number == wanted))).first()
    if row is None:
        raise DocumentNotFound(f"document {document.id} has no version {wanted}")
    return row


async def add(session: AsyncSession, storage: Storage, record_id: int, file: BinaryIO, filename: str | None,
              declared: str, actor: str, document: Document | None = None, *, locale: str) -> Document:
    """A new document of the record, or a new version of `document`; committed, with its history line (in the
    language of `locale`: LOCALE)."""
    name = clean_name(filename)
    sniffed = sniff(file, name, declared)
    key = new_key(record_id)
    await storage.put(key, file)
    try:
        document, _ = await _new_version(session, record_id, document, name, sniffed, key, actor, locale)
        await session.commit()
    except IntegrityError:  # another version of it numbered the same meanwhile, or the record went
        await session.rollback()
        await storage.delete(key)
        raise DocumentConflict(f"{name!r} was not kept: the document or its record changed meanwhile; "
                               "send it again") from None
    except BaseException:
        await storage.delete(key)
        raise
    return document


async def _new_version(session: AsyncSession, record_id: int, document: Document | None, name: str, sniffed: Sniffed,
                       key: str, actor: str, locale: str, words: str | None = None,
                       **line: Any) -> tuple[Document, HistoryEntry]:
    """The rows of a new document (or a new version of `document`) and its history line, in the language of
    `locale` (`words`: another text of `processes/history_words.py`, with the name and version; `line`: more of its
    columns), added to the session."""
    if document is None:
        document = Document(record_id=record_id, name=name)
        kind, said = HistoryKind.document_added, words or "document_added"
    else:
        document.current_version += 1
        document.name, document.updated_at = name, utcnow()
        kind, said = HistoryKind.document_version_added, words or "document_version_added"
    text = history_text(locale, said, name=name, version=document.current_version)
    session.add(document)
    await session.flush()
    assert document.id is not None
    session.add(DocumentVersion(document_id=document.id, number=document.current_version, name=name,
                                content_type=sniffed.content_type, size=sniffed.size, sha256=sniffed.sha256,
                                storage_key=key, uploaded_by=actor))
    entry = HistoryEntry(**{"record_id": record_id, "kind": kind, "text": text, "actor": actor, "data": {
        "document_id": document.id, "version": document.current_version, "size": sniffed.size,
        "content_type": sniffed.content_type, "sha256": sniffed.sha256}, **line})
    session.add(entry)
    return document, entry


Before = Callable[[AsyncSession], Awaitable[None]]


async def add_once(session: AsyncSession, storage: Storage, *, record_id: int, data: bytes, filename: str,
                   declared: str, step_key: str, actor: str, locale: str, words: str, before: Before | None = None,
                   after: Before | None = None, **line: Any) -> HistoryEntry:
    """A file a process step made (a letter) as a document of the record, once per `step_key`: its history line
    carries the step key, so a retry finds it and adds nothing. It becomes a new version of the record's latest
    document of the same name, if there is one. Committed with what `before` and `after` add to the transaction,
    their lines before and after its own (the step's process started; its phase done). Its history
    line says `words` (`processes/history_words.py`, with `name` and `version`) in the language of `locale`; `line`:
    more of its columns (`workflow_id`, `phase_key`)."""
    query = select(HistoryEntry).where(HistoryEntry.step_key == step_key)
    if (done := (await session.exec(query)).first()) is not None:
        return done
    name = clean_name(filename)
    sniffed = sniff(io.BytesIO(data), name, declared)
    key = new_key(record_id)
    await storage.put(key, io.BytesIO(data))
    try:
        same = (await session.exec(select(Document).where(Document.record_id == record_id, Document.name == name)
                                   .order_by(col(Document.id).desc()))).first()
        if before is not None:  # the step's earlier lines (its process and phase started) come first in the history
            await before(session)
        _, entry = await _new_version(session, record_id, same, name, sniffed, key, actor, locale, words,
                                      step_key=step_key, **line)
        if after is not None:
            await session.flush()  # its line numbered before theirs
            await after(session)
        await session.commit()
    except IntegrityError:  # another attempt of the step kept it first, or a version numbered the same meanwhile
        await session.rollback()
        await storage.delete(key)
        if (done := (await session.exec(query)).first()) is not None:
            return done
        raise DocumentConflict(f"{name!r} was not kept: the document changed meanwhile; it is tried again") from None
    except BaseException:
        await storage.delete(key)
        raise
    return entry


async def read(storage: Storage, version: DocumentVersion) -> bytes:
    """The whole file of a version (a generated one, small enough to hold: an email attachment)."""
    return b"".join([chunk async for chunk in storage.chunks(version.storage_key)])


async def remove(session: AsyncSession, storage: Storage, document: Document, actor: str, locale: str) -> None:
    """The document, all its versions and their files; a history line says so (in the language of `locale`)."""
    assert document.id is not None
    keys = [v.storage_key for v in await versions_of(session, document.id)]
    for row in await versions_of(session, document.id):
        await session.delete(row)
    await session.flush()
    session.add(HistoryEntry(record_id=document.record_id, kind=HistoryKind.document_deleted,
                             text=history_text(locale, "document_deleted", name=document.name), actor=actor,
                             data={"document_id": document.id, "versions": len(keys)}))
    await session.delete(document)
    await session.commit()
    await delete_files(storage, keys)


async def record_keys(session: AsyncSession, record_id: int) -> list[str]:
    """The storage keys of every version of every document of the record (a case about to be deleted)."""
    rows = await session.exec(select(DocumentVersion.storage_key).join(Document)
                              .where(Document.record_id == record_id))
    return list(rows.all())


async def delete_files(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        try:
            await storage.delete(key)
        except OSError:  # the rows are gone: a file left behind is logged, not an error of the request
            log.exception("document file %s not deleted", key)
