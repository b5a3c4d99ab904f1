"""Client requests, for staff: a record's requests, every request (by contact, status, unlinked), one request
with its answers and files, and sending, cancelling, resending and linking one.

A request linked to a record the caller may not see does not exist for them (404, left out of lists), as
the record itself; an unlinked request is seen by all staff. Linking one to a record needs an admin or a
caller who sees that record (404 otherwise, as for a restricted record).
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.auth import Principal
from api.deps import SessionDep, SettingsDep, StaffDep, TemporalDep
from api.fields import Flag
from api.notices import send_notices
from api.paging import Page, paged
from api.references import named_in_body
from api.routers.records import get_record_or_404
from crm.access import record_visible
from crm.client_requests import closing, store
from crm.client_requests.emails import queue_link_email
from crm.client_requests.errors import ClientRequestClosed, ClientRequestNotFound, RequestTemplateNotFound
from crm.client_requests.models import AutoMove, ClientRequest, RequestStatus
from crm.client_requests.public import (AnswerFile, ClientRequestCreate, ClientRequestLink, ClientRequestPublic,
                                        ClientRequestResend, ClientRequestSent, ClientRequestSummary)
from crm.client_requests.questions import QuestionType
from crm.client_requests.submit import attach_files
from crm import pipeline_store
from crm.models import HistoryEntry, HistoryKind, Record
from crm.types import utcnow
from processes.errors import RecordNotFound
from processes.history_words import history_text
from settings import Settings
from workflows.request_delivery import closures_stored, requests_cancelled

router = APIRouter(tags=["client requests"])
PagedDep = Annotated[Page, Depends(paged(100, 500, newest_first=True))]
StatusQuery = Annotated[RequestStatus | None, Query(description="only requests in this status")]


def _visible(viewer: Principal) -> sa.ColumnElement[bool]:
    """A condition on requests (joined to their record, outer): those `viewer` may see."""
    return sa.or_(col(ClientRequest.record_id).is_(None), record_visible(viewer))


async def get_request_or_404(session: SessionDep, request_id: int, viewer: Principal) -> ClientRequest:
    request = await session.get(ClientRequest, request_id)
    if request is not None and request.record_id is not None:
        try:
            await get_record_or_404(session, request.record_id, viewer)
        except RecordNotFound:  # the request is as hidden as its record
            request = None
    if request is None:
        raise ClientRequestNotFound.worded("no client request {id}", id=request_id)
    return request


def _files(request: ClientRequest) -> list[AnswerFile]:
    files = []
    for question in request.questions:
        if question.get("type") != QuestionType.file:
            continue
        for kept in (request.answers or {}).get(question["key"], []):
            document_id = kept.get("document_id")
            url = f"/records/{request.record_id}/documents/{document_id}" if document_id else None
            files.append(AnswerFile(question=question["key"], document_id=document_id, name=kept["name"],
                                    content_type=kept["content_type"], size=kept["size"], download_url=url))
    return files


def _answers(request: ClientRequest) -> dict[str, Any] | None:
    if request.answers is None:
        return None
    return {key: [{k: v for k, v in f.items() if k != "storage_key"} for f in value]
            if isinstance(value, list) and value and isinstance(value[0], dict) else value
            for key, value in request.answers.items()}


def public(request: ClientRequest) -> ClientRequestPublic:
    shown = ClientRequestPublic.model_validate(request, from_attributes=True)
    shown.status = RequestStatus.expired if store.is_expired(request) else request.status
    shown.answers, shown.files = _answers(request), _files(request)
    return shown


def summary(request: ClientRequest) -> ClientRequestSummary:
    shown = ClientRequestSummary.model_validate(request, from_attributes=True)
    shown.status = RequestStatus.expired if store.is_expired(request) else request.status
    return shown


def _status_is(status: RequestStatus) -> sa.ColumnElement[bool]:
    """Expired includes pending requests past their expiry (nothing marks them); pending excludes them."""
    now = utcnow()
    if status == RequestStatus.expired:
        return sa.or_(col(ClientRequest.status) == status, sa.and_(
            col(ClientRequest.status) == RequestStatus.pending, col(ClientRequest.expires_at) <= now))
    if status == RequestStatus.pending:
        return sa.and_(col(ClientRequest.status) == status, col(ClientRequest.expires_at) > now)
    return col(ClientRequest.status) == status


async def _history(session: SessionDep, request: ClientRequest, kind: HistoryKind, text: str, actor: str) -> None:
    """The request's line in its record's history; `text` in the office's language (`history_text`)."""
    if request.record_id is not None:
        session.add(HistoryEntry(record_id=request.record_id, kind=kind, text=text, actor=actor,
                                 data={"client_request_id": request.id}))


