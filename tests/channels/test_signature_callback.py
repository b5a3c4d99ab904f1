"""The signing providers' callback, as the API takes it: only a body signed with the provider's secret, recent, about
a known envelope, is kept; every refusal changes nothing; a repeat changes nothing; an outcome after the expiry is
kept as expired (database and documents' storage; no Temporal: the outcome waits for the dispatcher's sweep)."""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from api.routers.signatures import CallbackAnswer, embedded_secret, receive, signed_headers
from crm.documents import store
from crm.documents.storage import FolderStorage
from crm.signatures import SignatureRequest, SignatureStatus
from crm.types import utcnow
from settings import Settings
from tests.documents.files import pdf
from tests.factories import Factory


async def _sent(sessions: Any, factory: Factory, tmp_path: Path, expires_in: timedelta) -> SignatureRequest:
    record = await factory.record()
    async with sessions() as session:
        document = await store.add(session, FolderStorage(tmp_path), record.id, io.BytesIO(pdf()), "Offerta.pdf",
                                   "application/pdf", "test", locale="en")
        signature = SignatureRequest(step_key=f"test/{uuid.uuid4().hex}", provider="embedded",
                                     envelope_id=uuid.uuid4().hex, record_id=record.id, document_id=document.id,
                                     version=1, signer="client@example.org", expires_at=utcnow() + expires_in)
        session.add(signature)
        await session.commit()
        await session.refresh(signature)
        return signature


async def _call(sessions: Any, settings: Settings, raw: bytes, headers: dict[str, str]) -> Any:
    async with sessions() as session:
        return await receive(session, settings, None, "embedded", headers, raw)


async def _status(sessions: Any, signature: SignatureRequest) -> SignatureStatus:
    async with sessions() as session:
        row = await session.get(SignatureRequest, signature.id, populate_existing=True)
        return row.status


async def test_only_a_signed_recent_callback_of_a_known_envelope_is_kept(sessions: Any, factory: Factory,
                                                                        tmp_path: Path) -> None:
    settings = Settings(documents_dir=tmp_path, data_dir=tmp_path)
    secret = embedded_secret(settings)
    signature = await _sent(sessions, factory, tmp_path, timedelta(days=3))
    raw = json.dumps({"envelope_id": signature.envelope_id, "status": "declined"}).encode()
    good = signed_headers(secret, "msg_1", raw)
    refusals = {
        "unsigned": (raw, {}, 401),
        "another secret": (raw, signed_headers("whsec_" + "C" * 40, "msg_1", raw), 401),
        "another body": (raw.replace(b"declined", b"signed"), good, 401),
        "stale": (raw, signed_headers(secret, "msg_1", raw, now=time.time() - 3600), 401),
        "from the future": (raw, signed_headers(secret, "msg_1", raw, now=time.time() + 3600), 401),
        "not a number": (raw, {**good, "webhook-timestamp": "soon"}, 401),
        "not json": (b"{nope", signed_headers(secret, "msg_1", b"{nope"), 422),
        "unknown status": (b'{"envelope_id": "x", "status": "maybe"}',
                           signed_headers(secret, "msg_1", b'{"envelope_id": "x", "status": "maybe"}'), 422),
        "unknown envelope": (b'{"envelope_id": "nope", "status": "signed"}',
                             signed_headers(secret, "msg_1", b'{"envelope_id": "nope", "status": "signed"}'), 404),
    }
    for name, (body, headers, status) in refusals.items():
        answer = await _call(sessions, settings, body, headers)
        assert getattr(answer, "status_code", None) == status, name
        assert json.loads(answer.body)["status"] == status and answer.media_type == "application/problem+json"
        assert await _status(sessions, signature) is SignatureStatus.sent, name
    kept = await _call(sessions, settings, raw, good)
    assert isinstance(kept, CallbackAnswer) and kept.changed and kept.status is SignatureStatus.declined
    again = await _call(sessions, settings, raw, good)
    assert isinstance(again, CallbackAnswer) and not again.changed and again.status is SignatureStatus.declined
    async with sessions() as session:
        row = await session.get(SignatureRequest, signature.id, populate_existing=True)
    assert row.delivered_at is None and row.completed_at is not None  # the sweep delivers it


async def test_an_outcome_after_the_expiry_is_kept_as_expired(sessions: Any, factory: Factory,
                                                              tmp_path: Path) -> None:
    settings = Settings(documents_dir=tmp_path, data_dir=tmp_path)
    signature = await _sent(sessions, factory, tmp_path, timedelta(seconds=-1))
    raw = json.dumps({"envelope_id": signature.envelope_id, "status": "signed"}).encode()
    late = await _call(sessions, settings, raw, signed_headers(embedded_secret(settings), "msg_2", raw))
    assert late.status_code == 409 and "expired" in json.loads(late.body)["detail"]
    assert await _status(sessions, signature) is SignatureStatus.expired
    async with sessions() as session:
        assert (await store.versions_of(session, signature.document_id))[0].number == 1  # no signed version
