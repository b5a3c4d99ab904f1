"""What a file is, from its bytes (its magic numbers), and whether its name and declared type agree.

Known: PDF (its header after at most a BOM and blanks), PNG, JPEG, GIF, WebP, DOCX, XLSX, ODT (the last three are
ZIP files, told apart by what they hold), and plain text (UTF-8 without NUL bytes; CSV when its name ends in .csv).
Anything else is refused.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from processes.errors import DocumentMismatch, DocumentUnsupported

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
# each type and the name endings it may have
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",), "image/png": (".png",), "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",), "image/webp": (".webp",), DOCX: (".docx",), XLSX: (".xlsx",), ODT: (".odt",),
    "text/plain": (".txt", ".text", ".md", ".log"), "text/csv": (".csv",),
}
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
          (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))
_LOOSE = {"", "application/octet-stream", "binary/octet-stream"}  # a client that did not say
_ZIPPED = {"application/zip", "application/x-zip-compressed"}  # DOCX, XLSX and ODT are ZIP files: some say so
# the other names browsers, phones and mail programs give each kind (Chromium sends .md as text/markdown, .log as
# text/x-log; Android pickers image/jpg; old Internet Explorer image/pjpeg and image/x-png)
_ALSO_SENT_AS: dict[str, set[str]] = {
    "application/pdf": {"application/x-pdf", "application/acrobat", "applications/vnd.pdf", "text/pdf"},
    "image/jpeg": {"image/jpg", "image/pjpeg"}, "image/png": {"image/x-png"},
    DOCX: _ZIPPED, XLSX: _ZIPPED | {"application/vnd.ms-excel"}, ODT: _ZIPPED,
    "text/plain": {"text/csv", "application/csv", "application/vnd.ms-excel", "text/markdown", "text/x-markdown",
                   "text/x-log", "text/x-csv", "text/comma-separated-values"},
    "text/csv": {"text/plain", "application/csv", "application/vnd.ms-excel", "text/x-csv",
                 "text/comma-separated-values"},
}


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    size: int
    sha256: str


def _zip_type(file: BinaryIO) -> str | None:
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.read("mimetype").strip() == ODT.encode():
                return ODT
            if "[Content_Types].xml" in names:
                if any(n.startswith("word/") for n in names):
                    return DOCX
                if any(n.startswith("xl/") for n in names):
                    return XLSX
    except (zipfile.BadZipFile, KeyError, OSError):
        return None
    return None


def _is_text(file: BinaryIO) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    file.seek(0)
    try:
        while chunk := file.read(1 << 16):
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def content_type(file: BinaryIO, name: str) -> str | None:
    file.seek(0)
    head = file.read(1024)
    if head.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n\f\x00").startswith(b"%PDF-"):
        return "application/pdf"  # readers open one whose header a mailer or a server put a BOM or blanks before
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"PK\x03\x04"):
        file.seek(0)
        return _zip_type(file)
    if _is_text(file):
        return text_kind(name)
    return None


def text_kind(name: str) -> str:
    """The kind of a text file by its name: CSV when it ends in .csv, else plain text."""
    return "text/csv" if name.lower().endswith(EXTENSIONS["text/csv"]) else "text/plain"


def is_text_name(name: str) -> bool:
    """Whether the name is a text file's (.txt, .csv and the like): a file so named but not kept is not UTF-8."""
    return name.lower().endswith(EXTENSIONS["text/plain"] + EXTENSIONS["text/csv"])


def sniff(file: BinaryIO, name: str, declared: str) -> Sniffed:
    """The file's type, size and digest; DocumentUnsupported or DocumentMismatch when it cannot be kept."""
    if file.seek(0, os.SEEK_END) == 0:
        raise DocumentUnsupported.worded("{name} is empty", name=repr(name))
    kind = content_type(file, name)
    if kind is None:
        if is_text_name(name):
            raise DocumentUnsupported.worded("{name} is named as text, but its content is not UTF-8 text (a NUL byte, "
                                             "or bytes UTF-8 does not allow, as in Windows-1252 or UTF-16): save it "
                                             "as UTF-8", name=repr(name))
        raise DocumentUnsupported.worded("{name}: its content is none of the kinds kept (PDF, PNG, JPEG, GIF, WebP, "
                                         "DOCX, XLSX, ODT, plain text or CSV)", name=repr(name))
    if not name.lower().endswith(EXTENSIONS[kind]):
        raise DocumentMismatch.worded("{name}: its content is {kind}, so its name ends in {endings}: rename it, or "
                                      "send the file its name says", name=repr(name), kind=kind,
                                      endings=" or ".join(EXTENSIONS[kind]))
    declared = declared.split(";")[0].strip().lower()
    if declared not in _LOOSE and declared != kind and declared not in _ALSO_SENT_AS.get(kind, set()):
        raise DocumentMismatch.worded("{name} was sent as {declared}, but its content is {kind}", name=repr(name),
                                      declared=declared, kind=kind)
    digest, size = hashlib.sha256(), 0
    file.seek(0)
    while chunk := file.read(1 << 16):
        digest.update(chunk)
        size += len(chunk)
    file.seek(0)
    return Sniffed(kind, size, digest.hexdigest())
