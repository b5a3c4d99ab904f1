"""A phase that sends a report for signature waits for the provider's outcome: signed completes it, declined and
expired follow the decision (`phases.<key>.signature`); the callback's signature is verified and a repeat changes
nothing (time-skipping server, real activities, database and documents' storage)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from api.routers.signatures import CallbackAnswer, embedded_secret, receive, signed_headers
from crm.client_requests.store import hash_token
from crm.deliveries import Delivery
from crm.documents.models import Document
from crm.models import HistoryKind, OutboxMessage
from crm.signatures import SignatureRequest, SignatureStatus
from processes.instance import PhaseStatus, ProcessStatus, SignatureCompleted
from settings import Settings
from tests.factories import Factory
from tests.workflows.helpers import final_state, history, running_worker, start, template, until
from workflows.process import ProcessWorkflow
from workflows.signature_delivery import deliver

OFFER = {"key": "offer", "name": "Offer",
         "actions": [{"report": {"name": "Offerta {{ record.id }}", "html": "<p>Offerta per {{ record.title }}</p>"}},
                     {"request_signature": {"document": "Offerta {{ record.id }}", "expires_days": 5}}],
         "decision": [{"when": "phases.offer.signature == 'declined'", "goto": "declined"},
                      {"when": "phases.offer.signature == 'expired'", "goto": "expired"}]}
SIGNED = {"key": "signed", "name": "Signed", "actions": [{"add_history": {"text": "the offer is signed"}},
                                                         {"end_process": {}}]}
DECLINED = {"key": "declined", "name": "Declined", "actions": [{"add_history": {"text": "the offer was declined"}},
                                                               {"end_process": {}}]}
EXPIRED = {"key": "expired", "name": "Expired", "actions": [{"add_history": {"text": "the offer expired"}}]}


async def callback(env: WorkflowEnvironment | None, settings: Settings, sessions: Any, signature: SignatureRequest,
                   status: str, secret: str | None = None) -> Any:
    """The embedded provider's callback, as the API takes it (`env` None: Temporal cannot be reached)."""
    raw = json.dumps({"envelope_id": signature.envelope_id, "status": status}).encode()
    headers = signed_headers(secret or embedded_secret(settings), "msg_test", raw)
    async with sessions() as session:
        return await receive(session, settings, env.client if env else None, "embedded", headers, raw)


async def waiting(env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str) -> tuple[Any, Any]:
    owner = await factory.user()
    record = await factory.record(owner=owner)
    handle = await start(env.client, task_queue, template(OFFER, SIGNED, DECLINED, EXPIRED), record.id, owner.id)
    state = await until(handle, lambda s: bool(s.phases[0].waiting_signatures))
    async with sessions() as session:
        signature = await session.get(SignatureRequest, state.phases[0].waiting_signatures[0])
    assert signature is not None and signature.status is SignatureStatus.sent
    return handle, signature


