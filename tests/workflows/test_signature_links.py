"""The embedded signer's link, its request cancelled with its phase or process, and the deadline of a phase that waits
for a signer: the link's token is kept only as its SHA-256 and opens the page over HTTP (ASGI); a skip, an abort or
an `end_process` cancels the open request (the link answers 410, a late callback changes nothing); the deadline
counts office time only (time-skipping server, real activities, database and documents' storage)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.routers.signatures import CallbackAnswer
from crm.deliveries import Delivery
from crm.documents import store
from crm.documents.storage import FolderStorage
from crm.signatures import SignatureRequest, SignatureStatus
from processes.instance import AbortRequest, PhaseStatus, ProcessStatus, SkipPhaseRequest
from renderer.pool import shared_pool
from settings import Settings
from tests.documents.test_seal import validated
from tests.factories import Factory
from tests.polling import eventually
from tests.workflows.helpers import final_state, history, outbox, rows, running_worker, start, template, until
from tests.workflows.test_signatures import DECLINED, EXPIRED, OFFER, SIGNED, callback, waiting
from workflows.process import ProcessWorkflow


@asynccontextmanager
async def signing_pages(env: WorkflowEnvironment, database_url: str, task_queue: str,
                        tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API in process (ASGI), on the test's database, documents and Temporal."""
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, data_dir=tmp_path,
                        documents_dir=tmp_path, public_url="http://stagecoach")
    app = create_app(settings, temporal=env.client, renderer=shared_pool())
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stagecoach", timeout=30) as http:
        yield http


async def emailed_token(sessions: Any, workflow_id: str) -> str:
    [mail] = [m for m in await outbox(sessions, workflow_id) if m.step_key.endswith("/email")]
    found = re.search(r"/sign/([A-Za-z0-9_-]+)", mail.body)
    assert found, mail.body
    return found.group(1)


async def signature_row(sessions: Any, signature_id: int) -> SignatureRequest:
    async with sessions() as session:
        row = await session.get(SignatureRequest, signature_id, populate_existing=True)
    assert row is not None
    return row


async def cancelled(sessions: Any, signature_id: int) -> SignatureRequest:
    async def check() -> SignatureRequest | None:
        row = await signature_row(sessions, signature_id)
        return row if row.status is SignatureStatus.cancelled else None
    return await eventually(check, what=f"signature request {signature_id} cancelled")  # type: ignore[no-any-return]


async def test_the_signing_link_is_kept_only_as_its_hash_and_opens_the_page(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, tmp_path: Path,
        database_url: str) -> None:
    async with running_worker(time_skipping_env.client, sessions, task_queue, documents_dir=tmp_path,
                              data_dir=tmp_path), signing_pages(time_skipping_env, database_url, task_queue,
                                                                tmp_path) as http:
        handle, signature = await waiting(time_skipping_env, sessions, factory, task_queue)
        token = await emailed_token(sessions, handle.id)
        assert signature.envelope_id == hashlib.sha256(token.encode()).hexdigest()
        assert (await http.get(f"/sign/{signature.envelope_id}")).status_code == 404  # the hash opens nothing
        page = await http.get(f"/sign/{token}")
        assert page.status_code == 200 and f'action="/sign/{token}"' in page.text
        signed = await http.post(f"/sign/{token}", data={"decision": "sign"})
        assert signed.status_code == 200 and "You signed" in signed.text, signed.text
        final = await final_state(handle)
    assert final.phases[0].signature == "signed"
    async with sessions() as session:  # the signed version is sealed with the installation's (dev) key
        [kept, sent] = await store.versions_of(session, signature.document_id)
        sealed = await store.read(FolderStorage(tmp_path), kept)
    assert kept.number == 2 and sealed.startswith(await store.read(FolderStorage(tmp_path), sent))
    assert (await validated(sealed, Settings(data_dir=tmp_path))).valid  # type: ignore[attr-defined]
    # the token in clear is in the email only: not in the request, its delivery or the record's history
    kept = [await signature_row(sessions, signature.id), *await rows(sessions, Delivery, handle.id),
            *await history(sessions, handle.id)]
    assert kept[1:] and not [row for row in kept if token in json.dumps(row.model_dump(mode="json"))]
    assert [m for m in await outbox(sessions, handle.id) if token in m.body]


async def test_skipping_the_phase_cancels_the_signature_and_its_link_is_gone(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str, tmp_path: Path,
        database_url: str) -> None:
    settings = Settings(temporal_task_queue=task_queue, documents_dir=tmp_path, data_dir=tmp_path)
    async with running_worker(time_skipping_env.client, sessions, task_queue, documents_dir=tmp_path,
                              data_dir=tmp_path), signing_pages(time_skipping_env, database_url, task_queue,
                                                                tmp_path) as http:
        handle, signature = await waiting(time_skipping_env, sessions, factory, task_queue)
        token = await emailed_token(sessions, handle.id)
        assert (await http.get(f"/sign/{token}")).status_code == 200
        await handle.execute_update(ProcessWorkflow.skip_phase, SkipPhaseRequest(phase="offer", reason="it changed",
                                                                                 actor="anna"))
        row = await cancelled(sessions, signature.id)
        gone = await http.get(f"/sign/{token}")
        assert gone.status_code == 410 and "withdrawn" in gone.text, gone.text
        posted = await http.post(f"/sign/{token}", data={"decision": "sign"})
        assert posted.status_code == 410
        assert (await http.get(f"/sign/{token}/document")).status_code == 410
        late = await callback(time_skipping_env, settings, sessions, row, "signed")  # a provider's late word
        assert isinstance(late, CallbackAnswer) and not late.changed and late.status is SignatureStatus.cancelled
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed
    assert final.phases[0].status is PhaseStatus.skipped and final.phases[0].signature is None
    row = await signature_row(sessions, signature.id)
    assert row.status is SignatureStatus.cancelled and row.delivered_at is not None and row.signed_version is None
    lines = [e for e in await history(sessions, handle.id) if e.data.get("signature_id") == signature.id]
    assert [e.text for e in lines if e.data.get("outcome")] == [
        f"Signature request #{signature.id} cancelled (client@example.org): phase 'Offer' skipped: it changed"]
    assert lines[-1].actor == "anna"


