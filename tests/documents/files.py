"""Real files of each kind a document may be, made in memory."""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib


def pdf() -> bytes:
    body = b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + body + os.urandom(2000) + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + os.urandom(3 * 4) for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data, zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def docx(text: str = "<w:document/>") -> bytes:
    return _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": text.encode()})


def other_zip() -> bytes:
    return _zip({"readme.txt": b"not a document"})


def xlsx() -> bytes:
    return _zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})


def odt() -> bytes:
    return _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office:document/>"})


DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# name, bytes, the type a client declares, the type read from the bytes
KINDS = [
    ("perizia.pdf", pdf(), "application/pdf", "application/pdf"),
    ("inoltrata.pdf", b"\xef\xbb\xbf\r\n" + pdf(), "application/pdf", "application/pdf"),  # a BOM a mailer put before
    ("pianta.png", png(), "image/png", "image/png"),
    ("foto.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(500) + b"\xff\xd9", "image/jpeg", "image/jpeg"),
    ("logo.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif", "image/gif"),
    ("foto.webp", b"RIFF\x1a\x00\x00\x00WEBPVP8 " + os.urandom(14), "image/webp", "image/webp"),
    ("lettera.docx", docx(), "application/octet-stream", DOCX_TYPE),
    ("conti.xlsx", xlsx(), "", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("verbale.odt", odt(), "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.text"),
    ("note.txt", "Sopralluogo fatto, è tutto in ordine.\n".encode(), "text/plain", "text/plain"),
    ("spese.csv", "voce;importo\nperizia;350,00\n".encode(), "text/csv", "text/csv"),
    # as browsers, phones and mail programs declare them: Chromium's .md and .log, Android's image/jpg, a ZIP
    ("appunti.md", "# Sopralluogo\n".encode(), "text/markdown", "text/plain"),
    ("registro.log", b"10:00 arrivo\n", "text/x-log", "text/plain"),
    ("scatto.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(200) + b"\xff\xd9", "image/jpg", "image/jpeg"),
    ("contratto.docx", docx(), "application/x-zip-compressed", DOCX_TYPE),
    ("preventivo.pdf", pdf(), "application/x-pdf", "application/pdf"),
]
