"""Documents over HTTP: upload, download byte for byte, versions, delete, and every refusal, on both databases."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.documents.conftest import MAX_DOCUMENT_BYTES, Served
from tests.documents.files import DOCX_TYPE, KINDS, docx, other_zip, pdf, png

PROBLEM_JSON = "application/problem+json"


async def _record(served: Served, title: str = "Villa Borghese 12") -> int:
    response = await served.http.post("/records", headers=served.as_("admin"), json={"kind": "lead", "title": title})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _upload(served: Served, url: str, name: str, data: bytes, declared: str = "") -> httpx.Response:
    return await served.http.post(url, headers=served.as_("staff"), files={"file": (name, data, declared)})


async def _history(served: Served, record_id: int) -> list[dict[str, Any]]:
    response = await served.http.get(f"/records/{record_id}/history", headers=served.as_("admin"))
    assert response.status_code == 200, response.text
    items = response.json()
    return items["items"] if isinstance(items, dict) else items  # type: ignore[no-any-return]


async def test_a_file_comes_back_byte_for_byte_with_its_type_and_non_ascii_name(served: Served) -> None:
    """Upload a PDF named "Perizia è già pronta.pdf": listed, downloaded identical, named by RFC 6266/5987"""
    record_id = await _record(served)
    content = pdf()
    response = await _upload(served, f"/records/{record_id}/documents", "Perizia è già pronta.pdf", content,
                             "application/pdf")
    assert response.status_code == 201, response.text
    document = response.json()
    assert (document["name"], document["content_type"], document["size"]) == \
        ("Perizia è già pronta.pdf", "application/pdf", len(content))
    download = await served.http.get(document["download_url"], headers=served.as_("staff"))
    assert download.status_code == 200, download.text
    assert download.content == content
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Perizia _ gi_ pronta.pdf\"; "
        "filename*=UTF-8''Perizia%20%C3%A8%20gi%C3%A0%20pronta.pdf")
    listed = (await served.http.get(f"/records/{record_id}/documents", headers=served.as_("staff"))).json()
    assert [d["id"] for d in listed] == [document["id"]]
    assert [line["text"] for line in await _history(served, record_id)
            if line["kind"] == "document_added"] == ["Document added: Perizia è già pronta.pdf"]
    assert len(served.files()) == 1 and served.files()[0].read_bytes() == content


async def test_each_kind_is_read_from_its_bytes(served: Served) -> None:
    """PDF, PNG, JPEG, GIF, WebP, DOCX, XLSX, ODT, text and CSV: the type is the content's, whatever was declared"""
    record_id = await _record(served)
    for name, data, declared, sniffed in KINDS:
        response = await _upload(served, f"/records/{record_id}/documents", name, data, declared)
        assert response.status_code == 201, f"{name}: {response.text}"
        assert response.json()["content_type"] == sniffed, name
        download = await served.http.get(response.json()["download_url"], headers=served.as_("staff"))
        assert (download.content, download.headers["content-type"].split(";")[0]) == (data, sniffed), name


async def _chunked(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1 << 14):
        yield data[start:start + (1 << 14)]


