"""A report sent for signature end to end over HTTP on the dev server, with the embedded provider: the signer's
email carries the link, a client with no key reads the PDF and signs (the phase completes, the signed version is
kept) or declines (the decision follows); a forged callback, or one of an unknown provider, is refused and changes
nothing; an `end_process` after the request ends the process without waiting and withdraws the request, and a
callback that comes later changes nothing (nor does one for a request older code left open)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import col, select

from api.routers.signatures import embedded_secret, signed_headers
from crm.models import HistoryEntry
from crm.signatures import SignatureRequest, SignatureStatus
from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

TEMPLATE = """
key: {key}
name: Offer for signature
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: offer
    name: Offer
    actions:
      - report: {{name: "Offerta {{{{ record.id }}}}", html: "<h1>Offerta per {{{{ record.title }}}}</h1>"}}
      - request_signature: {{document: "Offerta {{{{ record.id }}}}", expires_days: 3}}
    decision:
      - {{when: "phases.offer.signature != 'signed'", goto: lost}}
  - key: won
    name: Won
    actions:
      - add_history: {{text: "offer signed"}}
      - end_process: {{}}
  - key: lost
    name: Lost
    actions:
      - add_history: {{text: "offer not signed"}}
"""


async def _started(stack: Stack, key: str) -> tuple[int, str, str]:
    """A lead with the offer process started: its id, the process and the signing link's path, as emailed."""
    staff = stack.as_("staff")
    address = f"{uuid.uuid4().hex[:8]}@example.org"
    owner = await stack.http.post("/users", headers=stack.as_("admin"), json={
        "handle": f"u{address[:8]}", "name": "Anna", "email": f"owner-{address}"})
    assert owner.status_code == 201, owner.text
    record = await stack.http.post("/records", headers=staff, json={"kind": "lead", "title": "Villa Rosa",
                                                                    "email": address, "owner_id": owner.json()["id"]})
    assert record.status_code == 201, record.text
    started = await stack.http.post("/processes", headers=staff, json={"template": key,
                                                                       "record_id": record.json()["id"]})
    assert started.status_code == 201, started.text
    [email] = await eventually(lambda: _mail(stack, address), what=f"the signing link emailed to {address}")
    link = re.search(r"http://\S+(/sign/[A-Za-z0-9_-]+)", email.get_content())
    assert link, email.get_content()
    return record.json()["id"], started.json()["workflow_id"], link.group(1)


async def _mail(stack: Stack, address: str) -> list[Any]:
    return stack.mail.to(address)


async def _ended(stack: Stack, workflow_id: str) -> dict[str, Any]:
    async def done() -> Any:
        state = (await stack.http.get(f"/processes/{workflow_id}", headers=stack.as_("staff"))).json()
        return state if state["status"] == "completed" else None
    return await eventually(done, what=f"process {workflow_id} completed")  # type: ignore[no-any-return]


async def _head_only(stack: Stack, path: str, headers: dict[str, str]) -> str:
    """The status line answered to a POST declaring a 40 MB body of which nothing is sent (none: it waited for it)."""
    url = httpx.URL(str(stack.http.base_url))
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{head}"
                 "Content-Length: 40000000\r\n\r\n".encode())
    try:
        return (await asyncio.wait_for(reader.readline(), 10)).decode().strip()
    except TimeoutError:
        return "none: it waited for the body"
    finally:
        writer.close()


async def test_a_signer_signs_or_declines_on_the_embedded_page(stack: Stack) -> None:
    key = f"sign-{uuid.uuid4().hex[:6]}"
    saved = await stack.http.post("/templates", headers={**stack.as_("admin"), "Content-Type": "application/yaml"},
                                  content=TEMPLATE.format(key=key))
    assert saved.status_code == 201, saved.text

    record_id, workflow_id, path = await _started(stack, key)
    page = await stack.http.get(path)
    assert page.status_code == 200 and "Sign" in page.text and f"Offerta {record_id}.pdf" in page.text
    document = await stack.http.get(f"{path}/document")
    assert document.status_code == 200 and document.content.startswith(b"%PDF")
    forged = json.dumps({"envelope_id": path.rsplit("/", 1)[1], "status": "declined"}).encode()
    refused = await stack.http.post("/signatures/callback/embedded", content=forged,
                                    headers=signed_headers("whsec_" + "B" * 40, "msg_forged", forged))
    assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
    unknown = await stack.http.post("/signatures/callback/nobody", content=forged,
                                    headers=signed_headers("whsec_" + "B" * 40, "msg_forged", forged))
    assert unknown.status_code == 401
    for provider, headers in (("nobody", signed_headers("whsec_" + "B" * 40, "msg_forged", forged)),
                              ("embedded", {})):  # an unknown provider, or no signature: 401 before the body
        assert (await _head_only(stack, f"/signatures/callback/{provider}", headers)).startswith("HTTP/1.1 401")
    assert (await stack.http.get(path)).status_code == 200  # still waiting for the signer
    signed = await stack.http.post(path, data={"decision": "sign"})
    assert signed.status_code == 200 and "You signed" in signed.text, signed.text
    assert (await stack.http.post(path, data={"decision": "decline"})).status_code == 409
    state = await _ended(stack, workflow_id)
    assert [(p["key"], p["status"], p["signature"]) for p in state["phases"]] == [
        ("offer", "done", "signed"), ("won", "done", None), ("lost", "pending", None)]
    [kept] = (await stack.http.get(f"/records/{record_id}/documents", headers=stack.as_("staff"))).json()
    assert kept["current_version"] == 2

    record_id, workflow_id, path = await _started(stack, key)
    italian = await stack.http.get(path, headers={"Accept-Language": "it-IT,it;q=0.9,en;q=0.5"})
    assert italian.status_code == 200 and "Documento da firmare" in italian.text and 'lang="it"' in italian.text
    declined = await stack.http.post(path, data={"decision": "decline"})
    assert declined.status_code == 200 and "declined" in declined.text
    state = await _ended(stack, workflow_id)
    assert [(p["key"], p["status"]) for p in state["phases"]] == [("offer", "done"), ("won", "pending"),
                                                                  ("lost", "done")]
    assert state["phases"][0]["signature"] == "declined" and state["phases"][0]["went_to"] == "lost"
    [kept] = (await stack.http.get(f"/records/{record_id}/documents", headers=stack.as_("staff"))).json()
    assert kept["current_version"] == 1
    history = (await stack.http.get(f"/records/{record_id}/history", headers=stack.as_("staff"))).json()
    assert [h["kind"] for h in history].count("signature_completed") == 1


