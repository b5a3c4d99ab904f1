"""The console's deliveries page over HTTP: webhooks, SMS and signing-provider calls with what was sent and the
answer, only of records the user may see, filtered by kind and status; the webhook endpoints a 410 disabled, shown
to admins and enabled again by them, refused to staff."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from crm.deliveries import Delivery, DeliveryStatus, DisabledEndpoint
from crm.models import Record
from renderer.pool import shared_pool
from settings import Settings
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async

SECRET = "whsec_" + "c2VudGluZWwtd2ViaG9vay1zZWNyZXQtMTIzNDU2Nzg="


@pytest.fixture
async def console(dev_env: WorkflowEnvironment, database_url: str, task_queue: str) -> AsyncIterator[Any]:
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, webhook_endpoints={
        "gestionale": {"url": "https://gestionale.example.com/hooks?token=x", "secret": SECRET}})
    app = create_app(settings, temporal=dev_env.client, renderer=shared_pool())
    async with app.router.lifespan_context(app):
        yield lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stagecoach",
                                        timeout=30)


async def _deliveries(sessions: Any, owner_id: int, tag: str) -> None:
    async with sessions() as session:
        seen = Record(kind="lead", title=f"Villa {tag}", owner_id=owner_id)
        hidden = Record(kind="lead", title=f"Hidden {tag}", restricted=True)
        session.add_all([seen, hidden])
        await session.flush()
        assert seen.id is not None and hidden.id is not None
        session.add_all([
            Delivery(step_key=f"{tag}/hook", kind="webhook", message_id=f"msg_{tag}", record_id=seen.id,
                     target="gestionale", body='{"pratica": "Villa ' + tag + '"}', status=DeliveryStatus.delivered,
                     attempts=2, response_status=200, response_body="ok, ricevuto"),
            Delivery(step_key=f"{tag}/sms", kind="send_sms", message_id=f"sms_{tag}", record_id=seen.id,
                     target="+393471234567", body=f"Gentile cliente, la aspettiamo ({tag})",
                     status=DeliveryStatus.held),
            Delivery(step_key=f"{tag}/cancel", kind="cancel_signature", message_id=f"cancel_{tag}",
                     record_id=seen.id, target="firma", body="{}", status=DeliveryStatus.pending, attempts=3,
                     last_error=f"the provider answered 503 ({tag})",
                     next_attempt_at=datetime(2026, 12, 3, 9, 30, tzinfo=timezone.utc)),
            Delivery(step_key=f"{tag}/secret", kind="webhook", message_id=f"secret_{tag}", record_id=hidden.id,
                     target="gestionale", body=f"riservato {tag}", status=DeliveryStatus.failed)])
        existing = await session.get(DisabledEndpoint, "gestionale")
        if existing is not None:
            await session.delete(existing)
        session.add(DisabledEndpoint(name="gestionale", reason="answered 410 Gone"))
        await session.commit()


def _endpoint_row(page: str, name: str) -> str:
    """The endpoint's row of the admin's table."""
    found = re.search(rf"<tr><td>{re.escape(name)}</td>.*?</tr>", page, re.S)
    assert found is not None, f"no row for endpoint {name}"
    return found.group(0)


async def test_staff_read_deliveries_and_admins_enable_an_endpoint(console: Any, sessions: Any) -> None:
    tag = uuid.uuid4().hex[:8]
    staff = await staff_user(sessions, "Maria Rossi")
    admin = await staff_user(sessions, "Chiara Conti", role="admin")
    await _deliveries(sessions, staff.user.id, tag)

    async with console() as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        page = await browser.get("/console/deliveries")
        assert page.status_code == 200
        assert f"Villa {tag}" in page.text and "ok, ricevuto" in page.text and "HTTP 200" in page.text
        assert f"Gentile cliente, la aspettiamo ({tag})" in page.text and "No SMS gateway is set" in page.text
        assert f"the provider answered 503 ({tag})" in page.text and "3 attempts" in page.text
        assert "Tried again from Dec 3, 2026 9:30" in page.text  # the dispatcher's sweep makes the cancel call again
        assert f"riservato {tag}" not in page.text  # a restricted record's delivery
        assert "Webhook endpoints" not in page.text  # an admin's
        only_sms = await browser.get("/console/deliveries", params={"kind": "send_sms"})
        assert f"la aspettiamo ({tag})" in only_sms.text and f"Villa {tag}" not in only_sms.text
        pending = await browser.get("/console/deliveries", params={"status": "pending"})
        assert f"503 ({tag})" in pending.text and "ok, ricevuto" not in pending.text
        for odd in ("?kind=nope&status=nope&offset=-1", "?offset=99999999999", "?kind=" + "x" * 5000):
            assert (await browser.get(f"/console/deliveries{odd}")).status_code == 200, odd
        refused = await browser.post("/console/deliveries/endpoints/gestionale/enable",
                                     data={"csrf_token": csrf_token(page)})
        assert refused.status_code == 403 and "Only an admin enables a webhook endpoint again" in refused.text

    async with console() as browser:
        assert (await sign_in_async(browser, admin.user.handle, admin.password)).status_code == 303
        page = await browser.get("/console/deliveries")
        assert f"riservato {tag}" in page.text and "Webhook endpoints" in page.text
        assert "answered 410 Gone" in page.text and "Enable again" in page.text
        assert "gestionale.example.com" in page.text and "token=x" not in page.text
        forged = await browser.post("/console/deliveries/endpoints/gestionale/enable", data={"csrf_token": "forged"})
        assert forged.status_code == 403
        async with sessions() as session:
            assert (await session.get(DisabledEndpoint, "gestionale")).disabled
        unknown = await browser.post("/console/deliveries/endpoints/gestionalle/enable",
                                     data={"csrf_token": csrf_token(page)})
        assert unknown.status_code == 404 and "did you mean" in unknown.text
        enabled = await browser.post("/console/deliveries/endpoints/gestionale/enable",
                                     data={"csrf_token": csrf_token(page)})
        assert enabled.status_code == 303 and enabled.headers["location"] == "/console/deliveries#endpoints"
        async with sessions() as session:
            row = await session.get(DisabledEndpoint, "gestionale")
            assert not row.disabled and row.enabled_by
        again = await browser.get("/console/deliveries")
        endpoint = _endpoint_row(again.text, "gestionale")  # (other tests' endpoints share the table)
        assert "Enable again" not in endpoint and "again by" in endpoint
