"""The `request_signature` action through a generic HTTP signing provider, a real local HTTP server: the envelope
is posted once with the PDF, the API key and the idempotency key; the provider's signed callback completes the phase
with its signed PDF; an answer of unknown outcome is an incident, never a second envelope; a skipped phase voids its
envelope through the provider's `cancel_url`, recorded before it is called and called again until it is taken (by
the step's retries, then by the record-events dispatcher's sweep, with backoff, however long the provider is down);
no key or secret reaches the workflow's history (Temporal dev server)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from starlette.responses import JSONResponse, PlainTextResponse, Response
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.deps import Deps
from activities.mailer import Mailer
from activities.signing.cancel import (CancelCall, CancelSignatureInput, SignatureCancelActivities, attempt,
                                      retry_cancel_calls)
from api.app import create_app
from api.auth import create_key

from api.routers.signatures import CallbackAnswer, receive, signed_headers
from crm.deliveries import Delivery, DeliveryStatus
from crm.documents import store
from crm.documents.storage import FolderStorage
from crm.documents.models import Document, DocumentVersion
from crm.models import ApiRole, HistoryEntry
from crm.signatures import SignatureRequest, SignatureStatus
from crm.types import utcnow
from processes.instance import PhaseStatus, ProcessStatus, SkipPhaseRequest
from renderer.pool import shared_pool
from settings import Settings
from tests.channels.receivers import Received, receiver
from tests.factories import Factory
from tests.polling import eventually
from tests.serving import free_port, serving
from tests.workflows.helpers import rows, running_worker, start, template, until
from workflows.client import notify_dispatcher
from workflows.process import ProcessWorkflow

API_KEY = "sentinel-signing-api-key-5f1e"
SECRET = "whsec_" + base64.b64encode(b"sentinel-signing-secret-9c2d-0123456789").decode()


def offer(signer: str) -> dict[str, Any]:
    return {"key": "offer", "name": "Offer",
            "actions": [{"report": {"name": "Offerta", "html": "<p>Offerta per {{ record.title }}</p>"}},
                        {"request_signature": {"document": "Offerta", "signer": signer, "provider": "acme"}}]}


async def test_a_report_goes_to_the_provider_once_and_its_signed_callback_completes_the_phase(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, tmp_path: Path) -> None:
    client = dev_env.client
    owner = await factory.user()

    async def answer(r: Received, n: int) -> Response:
        if json.loads(r.body)["signer"] == "busy@example.org":
            return PlainTextResponse("internal error", status_code=500)
        return JSONResponse({"envelope_id": f"env-{n}"})

    async with receiver() as target:
        target.answers["/envelopes"] = answer
        providers = {"acme": {"url": target.url("/envelopes"), "api_key": API_KEY, "secret": SECRET}}
        settings = Settings(temporal_task_queue=task_queue, documents_dir=tmp_path, signing_providers=providers)
        async with running_worker(client, sessions, task_queue, outbound_allowed_hosts=["127.0.0.1"],
                                  documents_dir=tmp_path, signing_providers=providers):
            record = await factory.record(owner=owner, title="Villa Rosa")
            handle = await start(client, task_queue, template(offer("firma@example.org")), record.id, owner.id)
            state = await until(handle, lambda s: bool(s.phases[0].waiting_signatures))
            busy = await start(client, task_queue, template(offer("busy@example.org")),
                               (await factory.record(owner=owner)).id, owner.id)
            incident = (await until(busy, lambda s: s.incident is not None)).incident

            async with sessions() as session:
                signature = await session.get(SignatureRequest, state.phases[0].waiting_signatures[0])
            signed_pdf = (await _pdf(sessions, signature.document_id, tmp_path)) + b"\n% signed by acme\n"
            raw = json.dumps({"envelope_id": signature.envelope_id, "status": "signed",
                              "document": base64.b64encode(signed_pdf).decode()}).encode()
            async with sessions() as session:
                kept = await receive(session, settings, client, "acme", signed_headers(SECRET, "msg_1", raw), raw)
            assert isinstance(kept, CallbackAnswer) and kept.changed, kept
            final = await asyncio.wait_for(handle.result(), 30)
            exported = json.dumps((await handle.fetch_history()).to_json_dict())

    assert final.status is ProcessStatus.completed and final.phases[0].signature == "signed"
    posted = [json.loads(r.body) for r in target.at("/envelopes")]
    assert [p["signer"] for p in posted] == ["firma@example.org", "busy@example.org"]  # each once
    first = target.at("/envelopes")[0]
    [delivery] = await rows(sessions, Delivery, handle.id)
    assert first.headers["authorization"] == f"Bearer {API_KEY}"
    assert first.headers["idempotency-key"] == posted[0]["reference"] == delivery.message_id
    assert base64.b64decode(posted[0]["document"]).startswith(b"%PDF")
    assert posted[0]["callback_url"].endswith("/signatures/callback/acme") and posted[0]["name"] == "Offerta.pdf"
    assert signature.envelope_id == "env-1" and delivery.provider_id == "env-1"
    async with sessions() as session:
        document = await session.get(Document, signature.document_id)
    assert document.current_version == 2
    assert await _pdf(sessions, signature.document_id, tmp_path) == signed_pdf
    assert incident is not None and incident.error_type == "DeliveryOutcomeUnknown"
    [unknown] = await rows(sessions, Delivery, busy.id)
    assert unknown.status is DeliveryStatus.unknown and unknown.attempts == 1
    for secret in (API_KEY, SECRET, SECRET.removeprefix("whsec_"), target.url("/envelopes")):
        assert secret not in exported


async def _pdf(sessions: Any, document_id: int, folder: Path) -> bytes:
    async with sessions() as session:
        version = (await session.exec(select(DocumentVersion).where(DocumentVersion.document_id == document_id)
                                      .order_by(col(DocumentVersion.number).desc()))).first()
    return await store.read(FolderStorage(folder), version)


async def test_a_skipped_phase_voids_its_envelope_at_the_provider(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, tmp_path: Path) -> None:
    client = dev_env.client
    owner = await factory.user()

    async def answer(r: Received, n: int) -> Response:
        return JSONResponse({"envelope_id": f"env {n}"})  # a space: quoted in the cancel URL

    async with receiver() as target:
        target.answers["/envelopes"] = answer
        providers = {"acme": {"url": target.url("/envelopes"), "api_key": API_KEY, "secret": SECRET,
                              "cancel_url": target.url("/envelopes/{envelope_id}/void")}}
        async with running_worker(client, sessions, task_queue, outbound_allowed_hosts=["127.0.0.1"],
                                  documents_dir=tmp_path, signing_providers=providers):
            record = await factory.record(owner=owner, title="Villa Rosa")
            handle = await start(client, task_queue, template(offer("firma@example.org")), record.id, owner.id)
            state = await until(handle, lambda s: bool(s.phases[0].waiting_signatures))
            await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(reason="price changed"))
            final = await asyncio.wait_for(handle.result(), 30)
            exported = json.dumps((await handle.fetch_history()).to_json_dict())

    assert final.status is ProcessStatus.completed and final.phases[0].status is PhaseStatus.skipped
    async with sessions() as session:
        signature = await session.get(SignatureRequest, state.phases[0].waiting_signatures[0])
    assert signature.status is SignatureStatus.cancelled
    [sent, void] = await rows(sessions, Delivery, handle.id)
    assert (void.kind, void.status, void.attempts) == ("cancel_signature", DeliveryStatus.delivered, 1)
    [call] = target.at("/envelopes/env 1/void")
    assert call.headers["authorization"] == f"Bearer {API_KEY}" and call.headers["idempotency-key"] == void.message_id
    assert json.loads(call.body) == {"envelope_id": "env 1", "reason": "phase 'Offer' skipped: price changed",
                                     "reference": sent.message_id}
    for secret in (API_KEY, SECRET, target.url("/envelopes")):
        assert secret not in exported


async def test_a_cancel_call_that_failed_is_made_by_the_retry_and_the_request_is_cancelled_once(
        sessions: Any, factory: Factory, tmp_path: Path) -> None:
    """The request is cancelled (and its call recorded) before the call: an attempt that fails, or dies, leaves the
    call to the next attempt, which makes it with the same Idempotency-Key and writes no second history line"""
    async def answer(r: Received, n: int) -> Response:
        return PlainTextResponse("busy", status_code=503) if n == 1 else JSONResponse({"voided": True})

    record = await factory.record()
    async with receiver() as target:
        target.answers["/void/env-7"] = answer
        providers = {"acme": {"url": target.url("/envelopes"), "api_key": API_KEY, "secret": SECRET,
                              "cancel_url": target.url("/void/{envelope_id}")}}
        settings = Settings(signing_providers=providers, outbound_allowed_hosts=["127.0.0.1"], data_dir=tmp_path)
        async with sessions() as session:
            signature = SignatureRequest(step_key=f"test/{uuid.uuid4().hex}", provider="acme", envelope_id="env-7",
                                         record_id=record.id, document_id=1, version=1, signer="firma@example.org",
                                         expires_at=utcnow() + timedelta(days=3))
            session.add(signature)
            await session.commit()
            await session.refresh(signature)
        cancelling = SignatureCancelActivities(Deps(settings=settings, sessions=sessions, mailer=Mailer(settings)))
        asked = CancelSignatureInput(signature_id=signature.id, reason="process aborted: gone", actor="anna")
        with pytest.raises(ApplicationError) as failed:
            await cancelling.cancel_signature(asked)
        assert not failed.value.non_retryable
        async with sessions() as session:
            row = await session.get(SignatureRequest, signature.id)
            [void] = (await session.exec(select(Delivery).where(Delivery.step_key == f"{signature.step_key}/cancel")))
        assert row.status is SignatureStatus.cancelled and row.delivered_at is not None
        assert (void.status, void.attempts, void.response_status) == (DeliveryStatus.pending, 1, 503)
        assert await cancelling.cancel_signature(asked) == "cancelled"
        assert await cancelling.cancel_signature(asked) == "cancelled"  # done: nothing more is sent
    calls = target.at("/void/env-7")
    assert len(calls) == 2 and calls[0].headers["idempotency-key"] == calls[1].headers["idempotency-key"]
    async with sessions() as session:
        void = await session.get(Delivery, void.id, populate_existing=True)
        lines = (await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == record.id))).all()
    assert (void.status, void.attempts) == (DeliveryStatus.delivered, 2)
    assert [line.text for line in lines] == [
        f"Signature request #{signature.id} cancelled (firma@example.org): process aborted: gone"]


async def test_a_cancel_call_the_provider_refuses_for_longer_than_the_retries_is_made_by_the_sweep_until_taken(
        dev_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, tmp_path: Path,
        database_url: str) -> None:
    """The provider answers 503 to the skip's cancel call longer than the step retries it: the skip goes on, the call
    stays pending with its error and when it is tried next (GET /deliveries, staff), and the record-events
    dispatcher's sweep makes it again, the same body with the same Idempotency-Key, until the provider takes it;
    then nothing more is sent"""
    client = dev_env.client
    owner = await factory.user()
    down = 6  # the step's five attempts, and the sweep's first

    async def envelope(r: Received, n: int) -> Response:
        return JSONResponse({"envelope_id": "env-9"})

    async def void(r: Received, n: int) -> Response:
        return PlainTextResponse("maintenance", status_code=503) if n <= down else JSONResponse({"voided": True})

    async with receiver() as target:
        target.answers["/envelopes"] = envelope
        target.answers["/envelopes/env-9/void"] = void
        providers = {"acme": {"url": target.url("/envelopes"), "api_key": API_KEY, "secret": SECRET,
                              "cancel_url": target.url("/envelopes/{envelope_id}/void")}}
        worker_settings: dict[str, Any] = dict(
            outbound_allowed_hosts=["127.0.0.1"], documents_dir=tmp_path, signing_providers=providers,
            record_events_sweep_seconds=1, signing_cancel_retry_seconds=1, signing_cancel_retry_max_seconds=1)
        api = Settings(database_url=database_url, temporal_task_queue=task_queue, data_dir=tmp_path,
                       api_port=free_port())
        async with sessions() as session:
            _, key = await create_key(session, "sweep test staff", ApiRole.staff)
        async with running_worker(client, sessions, task_queue, **worker_settings), \
                serving(create_app(api, temporal=client, renderer=shared_pool()), api.api_port), \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.api_port}", headers={"X-API-Key": key},
                                  timeout=30) as http:
            record = await factory.record(owner=owner, title="Villa Rosa")
            handle = await start(client, task_queue, template(offer("firma@example.org")), record.id, owner.id)
            state = await until(handle, lambda s: bool(s.phases[0].waiting_signatures))
            await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(reason="price changed"))
            final = await asyncio.wait_for(handle.result(), 90)  # the skip went on without the provider
            listed = (await http.get("/deliveries", params={"kind": "cancel_signature",
                                                            "workflow_id": handle.id})).json()
            await notify_dispatcher(client, Settings(temporal_task_queue=task_queue, record_events_sweep_seconds=1))

            async def taken() -> Delivery | None:
                [_, row] = await rows(sessions, Delivery, handle.id)
                return row if row.status is DeliveryStatus.delivered else None
            delivered = await eventually(taken, timeout=60, what="the cancel call taken by the provider")
            await asyncio.sleep(3)  # three more sweeps: nothing more is sent
            shown = (await http.get(f"/deliveries/{delivered.id}")).json()

    assert final.status is ProcessStatus.completed and final.phases[0].status is PhaseStatus.skipped
    [pending] = listed
    assert (pending["status"], pending["attempts"], pending["response_status"]) == ("pending", 5, 503)
    assert "503" in pending["last_error"] and pending["next_attempt_at"] is not None
    calls = target.at("/envelopes/env-9/void")
    assert len(calls) == down + 1
    assert {c.body for c in calls} == {calls[0].body}  # one body, recorded once
    assert {c.headers["idempotency-key"] for c in calls} == {delivered.message_id}
    assert json.loads(calls[0].body)["reason"] == "phase 'Offer' skipped: price changed"
    assert (delivered.attempts, delivered.response_status, delivered.last_error, delivered.next_attempt_at) == (
        down + 1, 200, None, None)
    assert (shown["status"], shown["attempts"]) == ("delivered", down + 1)
    async with sessions() as session:
        signature = await session.get(SignatureRequest, state.phases[0].waiting_signatures[0])
        lines = (await session.exec(select(HistoryEntry).where(HistoryEntry.workflow_id == handle.id,
                                                                col(HistoryEntry.text).contains("cancelled")))).all()
    assert signature.status is SignatureStatus.cancelled and len(lines) == 1


async def test_the_sweep_makes_only_the_cancel_calls_due_and_a_refusal_is_final(
        sessions: Any, factory: Factory, tmp_path: Path) -> None:
    """A call not due yet is left alone; one whose attempt another worker holds (its claim) is not made twice; a 4xx
    is the provider's answer: failed, never made again by a later sweep; one left pending before 0018 (no
    `next_attempt_at`) is due"""
    async def void(r: Received, n: int) -> Response:
        return PlainTextResponse("no such envelope", status_code=404)

    record = await factory.record()
    async with receiver() as target:
        target.answers["/void/env-4"] = void
        providers = {"acme": {"url": target.url("/envelopes"), "api_key": API_KEY, "secret": SECRET,
                              "cancel_url": target.url("/void/{envelope_id}")}}
        settings = Settings(signing_providers=providers, outbound_allowed_hosts=["127.0.0.1"], data_dir=tmp_path)
        later, due = utcnow() + timedelta(minutes=5), utcnow() - timedelta(seconds=1)
        ids = []
        async with sessions() as session:
            for n, (envelope, status, attempts, next_at) in enumerate([
                    ("env-3", DeliveryStatus.pending, 5, later),  # not due: the sweep leaves it
                    ("env-4", DeliveryStatus.pending, 5, due),  # due: made, refused for good
                    ("env-5", DeliveryStatus.sending, 6, later),  # an attempt holds it
                    ("env-6", DeliveryStatus.pending, 5, None)]):  # from before 0018: due
                row = Delivery(step_key=f"test/{uuid.uuid4().hex}/{n}/cancel", kind="cancel_signature",
                               message_id=f"sigc_{n}", record_id=record.id, target="acme", status=status,
                               attempts=attempts, next_attempt_at=next_at,
                               body=json.dumps({"envelope_id": envelope, "reason": "process ended",
                                                "reference": f"sig_{n}"}))
                session.add(row)
                await session.commit()
                ids.append(row.id)
        async with sessions() as session:
            as_read = CancelCall.of(await session.get(Delivery, ids[1]))
        for _ in range(2):
            async with sessions() as session:
                await retry_cancel_calls(settings, sessions, session, 100)
        assert not await attempt(settings, sessions, as_read, due_only=False)  # another attempt got to it first
    assert [r.path for r in target.received] == ["/void/env-4", "/void/env-6"]  # once each: refused is final
    async with sessions() as session:
        found = [await session.get(Delivery, i, populate_existing=True) for i in ids]
    assert [(d.status, d.attempts) for d in found] == [
        (DeliveryStatus.pending, 5), (DeliveryStatus.failed, 6), (DeliveryStatus.sending, 6),
        (DeliveryStatus.delivered, 6)]
    assert found[1].response_status == 404 and found[1].next_attempt_at is None