ENDING = """
key: {key}
name: Offer sent, then the end
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: offer
    name: Offer
    actions:
      - report: {{name: "Offerta {{{{ record.id }}}}", html: "<h1>Offerta per {{{{ record.title }}}}</h1>"}}
      - request_signature: {{document: "Offerta {{{{ record.id }}}}", expires_days: 3}}
      - end_process: {{reason: "offer handed over"}}
  - key: never
    name: Never
    actions:
      - add_history: {{text: "not reached"}}
"""


async def test_end_process_after_the_request_withdraws_it_and_a_late_callback_changes_nothing(
        stack: Stack, sessions: Any) -> None:
    key = f"ends-{uuid.uuid4().hex[:6]}"
    saved = await stack.http.post("/templates", headers={**stack.as_("admin"), "Content-Type": "application/yaml"},
                                  content=ENDING.format(key=key))
    assert saved.status_code == 201, saved.text
    record_id, workflow_id, path = await _started(stack, key)
    state = await _ended(stack, workflow_id)
    assert [(p["key"], p["status"]) for p in state["phases"]] == [("offer", "done"), ("never", "pending")]
    assert state["end_reason"] == "offer handed over"
    [signature_id] = state["phases"][0]["waiting_signatures"]
    gone = await stack.http.get(path)
    assert gone.status_code == 410 and "withdrawn" in gone.text
    assert (await stack.http.post(path, data={"decision": "sign"})).status_code == 410
    history = (await stack.http.get(f"/records/{record_id}/history", headers=stack.as_("staff"))).json()
    assert [h["text"] for h in history if h["kind"] == "signature_completed"] == [
        f"Signature request #{signature_id} cancelled ({_signer(history)}): process ended: offer handed over"]

    async def late_callback() -> Any:
        raw = json.dumps({"envelope_id": envelope, "status": "signed"}).encode()
        return await stack.http.post("/signatures/callback/embedded", content=raw, headers=signed_headers(
            embedded_secret(stack.settings), f"msg_{uuid.uuid4().hex[:8]}", raw))

    async with sessions() as session:
        envelope = (await session.get(SignatureRequest, signature_id)).envelope_id
    late = await late_callback()
    assert late.status_code == 200 and late.json() == {"signature_id": signature_id, "status": "cancelled",
                                                       "changed": False}

    # a request older code left open when its process ended: the callback is refused, and nothing changes
    async with sessions() as session:
        await session.exec(update(SignatureRequest).where(col(SignatureRequest.id) == signature_id).values(
            status=SignatureStatus.sent, completed_at=None, delivered_at=None))
        await session.commit()
    refused = await late_callback()
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    assert f"process {workflow_id}, which ended (completed" in refused.json()["detail"]
    assert "nothing was kept" in refused.json()["detail"]
    assert (await stack.http.get(path)).status_code == 410
    assert (await stack.http.post(path, data={"decision": "sign"})).status_code == 410
    async with sessions() as session:
        row = await session.get(SignatureRequest, signature_id, populate_existing=True)
        lines = (await session.exec(select(HistoryEntry).where(HistoryEntry.record_id == record_id))).all()
    assert row.status is SignatureStatus.sent and row.signed_version is None and row.delivered_at is None
    assert [h.text for h in lines if h.kind.value == "signature_completed"] == [
        f"Signature request #{signature_id} cancelled ({row.signer}): process ended: offer handed over"]
    [kept] = (await stack.http.get(f"/records/{record_id}/documents", headers=stack.as_("staff"))).json()
    assert kept["current_version"] == 1


def _signer(history: list[dict[str, Any]]) -> str:
    [sent] = [h for h in history if h["kind"] == "signature_requested"]
    return str(re.search(r"for signature to (\S+) ", sent["text"]).group(1))  # type: ignore[union-attr]
