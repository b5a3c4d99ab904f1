"""The signing providers' callback: `POST /signatures/callback/{provider}`, public but signed.

A provider tells a signature request's outcome here, signed as Standard Webhooks says (as the project's own
webhooks are): `webhook-id`, `webhook-timestamp` (within SIGNING_CALLBACK_TOLERANCE_SECONDS of now, either way)
and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{raw body}">`, under the provider's
`secret`; several may be sent, space-separated). No API key is asked: the signature is the authentication, checked
over the raw body before it is read as JSON. A wrong or missing signature, or an unknown provider (nothing to check
it with), is 401; an unknown envelope 404; a repeat (the outcome already kept) answers 200 and changes nothing, and so
does one for a request Stagecoach cancelled (`"changed": false`, status `cancelled`). An outcome told after the
request's expiry is kept as `expired` (the process went on as expired then): 409. One for a request still open whose
process has ended (`crm/signatures.ended_process`) is 409 and changes nothing: nobody waits for it.

The body: `{"envelope_id": "...", "status": "signed" | "declined" | "expired", "document": "<the signed PDF,
base64>"}` (`document` only for `signed`; without it the version sent is kept as the signed one). What the embedded
provider's page signs is sealed with the installation's key first (`crm/documents/seal.py`): the kept PDF carries a
verifiable PDF signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Request
from fastapi import Path as FastPath
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks.webhooks import Webhook as Signer
from temporalio.client import Client

from api.admission import body_limit
from api.client_forms.guard import form_secret
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.problems import problem
from crm.documents import store
from crm.documents.models import Document
from crm.documents.seal import SealFailed, seal
from crm.documents.storage import StoredFileMissing, storage_for
from crm.signature_outcomes import AlreadyFinal, keep_outcome
from crm.signatures import SignatureRequest, SignatureStatus, ended_process
from crm.types import utcnow
from processes.errors import DocumentInvalid, DocumentNotFound
from settings import Settings
from workflows.signature_delivery import outcome_stored

router = APIRouter(prefix="/signatures", tags=["signatures"])
EMBEDDED = "embedded"


def embedded_secret(settings: Settings) -> str:
    """The embedded provider's callback secret: derived from CLIENT_FORM_SECRET (or the one kept in DATA_DIR)."""
    key = hmac.new(form_secret(settings), b"embedded-signing-callbacks", hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(key).decode()


def provider_secret(settings: Settings, provider: str) -> str | None:
    if provider in settings.signing_providers:
        return settings.signing_providers[provider].secret.get_secret_value()
    return embedded_secret(settings) if provider == EMBEDDED else None


def signed_headers(secret: str, message_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers a callback of `body` is signed with (what the embedded signing page sends; tests too)."""
    from datetime import UTC, datetime

    moment = datetime.fromtimestamp(int(now if now is not None else time.time()), UTC)
    return {"webhook-id": message_id, "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Signer(secret).sign(message_id, moment, body.decode())}


def headers_unsigned(headers: dict[str, str], tolerance: float) -> str | None:
    """Why the callback's signature headers cannot hold (missing, or a time out of `tolerance`), or None."""
    message_id, stamp, signatures = (headers.get(h, "") for h in ("webhook-id", "webhook-timestamp",
                                                                   "webhook-signature"))
    if not (message_id and stamp and signatures):
        return "the callback is not signed: webhook-id, webhook-timestamp and webhook-signature are required"
    try:
        sent_at = int(stamp)
    except ValueError:
        return "webhook-timestamp is not a number of seconds"
    if abs(time.time() - sent_at) > tolerance:
        return f"webhook-timestamp is more than {tolerance:.0f} seconds away from now"
    return None


def verified(secret: str, headers: dict[str, str], body: bytes, tolerance: float) -> str | None:
    """Why the callback's signature does not hold, or None when it does."""
    if (why := headers_unsigned(headers, tolerance)) is not None:
        return why
    message_id, sent_at, signatures = headers["webhook-id"], int(headers["webhook-timestamp"]), \
        headers["webhook-signature"]
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return "the callback's body is not UTF-8"
    from datetime import UTC, datetime

    expected = Signer(secret).sign(message_id, datetime.fromtimestamp(sent_at, UTC), text).split(",", 1)[1]
    for given in signatures.split():
        version, _, value = given.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return None
    return "webhook-signature does not match the body under the provider's secret"


class CallbackBody(BaseModel):
    envelope_id: Annotated[str, Field(min_length=1, max_length=200)]
    status: Literal["signed", "declined", "expired"]
    document: str | None = Field(None, max_length=70_000_000, description="the signed PDF, base64")


class CallbackAnswer(BaseModel):
    signature_id: int
    status: SignatureStatus
    changed: bool  # false: the outcome was kept before (a repeat)


async def apply(session: AsyncSession, settings: Settings, temporal: Client | None, provider: str,
                body: CallbackBody, actor: str) -> JSONResponse | CallbackAnswer:
    """Keep a verified callback's outcome and deliver it: the answer, or a problem."""
    signature = (await session.exec(select(SignatureRequest).where(
        SignatureRequest.provider == provider, SignatureRequest.envelope_id == body.envelope_id))).first()
    if signature is None or signature.id is None:
        return problem(404, "NotFound", f"no signature request of provider '{provider}' has envelope "
                                        f"'{body.envelope_id}'")
    if signature.status.final:
        return CallbackAnswer(signature_id=signature.id, status=signature.status, changed=False)
    if (ended := await ended_process(session, signature)) is not None:
        when = f" at {ended.ended_at:%Y-%m-%d %H:%M} UTC" if ended.ended_at else ""
        return problem(409, "Conflict", f"signature request {signature.id} was sent by process {ended.workflow_id}, "
                                        f"which ended ({ended.status.value}{when}): nobody waits for its outcome, "
                                        "nothing was kept")
    outcome = SignatureStatus(body.status)
    late = outcome is not SignatureStatus.expired and signature.expires_at <= utcnow()
    if late:  # the process went on as expired at that moment: so does the request
        outcome = SignatureStatus.expired
    pdf: bytes | None = None
    if outcome is SignatureStatus.signed:
        try:
            pdf = base64.b64decode(body.document, validate=True) if body.document else await _sent_pdf(
                session, settings, signature)
        except (binascii.Error, ValueError):
            return problem(422, "RequestInvalid", "document: not base64")
        if pdf is None:
            return problem(409, "Conflict", f"the document {signature.document_id} sent for signature is gone: send "
                                            "the signed PDF in `document`")
        if provider == EMBEDDED:  # signed on Stagecoach's own page: sealed with the installation's key
            try:
                pdf = await seal(settings, pdf, signer_name=signature.signer,
                                 reason=f"Signed by {signature.signer} on the signing page (signature request "
                                        f"#{signature.id}, {utcnow():%Y-%m-%d %H:%M} UTC)")
            except SealFailed as exc:
                return problem(409, "Conflict", f"signature request {signature.id}: {exc}")
    try:
        kept = await keep_outcome(session, storage_for(settings), signature, outcome, pdf, actor,
                                  settings.locale)
    except AlreadyFinal:
        await session.refresh(signature)
        return CallbackAnswer(signature_id=signature.id, status=signature.status, changed=False)
    except DocumentInvalid as exc:
        return problem(422, "RequestInvalid", f"document: {exc.message}")
    await outcome_stored(temporal, session, kept)
    if late:
        expired_at = f"{signature.expires_at:%Y-%m-%d %H:%M}"
        return problem(409, "Conflict", f"signature request {signature.id} expired at {expired_at} UTC, before this "
                                        "callback: it is kept as expired")
    return CallbackAnswer(signature_id=signature.id, status=kept.status, changed=True)


async def _sent_pdf(session: AsyncSession, settings: Settings, signature: SignatureRequest) -> bytes | None:
    document = await session.get(Document, signature.document_id)
    if document is None:
        return None
    try:
        return await store.read(storage_for(settings), await store.version(session, document, signature.version))
    except (StoredFileMissing, DocumentNotFound):
        return None


@router.post("/callback/{provider}", response_model=CallbackAnswer)
@body_limit("max_document_bytes")
async def signature_callback(provider: Annotated[str, FastPath(max_length=63)], request: Request, session: SessionDep,
                             settings: SettingsDep, temporal: TemporalDep) -> JSONResponse | CallbackAnswer:
    """A signing provider tells a signature request's outcome (public: signed with the provider's secret; 401 when
    the signature does not hold or the provider is unknown, 404 for an unknown envelope). What can be checked
    without the body (the provider, the signature's headers and time) is checked before the body is read."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if (refused := unsigned(settings, provider, headers)) is not None:
        return refused
    return await receive(session, settings, temporal, provider, headers, await request.body())


def unsigned(settings: Settings, provider: str, headers: dict[str, str]) -> JSONResponse | None:
    """The 401 of a callback that cannot be signed by `provider`, told from its headers alone; None otherwise."""
    if provider_secret(settings, provider) is None:  # nothing to verify it with: unauthenticated as an unsigned call
        return problem(401, "Unauthorized", f"no signing provider '{provider}' in SIGNING_PROVIDERS: its callback "
                                            "cannot be verified")
    if (why := headers_unsigned(headers, settings.signing_callback_tolerance_seconds)) is not None:
        return problem(401, "Unauthorized", why)
    return None


async def receive(session: AsyncSession, settings: Settings, temporal: Client | None, provider: str,
                  headers: dict[str, str], raw: bytes) -> JSONResponse | CallbackAnswer:
    """A callback as it came (headers in lower case, the raw body): verified, read, kept, delivered. The embedded
    signing page hands its own signed callbacks here too."""
    if (refused := unsigned(settings, provider, headers)) is not None:
        return refused
    secret = provider_secret(settings, provider)
    assert secret is not None
    if (why := verified(secret, headers, raw, settings.signing_callback_tolerance_seconds)) is not None:
        return problem(401, "Unauthorized", why)
    try:
        body = CallbackBody.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return problem(422, "RequestInvalid", f"{where}: {first['msg']}")
    return await apply(session, settings, temporal, provider, body, f"signing provider {provider}")
