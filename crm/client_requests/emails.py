"""The email that carries a request's link to the client, in the request's language, written to the outbox in
the caller's transaction (delivered once it commits: api/notices.py `send_notices`)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from activities.mailer import message_id_for
from crm.client_requests.errors import RecipientMissing
from crm.client_requests.models import ClientRequest
from crm.client_requests.store import request_link
from crm.models import OutboxMessage
from settings import Settings

WORDS = {
    "it": ("Per rispondere apra questo collegamento (valido fino al {date}):", "%d/%m/%Y"),
    "fr": ("Pour répondre, ouvrez ce lien (valable jusqu'au {date}) :", "%d/%m/%Y"),
    "de": ("Zum Antworten öffnen Sie diesen Link (gültig bis {date}):", "%d.%m.%Y"),
    "en": ("To answer, open this link (valid until {date}):", "%Y-%m-%d"),
}


def link_email(settings: Settings, request: ClientRequest, token: str) -> tuple[str, str]:
    """The subject and body of the email carrying the link."""
    sentence, shape = WORDS.get(request.language.split("-")[0].lower(), WORDS["en"])
    until = f"{request.expires_at.astimezone(settings.zone):{shape}}"
    body = f"{request.message.strip()}\n\n" if request.message.strip() else ""
    return request.title, f"{body}{sentence.format(date=until)}\n{request_link(settings, token)}\n"


def queue_link_email(session: AsyncSession, settings: Settings, request: ClientRequest, token: str) -> str:
    """An outbox message with the link to the request's contact (no commit); its step key."""
    if not request.contact_email:
        where = f"record {request.record_id}" if request.record_id else "the request"
        raise RecipientMissing(f"{where} has no email address (nor a contact with one): give `contact_email`")
    assert request.id is not None
    step_key = f"client-request/{request.id}/link/{request.token_hash[:16]}"
    subject, body = link_email(settings, request, token)
    session.add(OutboxMessage(step_key=step_key, message_id=message_id_for(step_key, settings.smtp_from),
                              record_id=request.record_id, to_address=request.contact_email, subject=subject[:1000],
                              body=body))
    return step_key