async def test_every_refusal_says_why_and_keeps_nothing(served: Served) -> None:
    """Content unlike its name or declared type, unknown content, empty, no file, too large, unknown record"""
    record_id = await _record(served)
    url = f"/records/{record_id}/documents"
    boundary = b"matrixboundary"
    big = b"%PDF-1.4\n" + os.urandom(MAX_DOCUMENT_BYTES)
    multipart_big = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
                     b"Content-Type: application/pdf\r\n\r\n" + big + b"\r\n--" + boundary + b"--\r\n")
    cases: list[tuple[str, Any, int, str]] = [
        ("a PDF named .png", lambda: _upload(served, url, "pianta.png", pdf()), 422, "application/pdf"),
        ("a PNG declared a PDF", lambda: _upload(served, url, "pianta.png", png(), "application/pdf"), 422,
         "sent as application/pdf"),
        ("a PDF named .docx", lambda: _upload(served, url, "lettera.docx", pdf(), DOCX_TYPE), 422, ".pdf"),
        ("a program named .pdf", lambda: _upload(served, url, "perizia.pdf", b"MZ\x90\x00" + os.urandom(300)), 415,
         "none of the kinds"),
        ("a Windows-1252 text named .csv", lambda: _upload(served, url, "spese.csv", "voce;però\n".encode("cp1252")),
         415, "not UTF-8 text"),
        ("a ZIP of other things named .docx", lambda: _upload(served, url, "lettera.docx", other_zip()), 415,
         "none of the kinds"),
        ("an empty file", lambda: _upload(served, url, "vuoto.pdf", b""), 415, "is empty"),
        ("a file with no name", lambda: _upload(served, url, "", pdf()), 422, "field `file`"),
        ("no file at all", lambda: served.http.post(url, headers=served.as_("staff"), data={"name": "x"}), 422,
         "field `file`"),
        ("JSON", lambda: served.http.post(url, headers=served.as_("staff"), json={"file": "x"}), 422, "multipart"),
        ("too large, declared", lambda: served.http.post(url, headers={
            **served.as_("staff"), "Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
            content=multipart_big), 413, "MAX_DOCUMENT_BYTES"),
        ("too large, sent without a length", lambda: served.http.post(url, headers={
            **served.as_("staff"), "Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
            content=_chunked(multipart_big)), 413, "MAX_DOCUMENT_BYTES"),
        ("an unknown record", lambda: _upload(served, "/records/999999999/documents", "perizia.pdf", pdf()), 404,
         "no record"),
        ("no key", lambda: served.http.post(url, files={"file": ("perizia.pdf", pdf())}), 401, "API key"),
        ("a client key", lambda: served.http.post(url, headers=served.as_("client"),
                                                  files={"file": ("perizia.pdf", pdf())}), 403, "staff"),
    ]
    wrong = []
    for what, send, status, says in cases:
        response = await send()
        if response.status_code != status or not response.headers["content-type"].startswith(PROBLEM_JSON) \
                or says not in response.json()["detail"]:
            wrong.append(f"{what}: {response.status_code} {response.text[:300]}")
    assert not wrong, "\n".join(wrong)
    assert (await served.http.get(url, headers=served.as_("staff"))).json() == []
    assert served.files() == []
    assert not [line for line in await _history(served, record_id) if line["kind"].startswith("document")]


async def test_a_new_version_keeps_the_old_ones(served: Served) -> None:
    """Version 2 is what a download gives; version 1 stays downloadable; a refused version changes nothing"""
    record_id = await _record(served)
    first, second = docx(), docx("<w:document>the second</w:document>")
    created = (await _upload(served, f"/records/{record_id}/documents", "lettera.docx", first)).json()
    url = created["download_url"]
    refused = await _upload(served, f"{url}/versions", "lettera.docx", pdf())
    assert refused.status_code == 422, refused.text
    response = await _upload(served, f"{url}/versions", "lettera rivista.docx", second)
    assert response.status_code == 201, response.text
    document = response.json()
    assert (document["current_version"], document["name"]) == (2, "lettera rivista.docx")
    assert [v["number"] for v in document["versions"]] == [2, 1]
    staff = served.as_("staff")
    assert (await served.http.get(url, headers=staff)).content == second
    old = await served.http.get(f"{url}/versions/1", headers=staff)
    assert old.content == first and "filename*=UTF-8''lettera.docx" in old.headers["content-disposition"]
    assert (await served.http.get(f"{url}/versions/3", headers=staff)).status_code == 404
    assert len(served.files()) == 2
    assert sorted(line["text"] for line in await _history(served, record_id) if line["kind"].startswith("document")) \
        == ["Document added: lettera.docx", "New version 2 of lettera rivista.docx"]


async def test_delete_removes_every_version_and_its_files(served: Served) -> None:
    """DELETE: 204, the document and its versions gone from the list, the API and the disk; a history line"""
    record_id = await _record(served)
    other_id = await _record(served, "Another record")
    kept = (await _upload(served, f"/records/{other_id}/documents", "note.txt", b"stays\n")).json()
    created = (await _upload(served, f"/records/{record_id}/documents", "perizia.pdf", pdf())).json()
    await _upload(served, f"{created['download_url']}/versions", "perizia.pdf", pdf())
    assert len(served.files()) == 3
    staff = served.as_("staff")
    wrong_record = await served.http.delete(f"/records/{other_id}/documents/{created['id']}", headers=staff)
    assert wrong_record.status_code == 404, wrong_record.text
    response = await served.http.delete(created["download_url"], headers=staff)
    assert response.status_code == 204, response.text
    assert (await served.http.get(created["download_url"], headers=staff)).status_code == 404
    assert (await served.http.get(f"{created['download_url']}/versions/1", headers=staff)).status_code == 404
    assert (await served.http.get(f"/records/{record_id}/documents", headers=staff)).json() == []
    assert [p.read_bytes() for p in served.files()] == [b"stays\n"]
    assert (await served.http.get(kept["download_url"], headers=staff)).content == b"stays\n"
    assert "Document deleted: perizia.pdf" in [line["text"] for line in await _history(served, record_id)]


async def test_versions_sent_at_once_are_each_kept_or_refused_with_409(served: Served) -> None:
    """Four new versions at once: each is 201 or 409 (send it again), never a 500; versions and files agree"""
    record_id = await _record(served)
    created = (await _upload(served, f"/records/{record_id}/documents", "note.txt", b"v1\n")).json()
    url = f"{created['download_url']}/versions"
    answers = await asyncio.gather(*(_upload(served, url, "note.txt", f"v{n}\n".encode()) for n in range(2, 6)))
    assert {a.status_code for a in answers} <= {201, 409} and 201 in {a.status_code for a in answers}, \
        [a.text for a in answers]
    document = (await served.http.get(f"/records/{record_id}/documents", headers=served.as_("staff"))).json()[0]
    kept = sum(a.status_code == 201 for a in answers)
    assert [v["number"] for v in document["versions"]] == list(range(kept + 1, 0, -1))
    assert len(served.files()) == kept + 1


async def test_a_file_gone_from_storage_is_a_410_that_says_so(served: Served) -> None:
    """A version whose file was removed from the storage behind Stagecoach's back: 410 with the reason, never a
    response cut off after its headers (what schemathesis met on an API whose storage was elsewhere)"""
    record_id = await _record(served)
    created = (await _upload(served, f"/records/{record_id}/documents", "perizia.pdf", pdf())).json()
    [stored] = served.files()
    stored.unlink()
    response = await served.http.get(created["download_url"], headers=served.as_("staff"))
    assert response.status_code == 410, response.text
    assert response.json()["type"] == "DocumentFileMissing"
    assert "no longer in the documents' storage" in response.json()["detail"]
