"""Keeping a client's submission: in ONE transaction the answers, the files as documents of the linked record,
the status, a history line and the `ClientRequestSubmission` outbox row (the dispatcher delivers it to the
workflow waiting for it). The files go to the storage first; if the transaction does not commit they are
deleted again: a crash in between leaves a file of no row, never a row of no file.

The request changes from pending to submitted by a conditional UPDATE: of two submissions at once one
wins, the other stores nothing (ClientRequestClosed).

A request not linked to a record keeps its files under `client-requests/<id>/` with no document rows;
linking it (`attach_files`) makes them documents of the record.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.client_requests.answers import Checked
from crm.client_requests.errors import ClientRequestClosed
from crm.client_requests.models import ClientRequest, ClientRequestSubmission, RequestStatus
from crm.documents.models import Document, DocumentVersion
from crm.documents.storage import Storage, new_key
from crm.documents.store import delete_files
from crm.models import HistoryEntry, HistoryKind
from crm.types import utcnow
from processes.history_words import history_text

CLIENT = "client"  # the actor of what the client does


async def _as_documents(session: AsyncSession, record_id: int, files: list[dict[str, Any]], actor: str,
                        title: str, locale: str) -> None:
    """Document rows (and history lines, in the language of `locale`) for stored files of a request; each file's
    answer gets its id."""
    for kept in files:
        document = Document(record_id=record_id, name=kept["name"])
        session.add(document)
        await session.flush()
        assert document.id is not None
        session.add(DocumentVersion(document_id=document.id, number=1, name=kept["name"],
                                    content_type=kept["content_type"], size=kept["size"], sha256=kept["sha256"],
                                    storage_key=kept.pop("storage_key"), uploaded_by=actor))
        session.add(HistoryEntry(record_id=record_id, kind=HistoryKind.document_added,
                                 text=history_text(locale, "document_from_request", name=kept["name"], title=title),
                                 actor=actor,
                                 data={"document_id": document.id, "version": 1, "size": kept["size"],
                                       "content_type": kept["content_type"], "sha256": kept["sha256"]}))
        kept["document_id"] = document.id


async def submit(session: AsyncSession, storage: Storage, request: ClientRequest, checked: Checked,
                 locale: str) -> None:
    """Store the checked answers and files; ClientRequestClosed (nothing stored) if it is no longer pending."""
    assert request.id is not None
    stored: list[dict[str, Any]] = []
    keys: list[str] = []
    answers = dict(checked.answers)
    try:
        for file in checked.files:
            key = new_key(request.record_id) if request.record_id is not None else \
                f"client-requests/{request.id}/{uuid.uuid4().hex}"
            file.file.seek(0)
            keys.append(key)
            await storage.put(key, file.file)
            kept = {"name": file.name, "content_type": file.content_type, "size": file.size, "sha256": file.sha256,
                    "storage_key": key}
            stored.append(kept)
            answers.setdefault(file.question, []).append(kept)
        if request.record_id is not None:
            await _as_documents(session, request.record_id, stored, CLIENT, request.title, locale)
        now = utcnow()
        changed = await session.exec(  # type: ignore[call-overload]
            update(ClientRequest).where(col(ClientRequest.id) == request.id,
                                        col(ClientRequest.status) == RequestStatus.pending,
                                        col(ClientRequest.expires_at) > now)
            .values(status=RequestStatus.submitted, submitted_at=now, answers=answers))
        if changed.rowcount != 1:
            raise ClientRequestClosed(f"client request {request.id} is no longer pending")
        session.add(ClientRequestSubmission(request_id=request.id))
        if request.record_id is not None:
            session.add(HistoryEntry(record_id=request.record_id, kind=HistoryKind.client_request_submitted,
                                     text=history_text(locale, "client_request_answered", title=request.title),
                                     actor=CLIENT,
                                     data={"client_request_id": request.id, "files": len(stored)}))
        await session.commit()
    except BaseException:
        await session.rollback()
        await delete_files(storage, keys)
        raise


async def attach_files(session: AsyncSession, request: ClientRequest, record_id: int, actor: str,
                       locale: str) -> None:
    """A submitted request linked to a record afterwards: its files become documents of the record (no commit), their
    lines in the language of `locale` (LOCALE)."""
    if not request.answers:
        return
    answers = {key: [dict(f) for f in value] if isinstance(value, list) and value and isinstance(value[0], dict)
               else value for key, value in request.answers.items()}
    loose = [f for value in answers.values() if isinstance(value, list) for f in value
             if isinstance(f, dict) and "storage_key" in f]
    if loose:
        await _as_documents(session, record_id, loose, actor, request.title, locale)
        request.answers = answers