async def _send(session: SessionDep, temporal: TemporalDep, settings: Settings, request: ClientRequest, token: str,
                words: str, actor: str) -> ClientRequestSent:
    """Queue the link's email, note it in the record's history, commit, then start its delivery."""
    step_key = queue_link_email(session, settings, request, token)
    await _history(session, request, HistoryKind.client_request_sent,
                   history_text(settings.locale, words, title=request.title, to=request.contact_email), actor)
    await session.commit()
    await send_notices(temporal, settings, step_key.replace("/link/", "-"), [step_key])
    return ClientRequestSent(**public(request).model_dump(), link=store.request_link(settings, token),
                             outbox_step_key=step_key)


@router.post("/records/{record_id}/client-requests", status_code=201, response_model=ClientRequestSent)
async def send_client_request(record_id: int, body: ClientRequestCreate, session: SessionDep, temporal: TemporalDep,
                              settings: SettingsDep, principal: StaffDep) -> ClientRequestSent:
    """Make a request from the template's newest version, link it to the record and email its link to the
    record's contact (or `contact_email`). 422 RecipientMissing when there is no address: nothing is made."""
    await get_record_or_404(session, record_id, principal)
    request, token = await named_in_body("body.template", store.open_request(
        session, template_key=body.template, record_id=record_id, actor=principal.actor,
        expires_days=body.expires_days, language=body.language, contact_email=body.contact_email, settings=settings),
        missing=RequestTemplateNotFound)
    return await _send(session, temporal, settings, request, token, "client_request_sent_link", principal.actor)


@router.get("/records/{record_id}/client-requests", response_model=list[ClientRequestSummary])
async def record_client_requests(record_id: int, session: SessionDep, principal: StaffDep, page: PagedDep,
                                 status: StatusQuery = None) -> list[ClientRequestSummary]:
    """The record's requests, newest first."""
    await get_record_or_404(session, record_id, principal)
    query = select(ClientRequest).where(ClientRequest.record_id == record_id)
    if status is not None:
        query = query.where(_status_is(status))
    rows = await session.exec(page.newest(query, col(ClientRequest.id)))
    return page.done([summary(r) for r in rows.all()])


@router.get("/client-requests", response_model=list[ClientRequestSummary])
async def list_client_requests(
        session: SessionDep, principal: StaffDep, page: PagedDep, status: StatusQuery = None,
        contact_email: Annotated[str | None, Query(max_length=320, description="the client's address")] = None,
        unlinked: Annotated[Flag | None, Query(description="true: only requests linked to no record")] = None,
) -> list[ClientRequestSummary]:
    """Every request the caller may see, newest first: a client's (`contact_email`), those not linked yet."""
    query = select(ClientRequest).outerjoin(Record, col(Record.id) == col(ClientRequest.record_id)).where(
        _visible(principal))
    if status is not None:
        query = query.where(_status_is(status))
    if contact_email is not None:
        query = query.where(sa.func.lower(col(ClientRequest.contact_email)) == contact_email.strip().lower())
    if unlinked is not None:
        linked = col(ClientRequest.record_id).is_(None)
        query = query.where(linked if unlinked else sa.not_(linked))
    rows = await session.exec(page.newest(query, col(ClientRequest.id)))
    return page.done([summary(r) for r in rows.all()])


