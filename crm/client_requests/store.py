"""Saving and reading client request templates (each save a new version), and opening requests from them.

A request's link carries a token of 256 random bits (`secrets.token_urlsafe(32)`); only its SHA-256 is
stored, so the database alone cannot open a form. `open_request` adds the row and flushes it: the
caller commits (with whatever else its transaction holds) and sends the link (crm/client_requests/emails.py).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.client_requests.errors import RequestTemplateNotFound
from crm.client_requests.models import AutoMove, ClientRequest, ClientRequestTemplate, ReplacedLink, RequestStatus
from crm.client_requests.questions import RequestTemplate
from crm.models import Record
from crm.template_store import add_version
from crm.types import utcnow
from processes.errors import RecordNotFound, did_you_mean
from settings import Settings, get_settings


# --- templates -----------------------------------------------------------------------------------------

def _content(row: ClientRequestTemplate | RequestTemplate) -> dict[str, Any]:
    if isinstance(row, RequestTemplate):
        return row.model_dump(mode="json")
    return {"key": row.key, "language": row.language, "title": row.title, "message": row.message,
            "questions": row.questions}


def definition(row: ClientRequestTemplate) -> RequestTemplate:
    return RequestTemplate.model_validate(_content(row))


async def newest(session: AsyncSession, key: str) -> ClientRequestTemplate | None:
    query = (select(ClientRequestTemplate).where(ClientRequestTemplate.key == key)
             .order_by(col(ClientRequestTemplate.version).desc()).limit(1))
    return (await session.exec(query)).first()


async def save_template(session: AsyncSession, template: RequestTemplate, created_by: str,
                        source_text: str | None = None) -> tuple[ClientRequestTemplate, bool]:
    """Store a new version (committed), with the text it was parsed from if any; one identical to the newest returns
    that one (created=False), whatever its text: a change of comments or layout alone is no new version, and the
    newest keeps the text it was saved with."""
    content = template.model_dump(mode="json")
    return await add_version(
        session, lambda: newest(session, template.key), lambda current: _content(current) == content,
        lambda number: ClientRequestTemplate(
            key=template.key, version=number, language=template.language, title=template.title,
            message=template.message, questions=content["questions"], created_by=created_by,
            source_text=source_text),
        f"request template '{template.key}'")


async def get_template(session: AsyncSession, key: str, version: int | None = None) -> ClientRequestTemplate:
    """A version of a template (the newest without `version`); RequestTemplateNotFound naming the nearest keys."""
    if version is None:
        row = await newest(session, key)
    else:
        row = (await session.exec(select(ClientRequestTemplate).where(
            ClientRequestTemplate.key == key, ClientRequestTemplate.version == version))).first()
    if row is None:
        if version is not None and await newest(session, key) is not None:
            raise RequestTemplateNotFound.worded("request template '{key}' has no version {version}", key=key,
                                                 version=version)
        keys = (await session.exec(select(ClientRequestTemplate.key).distinct())).all()
        raise RequestTemplateNotFound.worded("no request template '{key}'{hint}", key=key, hint=did_you_mean(key, keys))
    return row


async def newest_versions(session: AsyncSession, *, limit: int, offset: int = 0) -> list[tuple[ClientRequestTemplate,
                                                                                               int]]:
    """The newest version of every template with its number of versions, by key."""
    latest = (select(ClientRequestTemplate.key, func.max(ClientRequestTemplate.version).label("version"),
                     func.count().label("versions"))
              .group_by(ClientRequestTemplate.key).subquery())
    query = (select(ClientRequestTemplate, latest.c.versions)
             .join(latest, (col(ClientRequestTemplate.key) == latest.c.key)
                   & (col(ClientRequestTemplate.version) == latest.c.version))
             .order_by(col(ClientRequestTemplate.key)).offset(offset).limit(limit))
    return [(row, versions) for row, versions in (await session.exec(query)).all()]


async def versions(session: AsyncSession, key: str, *, limit: int, offset: int = 0) -> list[ClientRequestTemplate]:
    await get_template(session, key)
    query = (select(ClientRequestTemplate).where(ClientRequestTemplate.key == key)
             .order_by(col(ClientRequestTemplate.version)).offset(offset).limit(limit))
    return list((await session.exec(query)).all())


# --- requests ------------------------------------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> tuple[str, str]:
    """A link's token (256 random bits) and its hash as stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def request_link(settings: Settings, token: str) -> str:
    """The address the client opens: PUBLIC_URL + /r/{token}."""
    return f"{settings.public_url.rstrip('/')}/r/{token}"


