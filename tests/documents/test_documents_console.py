"""A record's documents in the console: the list, an upload with the session's CSRF token, a download."""

from __future__ import annotations

from typing import Any

import httpx

from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.documents.conftest import Served
from tests.documents.files import pdf


async def test_upload_and_download_from_a_records_page(served: Served, sessions: Any) -> None:
    """Upload from the record's page (a refusal shown on it, a form without its token refused), then download"""
    record = (await served.http.post("/records", headers=served.as_("admin"),
                                     json={"kind": "lead", "title": "Casa al mare"})).json()
    staff = await staff_user(sessions)
    async with httpx.AsyncClient(base_url=served.http.base_url, timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        page = await browser.get(f"/console/records/{record['id']}")
        assert page.status_code == 200 and "No document." in page.text
        token, url = csrf_token(page), f"/console/records/{record['id']}/documents"
        content = pdf()

        no_token = await browser.post(url, files={"file": ("Perizia è già pronta.pdf", content)})
        assert no_token.status_code == 403
        mismatch = await browser.post(url, data={"csrf_token": token}, files={"file": ("perizia.png", content)})
        assert mismatch.status_code == 422 and "its content is application/pdf" in mismatch.text
        assert served.files() == []

        sent = await browser.post(url, data={"csrf_token": token},
                                  files={"file": ("Perizia è già pronta.pdf", content, "application/pdf")})
        assert sent.status_code == 303, sent.text
        page = await browser.get(f"/console/records/{record['id']}")
        link = f"/console/records/{record['id']}/documents/"
        assert "Perizia è già pronta.pdf</a>" in page.text and "Document added: Perizia è già pronta.pdf" in page.text
        href = page.text[page.text.index(link):].split('"', 1)[0]
        download = await browser.get(href)
        assert download.status_code == 200 and download.content == content
        assert download.headers["content-type"] == "application/pdf"
        assert "filename*=UTF-8''Perizia%20%C3%A8%20gi%C3%A0%20pronta.pdf" in download.headers["content-disposition"]
