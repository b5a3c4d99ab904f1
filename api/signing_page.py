"""The embedded signing provider's page: `/sign/{token}`, public, the token being the envelope's 256-bit link.

The token is looked up by its SHA-256, which is all the request keeps as its envelope id (as client requests keep
theirs, `crm/client_requests/store.hash_token`); the callback this page builds names that envelope id, never the
token.

In Italian or English, as the browser prefers (Accept-Language; else the installation's LOCALE), the link's expiry
in the installation's TIMEZONE. `GET /sign/{token}` shows the document's name, a link to read it
(`GET /sign/{token}/document`, the PDF sent) and two buttons; `POST /sign/{token}` (`decision=sign` or `decline`) builds the provider's callback, signs it with the
embedded provider's secret and hands it to the same path as any provider's (`api/routers/signatures.receive`). A
link past its expiry tells the process it expired (the same way) and shows 410, and so does a request Stagecoach
cancelled (its phase skipped, its process aborted or ended), or one still open whose process has ended (withdrawn:
nothing is told); an unknown token is 404 and counts towards the address's guess limit (the client forms' one); a
request that has its outcome says which (409 to a POST).
"""

from __future__ import annotations

import json
import secrets
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.engine_words import language, moment_text
from api.client_forms import guard
from api.client_forms.i18n import from_accept_language
from api.client_forms.pages import CSS, HEADERS
from api.deps import SessionDep, SettingsDep
from api.routers.documents import download
from api.routers.signatures import EMBEDDED, embedded_secret, receive, signed_headers
from crm.client_requests.store import hash_token
from crm.documents import store
from crm.documents.models import Document
from crm.documents.storage import storage_for
from crm.signatures import SignatureRequest, SignatureStatus, ended_process
from crm.types import utcnow

router = APIRouter(include_in_schema=False)
WORDS = {
    "en": {"signed": "You signed this document. Thank you.", "declined": "You declined to sign this document.",
           "expired": "This signing link has expired.", "title": "Document to sign", "signature": "Signature",
           "read": "Please read {document}, then sign it or decline.", "signer": "Signer: {signer}.",
           "until": "The link is good until {date}.", "sign": "Sign", "decline": "Decline",
           "unknown": "This signing link is not known.", "unknown_title": "Unknown link",
           "slow": "Too many attempts: try again later.", "answered": "This document has its answer already.",
           "choose": "Choose sign or decline.", "not_kept": "Your answer was not kept: try again.",
           "removed": "The document was removed.",
           "cancelled": "This signature request was withdrawn: there is nothing to sign any more."},
    "it": {"signed": "Ha firmato il documento. Grazie.", "declined": "Ha rifiutato di firmare il documento.",
           "expired": "Questo link per la firma è scaduto.", "title": "Documento da firmare", "signature": "Firma",
           "read": "Legga {document}, poi lo firmi o rifiuti.", "signer": "Firmatario: {signer}.",
           "until": "Il link vale fino a {date}.", "sign": "Firma", "decline": "Rifiuta",
           "unknown": "Questo link per la firma non è conosciuto.", "unknown_title": "Link sconosciuto",
           "slow": "Troppi tentativi: riprovi più tardi.", "answered": "Questo documento ha già la sua risposta.",
           "choose": "Scelga firma o rifiuta.", "not_kept": "La risposta non è stata salvata: riprovi.",
           "removed": "Il documento è stato rimosso.",
           "cancelled": "Questa richiesta di firma è stata ritirata: non c'è più nulla da firmare."},
}


def _language(http: Request) -> str:
    """The page's language the browser prefers; the installation's (LOCALE) when it prefers none of them."""
    header = http.headers.get("accept-language", "")
    named = {part.split(";")[0].strip().split("-")[0].lower() for part in header.split(",")[:20]}
    preferred = from_accept_language(header)
    return preferred if preferred in WORDS and preferred in named else language(http.app.state.settings.locale)


def _words(http: Request) -> dict[str, str]:
    return WORDS[_language(http)]


def _page(http: Request, status: int, title: str, body: str) -> HTMLResponse:
    lang = _language(http)
    html = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main><h1>{escape(title)}</h1>"
            f"{body}</main></body></html>")
    return HTMLResponse(html, status_code=status, headers=HEADERS)