async def find_by_token(session: AsyncSession, token: str) -> ClientRequest | None:
    """The request a link's token opens, whatever its status (None: no such token, or a replaced one)."""
    if not token or len(token) > 200:
        return None
    return (await session.exec(select(ClientRequest).where(ClientRequest.token_hash == hash_token(token)))).first()


async def find_replaced(session: AsyncSession, token: str) -> tuple[ClientRequest, ReplacedLink] | None:
    """The request whose link `token` was until a resend replaced it, with when (None: never a link of one)."""
    if not token or len(token) > 200:
        return None
    replaced = await session.get(ReplacedLink, hash_token(token))
    if replaced is None:
        return None
    request = await session.get(ClientRequest, replaced.request_id)
    return (request, replaced) if request is not None else None


async def record_email(session: AsyncSession, record: Record) -> str:
    """Where a record's requests go: its own address, else its contact's; "" when neither has one."""
    if record.email:
        return record.email
    contact = await session.get(Record, record.contact_id) if record.contact_id else None
    return contact.email or "" if contact is not None else ""


def is_expired(request: ClientRequest) -> bool:
    """Expired: marked so by the sweep, or pending past its expiry and not swept yet."""
    return request.status == RequestStatus.expired or (
        request.status == RequestStatus.pending and request.expires_at <= utcnow())


def days_on(days: int, settings: Settings, now: datetime | None = None) -> datetime:
    """`days` from `now` at the same time of day in TIMEZONE (in UTC): a request sent at 03:02 with 120 days expires
    at 03:02 across a change of the clocks, not at 04:02."""
    return ((now or utcnow()).astimezone(settings.zone) + timedelta(days=days)).astimezone(UTC)


async def open_request(session: AsyncSession, *, template_key: str, record_id: int | None, actor: str,
                       auto_move: AutoMove = AutoMove.off, waiting_workflow_id: str | None = None,
                       waiting_phase_key: str | None = None, waiting_status: str | None = None,
                       expires_days: int | None = None, language: str | None = None,
                       contact_email: str | None = None,
                       settings: Settings | None = None) -> tuple[ClientRequest, str]:
    """A pending request made from the template's newest version (its questions copied), added and flushed;
    with its link's token in clear (only its hash is kept). The contact email, when not given, is the
    record's (or its contact's). RequestTemplateNotFound, RecordNotFound: nothing added."""
    settings = settings or get_settings()
    template = await get_template(session, template_key)
    if record_id is not None:
        record = await session.get(Record, record_id)
        if record is None:
            raise RecordNotFound.worded("no record {id}", id=record_id)
        if contact_email is None:
            contact_email = await record_email(session, record)
    days = expires_days if expires_days is not None else settings.client_request_expiry_days
    token, token_hash = new_token()
    request = ClientRequest(
        record_id=record_id, contact_email=contact_email or "", template_key=template.key,
        template_version=template.version, language=language or template.language, title=template.title,
        message=template.message, questions=list(template.questions), token_hash=token_hash,
        status=RequestStatus.pending, auto_move=auto_move, waiting_workflow_id=waiting_workflow_id,
        waiting_phase_key=waiting_phase_key, waiting_status=waiting_status,
        expires_at=days_on(days, settings), created_by=actor)
    session.add(request)
    await session.flush()
    return request, token


def renew_token(session: AsyncSession, request: ClientRequest, settings: Settings,
                expires_days: int | None = None) -> str:
    """A new token for the request and a new expiry from now, the old link kept as replaced (it opens a page saying
    a newer one was sent); added to the session, not committed."""
    session.add(ReplacedLink(token_hash=request.token_hash, request_id=request.id))
    token, request.token_hash = new_token()
    days = expires_days if expires_days is not None else settings.client_request_expiry_days
    request.expires_at = days_on(days, settings)
    if request.status == RequestStatus.expired:  # open again (a process that was told it ended is not told again)
        request.status, request.closed_at = RequestStatus.pending, None
    session.add(request)
    return token
