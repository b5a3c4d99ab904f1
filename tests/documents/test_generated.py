"""A document a process step made (a letter's PDF) downloads over the documents API with its name and type."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

from crm.documents import store
from crm.documents.storage import FolderStorage
from renderer.pdf import html_to_pdf
from tests.documents.conftest import Served
from tests.documents.test_documents import _record


async def test_a_letter_kept_by_a_step_downloads_as_a_pdf_with_its_name(served: Served, sessions: Any) -> None:
    record_id = await _record(served)
    content = html_to_pdf("<h1>Perché</h1><p>Łódź, Straße, déjà</p>")
    async with sessions() as session:
        await store.add_once(session, FolderStorage(served.folder), record_id=record_id, data=content,
                             filename="Proposta Łódź.pdf", declared="application/pdf", step_key=f"letter-{record_id}",
                             actor="process test", locale="en", words="letter_made")
    [document] = (await served.http.get(f"/records/{record_id}/documents", headers=served.as_("staff"))).json()
    assert (document["name"], document["content_type"]) == ("Proposta Łódź.pdf", "application/pdf")
    download = await served.http.get(document["download_url"], headers=served.as_("staff"))
    assert download.status_code == 200, download.text
    assert download.content == content and download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].endswith("filename*=UTF-8''Proposta%20%C5%81%C3%B3d%C5%BA.pdf")


async def test_a_stored_file_is_readable_by_the_user_stagecoach_runs_as_only(tmp_path: Path) -> None:
    """Documents were 0644 in 0755 folders: every local user could read the office's and its clients' files"""
    storage = FolderStorage(tmp_path / "documents")
    await storage.put("7/abc", io.BytesIO(b"%PDF-1.7 contratto"))
    assert stat.S_IMODE((tmp_path / "documents" / "7" / "abc").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "documents" / "7").stat().st_mode) & 0o077 == 0
    assert b"".join([chunk async for chunk in storage.chunks("7/abc")]) == b"%PDF-1.7 contratto"