async def _find(http: Request, session: AsyncSession, token: str) -> SignatureRequest | HTMLResponse:
    limit: guard.GuessLimit = http.app.state.client_form_guesses
    address = http.client.host if http.client else "unknown"
    if limit.blocked(address):
        return _page(http, 429, _words(http)["signature"], f"<p>{_words(http)['slow']}</p>")
    found = None if len(token) > 200 else (await session.exec(select(SignatureRequest).where(
        SignatureRequest.provider == EMBEDDED, SignatureRequest.envelope_id == hash_token(token)))).first()
    if found is None:
        limit.miss(address)
        return _page(http, 404, _words(http)["unknown_title"], f"<p>{_words(http)['unknown']}</p>")
    return found


async def _callback(http: Request, session: AsyncSession, found: SignatureRequest, status: str) -> object:
    settings = http.app.state.settings
    raw = json.dumps({"envelope_id": found.envelope_id, "status": status}).encode()
    headers = signed_headers(embedded_secret(settings), f"msg_{secrets.token_hex(12)}", raw)
    return await receive(session, settings, http.app.state.temporal, EMBEDDED, headers, raw)


async def _open(http: Request, session: AsyncSession, token: str) -> SignatureRequest | HTMLResponse:
    """The request still waiting for its signer, or the page saying why not (an expired one is told so first)."""
    found = await _find(http, session, token)
    if isinstance(found, HTMLResponse):
        return found
    if found.status is SignatureStatus.sent and await ended_process(session, found) is not None:
        return _page(http, 410, _words(http)["signature"], f"<p>{_words(http)['cancelled']}</p>")  # nobody waits
    if found.status is SignatureStatus.sent and found.expires_at <= utcnow():
        await _callback(http, session, found, "expired")
        await session.refresh(found)
    if found.status.final:
        gone = found.status in (SignatureStatus.expired, SignatureStatus.cancelled)
        return _page(http, 410 if gone else 200, _words(http)["signature"],
                     f"<p>{_words(http)[found.status.value]}</p>")
    return found


@router.get("/sign/{token}", response_class=HTMLResponse)
async def signing_page(token: str, http: Request, session: SessionDep, settings: SettingsDep) -> Response:
    found = await _open(http, session, token)
    if isinstance(found, HTMLResponse):
        return found
    document = await session.get(Document, found.document_id)
    w = _words(http)
    link = f'<a href="/sign/{escape(token)}/document">{escape(document.name if document else "PDF")}</a>'
    until = escape(moment_text(found.expires_at, _language(http), settings.zone))
    return _page(http, 200, w["title"], (
        f'<p>{w["read"].format(document=link)}</p><p>{escape(w["signer"].format(signer=found.signer))} '
        f'{w["until"].format(date=until)}</p>'
        f'<form method="post" action="/sign/{escape(token)}"><p><button name="decision" value="sign">{w["sign"]}'
        f'</button> <button name="decision" value="decline">{w["decline"]}</button></p></form>'))


@router.get("/sign/{token}/document")
async def signing_document(token: str, http: Request, session: SessionDep, settings: SettingsDep) -> Response:
    found = await _open(http, session, token)
    if isinstance(found, HTMLResponse):
        return found
    document = await session.get(Document, found.document_id)
    if document is None:
        return _page(http, 410, _words(http)["signature"], f"<p>{_words(http)['removed']}</p>")
    return await download(storage_for(settings), await store.version(session, document, found.version))


@router.post("/sign/{token}", response_class=HTMLResponse)
async def sign_or_decline(token: str, http: Request, session: SessionDep) -> Response:
    found = await _open(http, session, token)
    if isinstance(found, HTMLResponse):
        return _page(http, 409, _words(http)["signature"], f"<p>{_words(http)['answered']}</p>") \
            if found.status_code == 200 else found
    content_type = http.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return _page(http, 400, _words(http)["signature"], f"<p>{_words(http)['choose']}</p>")
    form = await http.form(max_files=0, max_fields=5)
    decision = form.get("decision")
    if decision not in ("sign", "decline"):
        return _page(http, 400, _words(http)["signature"], f"<p>{_words(http)['choose']}</p>")
    answer = await _callback(http, session, found, "signed" if decision == "sign" else "declined")
    if isinstance(answer, JSONResponse):
        return _page(http, answer.status_code, _words(http)["signature"], f"<p>{_words(http)['not_kept']}</p>")
    await session.refresh(found)  # cancelled meanwhile: gone, as to a GET
    return _page(http, 410 if found.status is SignatureStatus.cancelled else 200, _words(http)["signature"],
                 f"<p>{_words(http)[found.status.value]}</p>")