@router.get("/client-requests/{client_request_id}", response_model=ClientRequestPublic)
async def get_client_request(client_request_id: int, session: SessionDep,
                             principal: StaffDep) -> ClientRequestPublic:
    """The request with its questions, the answers (when submitted) and the files, each with its download link."""
    return public(await get_request_or_404(session, client_request_id, principal))


@router.post("/client-requests/{client_request_id}/cancel", response_model=ClientRequestPublic)
async def cancel_client_request(client_request_id: int, session: SessionDep, temporal: TemporalDep,
                                settings: SettingsDep, principal: StaffDep) -> ClientRequestPublic:
    """Withdraw a pending (or expired) request: its link shows that it was withdrawn; a process's phase waiting for
    it is told (and goes on without the answers). 409 once submitted."""
    request = await get_request_or_404(session, client_request_id, principal)
    if request.status in (RequestStatus.submitted, RequestStatus.cancelled):
        raise ClientRequestClosed.worded("client request {id} is {status}: it cannot be cancelled",
                                         id=client_request_id, status=request.status.value)
    # a process waiting for it is told (its closure row)
    await closing.cancel(session, request, principal.actor, settings.locale)
    await requests_cancelled(temporal, settings, [client_request_id])  # its workflow stops reminding and waiting
    await closures_stored(temporal, settings, session, client_request_id)
    return public(request)


@router.post("/client-requests/{client_request_id}/resend", response_model=ClientRequestSent)
async def resend_client_request(client_request_id: int, session: SessionDep, temporal: TemporalDep,
                                settings: SettingsDep,
                                principal: StaffDep, body: ClientRequestResend | None = None) -> ClientRequestSent:
    """Email a new link (the old one stops working) with a new expiry. 409 once submitted or cancelled."""
    request = await get_request_or_404(session, client_request_id, principal)
    if request.status in (RequestStatus.submitted, RequestStatus.cancelled):
        raise ClientRequestClosed.worded("client request {id} is {status}: it cannot be resent",
                                         id=client_request_id, status=request.status.value)
    token = store.renew_token(session, request, settings, body.expires_days if body else None)
    return await _send(session, temporal, settings, request, token, "client_request_sent_again", principal.actor)


@router.post("/client-requests/{client_request_id}/link", response_model=ClientRequestPublic)
async def link_client_request(client_request_id: int, body: ClientRequestLink, session: SessionDep,
                              settings: SettingsDep, principal: StaffDep) -> ClientRequestPublic:
    """Link the request to a record (a job): by an admin, or staff who see that record (404 otherwise). Files
    already sent become documents of the record."""
    request = await get_request_or_404(session, client_request_id, principal)
    record = await named_in_body("body.record_id", get_record_or_404(session, body.record_id, principal))
    if request.record_id == record.id:
        return public(request)
    if request.record_id is not None:
        raise ClientRequestClosed.worded("client request {id} is linked to record {record} already",
                                         id=client_request_id, record=request.record_id)
    request.record_id = record.id
    if not request.contact_email:
        request.contact_email = await store.record_email(session, record)
    moves_on = body.auto_move and request.status is RequestStatus.pending and await _governed(session, record)
    if moves_on:  # its answers move the record on from where it is now, as an automation's request does
        request.auto_move, request.waiting_status = AutoMove.on, record.status
    await attach_files(session, request, body.record_id, principal.actor, settings.locale)
    session.add(request)
    await _history(session, request, HistoryKind.client_request_linked,
                   history_text(settings.locale, "client_request_linked", title=request.title)
                   + (history_text(settings.locale, "request_linked_moves", status=record.status) if moves_on else ""),
                   principal.actor)
    await session.commit()
    return public(request)


async def _governed(session: AsyncSession, record: Record) -> bool:
    """Whether a pipeline governs the record and its status has a next one for its type."""
    pipeline = await pipeline_store.governing(session, record.kind, record.type)
    sequence = pipeline.sequence(record.type) if pipeline is not None else []
    return record.status in sequence[:-1]