async def test_a_signed_report_completes_the_phase_and_is_kept_as_a_new_version(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        tmp_path: Path) -> None:
    settings = Settings(temporal_task_queue=task_queue, documents_dir=tmp_path, data_dir=tmp_path)
    async with running_worker(time_skipping_env.client, sessions, task_queue, documents_dir=tmp_path,
                              data_dir=tmp_path):
        handle, signature = await waiting(time_skipping_env, sessions, factory, task_queue)
        [mail] = [m for m in (await sessions_rows(sessions, OutboxMessage, handle.id)) if m.step_key.endswith("/email")]
        token = re.search(r"/sign/([A-Za-z0-9_-]+)", mail.body).group(1)  # type: ignore[union-attr]
        assert signature.envelope_id == hash_token(token) and mail.to_address == "client@example.org"
        wrong = await callback(time_skipping_env, settings, sessions, signature, "signed",
                               secret="whsec_" + "A" * 40)
        assert wrong.status_code == 401
        async with sessions() as session:
            assert (await session.get(SignatureRequest, signature.id)).status is SignatureStatus.sent
        answer = await callback(time_skipping_env, settings, sessions, signature, "signed")
        assert isinstance(answer, CallbackAnswer) and answer.changed and answer.status is SignatureStatus.signed
        again = await callback(time_skipping_env, settings, sessions, signature, "declined")
        assert isinstance(again, CallbackAnswer) and not again.changed and again.status is SignatureStatus.signed
        await handle.signal(ProcessWorkflow.signature_completed,  # a second delivery counts for nothing
                            SignatureCompleted(signature_id=signature.id, outcome="declined", at=signature.created_at))
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed, final
    assert final.phases[0].signature == "signed" and final.phases[0].status is PhaseStatus.done
    assert [p.status for p in final.phases[1:]] == [PhaseStatus.done, PhaseStatus.pending, PhaseStatus.pending]
    async with sessions() as session:
        document = await session.get(Document, signature.document_id)
        row = await session.get(SignatureRequest, signature.id)
        [delivery] = (await session.exec(select(Delivery).where(Delivery.step_key == signature.step_key))).all()
    assert document.current_version == 2 and row.signed_version == 2 and row.delivered_at is not None
    assert delivery.kind == "request_signature" and delivery.attempts == 1
    lines = await history(sessions, handle.id)
    assert [e.kind for e in lines].count(HistoryKind.signature_completed) == 1
    assert "Phase 'Offer' done: signature signed" in [e.text for e in lines]


async def test_a_declined_signature_kept_while_temporal_is_away_is_delivered_later_and_follows_the_decision(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        tmp_path: Path) -> None:
    settings = Settings(temporal_task_queue=task_queue, documents_dir=tmp_path, data_dir=tmp_path)
    async with running_worker(time_skipping_env.client, sessions, task_queue, documents_dir=tmp_path,
                              data_dir=tmp_path):
        handle, signature = await waiting(time_skipping_env, sessions, factory, task_queue)
        answer = await callback(None, settings, sessions, signature, "declined")  # kept, not delivered
        assert isinstance(answer, CallbackAnswer) and answer.status is SignatureStatus.declined
        async with sessions() as session:
            row = await session.get(SignatureRequest, signature.id)
            assert row.delivered_at is None
            assert (await handle.query(ProcessWorkflow.current_state)).phases[0].status is PhaseStatus.running
            await deliver(time_skipping_env.client, session, row)  # what the dispatcher's sweep does with it
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed
    assert final.phases[0].signature == "declined" and final.phases[0].went_to == "declined"
    assert [p.status for p in final.phases[1:]] == [PhaseStatus.pending, PhaseStatus.done, PhaseStatus.pending]
    async with sessions() as session:
        assert (await session.get(Document, signature.document_id)).current_version == 1


async def test_an_unsigned_report_expires_and_follows_the_decision(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        tmp_path: Path) -> None:
    async with running_worker(time_skipping_env.client, sessions, task_queue, documents_dir=tmp_path,
                              data_dir=tmp_path):
        handle, signature = await waiting(time_skipping_env, sessions, factory, task_queue)
        await time_skipping_env.sleep(timedelta(days=4))
        assert (await handle.query(ProcessWorkflow.current_state)).phases[0].status is PhaseStatus.running
        await time_skipping_env.sleep(timedelta(days=2))
        final = await final_state(handle)
    assert final.phases[0].signature == "expired" and final.phases[0].went_to == "expired"
    assert final.phases[3].status is PhaseStatus.done
    async with sessions() as session:
        row = await session.get(SignatureRequest, signature.id)
    assert row.status is SignatureStatus.expired and row.delivered_at is not None
    lines = await history(sessions, handle.id)
    assert [e.text for e in lines if e.kind is HistoryKind.signature_completed] == [
        f"Signature request #{signature.id} expired unsigned (client@example.org)"]


async def sessions_rows(sessions: Any, model: type[Any], workflow_id: str) -> list[Any]:
    async with sessions() as session:
        return list((await session.exec(select(model).where(model.workflow_id == workflow_id))).all())