async def test_aborting_the_process_cancels_its_open_signature(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        tmp_path: Path) -> None:
    async with running_worker(time_skipping_env.client, sessions, task_queue, documents_dir=tmp_path,
                              data_dir=tmp_path):
        handle, signature = await waiting(time_skipping_env, sessions, factory, task_queue)
        await handle.execute_update(ProcessWorkflow.abort, AbortRequest(reason="client gone", actor="anna"))
        # the abort answers once its end is written: the request is cancelled by then
        row = await signature_row(sessions, signature.id)
        final = await final_state(handle)
    assert final.status is ProcessStatus.aborted
    assert row.status is SignatureStatus.cancelled and row.delivered_at is not None
    [line] = [e for e in await history(sessions, handle.id) if e.data.get("outcome") == "cancelled"]
    assert line.text.endswith("process aborted: client gone")


async def test_end_process_after_the_request_cancels_it_without_waiting_for_the_signer(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        tmp_path: Path) -> None:
    settings = Settings(temporal_task_queue=task_queue, documents_dir=tmp_path, data_dir=tmp_path)
    ending = {"key": "offer", "name": "Offer", "actions": [*OFFER["actions"], {"end_process": {"reason": "handed over"}}]}
    async with running_worker(time_skipping_env.client, sessions, task_queue, documents_dir=tmp_path,
                              data_dir=tmp_path):
        owner = await factory.user()
        record = await factory.record(owner=owner)
        handle = await start(time_skipping_env.client, task_queue, template(ending, SIGNED), record.id, owner.id)
        final = await final_state(handle)  # at once: nobody waits for the signer
        [signature_id] = final.phases[0].waiting_signatures
        row = await signature_row(sessions, signature_id)
        late = await callback(time_skipping_env, settings, sessions, row, "signed")
    assert final.status is ProcessStatus.completed and final.end_reason == "handed over"
    assert [p.status for p in final.phases] == [PhaseStatus.done, PhaseStatus.pending]
    assert final.phases[0].signature is None
    assert row.status is SignatureStatus.cancelled and row.delivered_at is not None
    assert isinstance(late, CallbackAnswer) and not late.changed and late.status is SignatureStatus.cancelled
    [line] = [e for e in await history(sessions, handle.id) if e.data.get("outcome") == "cancelled"]
    assert line.text.endswith("process ended: handed over") and line.actor == f"process {final.template_key}"
    assert (await signature_row(sessions, signature_id)).signed_version is None


async def test_the_deadline_counts_office_time_only_while_the_signer_is_awaited(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        tmp_path: Path) -> None:
    """A phase with a two-day deadline waits five days for its signer: not overdue, no overdue notice; its deadline
    moves on by the time the signer took (as for a client request's answers)."""
    settings = Settings(temporal_task_queue=task_queue, documents_dir=tmp_path, data_dir=tmp_path)
    offer = {**OFFER, "deadline_days": 2, "actions": [
        OFFER["actions"][0], {"request_signature": {"document": "Offerta {{ record.id }}", "expires_days": 10}}]}
    async with running_worker(time_skipping_env.client, sessions, task_queue, documents_dir=tmp_path,
                              data_dir=tmp_path):
        owner = await factory.user()
        record = await factory.record(owner=owner)
        handle = await start(time_skipping_env.client, task_queue, template(offer, SIGNED, DECLINED, EXPIRED),
                             record.id, owner.id)
        started = await until(handle, lambda s: bool(s.phases[0].waiting_signatures))
        first_deadline = started.phases[0].deadline_at
        await time_skipping_env.sleep(timedelta(days=5))
        assert not (await handle.query(ProcessWorkflow.current_state)).phases[0].overdue
        row = await signature_row(sessions, started.phases[0].waiting_signatures[0])
        answer = await callback(time_skipping_env, settings, sessions, row, "signed")
        assert isinstance(answer, CallbackAnswer) and answer.changed
        final = await final_state(handle)
    assert final.status is ProcessStatus.completed and final.phases[0].signature == "signed"
    assert not final.phases[0].overdue
    assert first_deadline is not None and final.phases[0].deadline_at is not None
    assert final.phases[0].deadline_at - first_deadline >= timedelta(days=4, hours=23)
    assert not [m for m in await outbox(sessions, handle.id) if "overdue" in m.step_key]

