"""A client request end to end over HTTP on the dev server: staff send it, a real SMTP server catches the link,
an HTTP client with no key opens the form, reads its CSRF token and sends answers with a PDF; every bad input
gets its message and stores nothing; an expired link and a second submission are refused."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from crm.client_requests.models import ClientRequest
from crm.types import utcnow
from tests.documents.files import pdf, png
from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e

TEMPLATE = """
key: {key}
language: it
title: Documenti per la dichiarazione
message: Ci servono la CU e due informazioni.
questions:
  - {{key: cu, type: file, label: Certificazione Unica, required: true, accept: [application/pdf], max_bytes: 8000}}
  - {{key: dependants, type: number, label: Familiari a carico, required: true}}
  - {{key: moved, type: yes_no, label: "Ha cambiato residenza?", required: true}}
  - {{key: moved_on, type: date, label: Data del cambio}}
"""
GOOD = {"q.dependants": "1", "q.moved": "yes", "q.moved_on": "2026-02-01"}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


async def _send(stack: Stack) -> tuple[int, int, str]:
    """A template, a record and a request sent from it: the record, the request and the link as emailed."""
    admin = stack.as_("admin")
    key = f"e2e-{uuid.uuid4().hex[:8]}"
    saved = await stack.http.post("/client-request-templates", headers={**admin, "Content-Type": "application/yaml"},
                                  content=TEMPLATE.format(key=key))
    assert saved.status_code == 201, saved.text
    address = f"{key}@example.org"
    record = await stack.http.post("/records", headers=admin, json={"kind": "job", "title": f"730 {key}",
                                                                    "email": address})
    assert record.status_code == 201, record.text
    sent = await stack.http.post(f"/records/{record.json()['id']}/client-requests", headers=stack.as_("staff"),
                                 json={"template": key})
    assert sent.status_code == 201, sent.text
    [email] = await eventually(lambda: _mail(stack, address), what=f"the link's email to {address}")
    assert email["Subject"] == "Documenti per la dichiarazione"
    link = re.search(r"(http://\S+/r/\S+)", email.get_content())
    assert link, email.get_content()
    return record.json()["id"], sent.json()["id"], link.group(1)


async def _mail(stack: Stack, address: str) -> list[Any]:
    return stack.mail.to(address)


async def _request(stack: Stack, request_id: int) -> dict[str, Any]:
    response = await stack.http.get(f"/client-requests/{request_id}", headers=stack.as_("staff"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def _nothing_stored(stack: Stack, record_id: int, request_id: int) -> None:
    shown = await _request(stack, request_id)
    assert (shown["status"], shown["answers"], shown["files"]) == ("pending", None, [])
    documents = await stack.http.get(f"/records/{record_id}/documents", headers=stack.as_("staff"))
    assert documents.json() == []


async def test_the_client_answers_with_a_file_through_the_emailed_link(stack: Stack) -> None:
    record_id, request_id, link = await _send(stack)
    content = pdf()[:6000]
    async with httpx.AsyncClient(timeout=30) as browser:  # the client: no key, only the link
        form = await browser.get(link)
        assert form.status_code == 200 and "Certificazione Unica" in form.text
        answered = await browser.post(link, data={"csrf_token": _csrf(form.text), **GOOD},
                                      files={"q.cu": ("CU 2026.pdf", content, "application/pdf")})
        assert answered.status_code == 200 and "Grazie" in answered.text, answered.text
        again = await browser.post(link, data={"csrf_token": _csrf(form.text), **GOOD},
                                   files={"q.cu": ("CU 2026.pdf", content, "application/pdf")})
        assert again.status_code == 409 and "Già inviato" in again.text
    shown = await _request(stack, request_id)
    assert shown["status"] == "submitted"
    assert shown["answers"]["dependants"] == 1 and shown["answers"]["moved"] is True
    [file] = shown["files"]
    download = await stack.http.get(file["download_url"], headers=stack.as_("staff"))
    assert download.content == content and download.headers["content-type"] == "application/pdf"
    history = (await stack.http.get(f"/records/{record_id}/history", headers=stack.as_("staff"))).json()
    kinds = [line["kind"] for line in (history["items"] if isinstance(history, dict) else history)]
    assert kinds.count("client_request_sent") == 1 and kinds.count("client_request_submitted") == 1
    assert kinds.count("document_added") == 1


BAD: dict[str, tuple[dict[str, str], tuple[str, bytes, str] | None, str, str]] = {
    "missing required answer": ({**GOOD, "q.dependants": ""}, None, "dependants", "obbligatoria"),
    "missing required file": (GOOD, None, "cu", "obbligatoria"),
    "wrong type": ({**GOOD, "q.dependants": "uno"}, None, "dependants", "Scrivere un numero"),
    "oversize file": (GOOD, ("cu.pdf", pdf() + b"0" * 9000, "application/pdf"), "cu", "al massimo 8 KB"),
    "bytes not its type": (GOOD, ("cu.pdf", png(), "application/pdf"), "cu", "il suo nome non finisce in .png"),
}


async def test_every_bad_input_gets_its_message_and_stores_nothing(stack: Stack) -> None:
    record_id, request_id, link = await _send(stack)
    async with httpx.AsyncClient(timeout=30) as browser:
        csrf = _csrf((await browser.get(link)).text)
        for name, (fields, file, question, message) in BAD.items():
            files = {"q.cu": file} if file else ({"q.cu": ("cu.pdf", pdf()[:6000], "application/pdf")}
                                                 if question != "cu" else None)
            answered = await browser.post(link, data={"csrf_token": csrf, **fields}, files=files)
            assert answered.status_code == 422, (name, answered.text)
            error = re.search(rf'<p class="error" id="q-{question}-error">([^<]*)</p>', answered.text)
            assert error and message in error.group(1), (name, answered.text)
            await _nothing_stored(stack, record_id, request_id)


async def test_an_expired_link_is_refused_and_a_resend_emails_a_new_one(stack: Stack, sessions: Any) -> None:
    """An expired link: 410 in the request's language; staff resend it: a second email with a new link that works,
    the old one saying it was replaced (410)"""
    record_id, request_id, link = await _send(stack)
    async with sessions() as session:
        row = await session.get(ClientRequest, request_id)
        row.expires_at = utcnow() - timedelta(seconds=1)
        await session.commit()
    async with httpx.AsyncClient(timeout=30) as browser:
        shown = await browser.get(link)
        assert shown.status_code == 410 and "Questo collegamento è scaduto" in shown.text
        posted = await browser.post(link, data={"csrf_token": "0" * 64, **GOOD},
                                    files={"q.cu": ("cu.pdf", pdf()[:6000], "application/pdf")})
        assert posted.status_code == 410
        unknown = await browser.get(link[:-4] + "AAAA")
        assert unknown.status_code == 404 and "Link not found" in unknown.text
    shown_to_staff = await _request(stack, request_id)
    assert shown_to_staff["status"] == "expired" and shown_to_staff["answers"] is None
    assert (await stack.http.get(f"/records/{record_id}/documents", headers=stack.as_("staff"))).json() == []

    resent = await stack.http.post(f"/client-requests/{request_id}/resend", headers=stack.as_("staff"))
    assert resent.status_code == 200, resent.text
    address = shown_to_staff["contact_email"]
    emails = await eventually(lambda: _mails(stack, address, 2), what="the second email")
    new_link = re.search(r"(http://\S+/r/\S+)", emails[1].get_content())
    assert new_link and new_link.group(1) == resent.json()["link"] != link
    async with httpx.AsyncClient(timeout=30) as browser:
        replaced = await browser.get(link)
        assert replaced.status_code == 410 and "Questo collegamento è stato sostituito" in replaced.text
        assert (await browser.get(new_link.group(1))).status_code == 200


async def _mails(stack: Stack, address: str, count: int) -> list[Any]:
    found = stack.mail.to(address)
    return found if len(found) >= count else []
