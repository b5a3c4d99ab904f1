"""Reading an office's CSV a row at a time: UTF-8 with or without BOM, or Windows-1252; `;` or `,`.

Nothing here holds more than a row (and a buffer) in memory: the encoding is checked by decoding the
file in chunks, the delimiter is read from the header line, a line is read up to LINE_LIMIT characters
(a longer one is refused, not read whole) and a cell up to FIELD_LIMIT. A quote that opens a cell and is never
closed, which CSV readers take as a cell running to the end of the file, is refused at its row.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from crm.imports.cells import imported_cell

ENCODINGS = ("utf-8", "utf-8-sig", "windows-1252")
DELIMITERS = (";", ",")
CHUNK = 1 << 16
FIELD_LIMIT = 1_000_000
HEADER_LIMIT = 2 * FIELD_LIMIT  # characters: the header line is read whole, in the API's request
LINE_LIMIT = HEADER_LIMIT  # characters of any other line (a cell's line breaks start new lines)
csv.field_size_limit(FIELD_LIMIT)

# why a file cannot be read (`FileUnreadable`), in English; the console says them in the office's language
NOT_ENCODED_HEADER = "the file is not {encoding}: {reason} at byte {start} of its first line"
EMPTY = "the file is empty: its first line must name the columns"
HEADER_TOO_LONG = "row 1: the header line is longer than {limit} characters"
NOT_CSV = "row {row}: {error}"
COLUMNS_NAMED_BADLY = "the header names a column twice or leaves one unnamed: {columns}"
NOT_ENCODED_ROW = "row {row}: the file is not {encoding} ({reason})"
LINE_TOO_LONG = "row {row}: a line is longer than {limit} characters"
UTF16 = "the file is UTF-16, as Excel saves 'Unicode text': save it as 'CSV UTF-8' and send it again"
# (a header line holding NUL bytes is said to be so too: UTF-16 without its BOM is read as such a line)
NOT_TEXT = "the file is {kind}, not a CSV file: {advice}"
UNCLOSED_QUOTE = ("row {row}: a cell opens with a quote (\") that is never closed, so the rest of the file was read "
                  "into it: close the quote or remove it")
CELL_TOO_LONG = ("row {row}: a cell is longer than {limit} characters (a quote that opens a cell and is never closed "
                 "reads the rest of the file into it)")
# NOT_CSV after the row's others: it matches them too
UNREADABLE = (NOT_ENCODED_HEADER, EMPTY, HEADER_TOO_LONG, COLUMNS_NAMED_BADLY, NOT_ENCODED_ROW, LINE_TOO_LONG,
              UNCLOSED_QUOTE, CELL_TOO_LONG, NOT_CSV, UTF16, NOT_TEXT)


class FileUnreadable(ValueError):
    """The file cannot be read as CSV in the encoding or with the delimiter asked for; its `text` with its `values`
    kept apart too (`wording`), for the console to say it in the office's language."""

    def __init__(self, text: str, **values: object) -> None:
        self.wording = (text, {name: str(value) for name, value in values.items()})
        super().__init__(text.format(**self.wording[1]))


class _LineTooLong(Exception):
    pass


class _Lines:
    """The file's lines, each read up to LINE_LIMIT characters (a longer one raises `_LineTooLong` unread), and those
    of the row being read (`row`: the reader asks for a line only when its row needs one)."""

    def __init__(self, file: TextIO) -> None:
        self.file = file
        self.row: list[str] = []

    def __iter__(self) -> Iterator[str]:
        first = True
        while line := self.file.readline(LINE_LIMIT + 1):
            if len(line) > LINE_LIMIT:
                raise _LineTooLong
            if first and excel_separator(line) is not None:  # Excel's `sep=;`: no row of the sheet
                first = False
                continue
            first = False
            self.row.append(line)
            yield line


def _undecodable_line(path: Path, encoding: str) -> int | None:
    """The number of the first line holding a byte `encoding` refuses (lines end at CR, LF or CRLF), or None."""
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):  # split at LF: a CR alone (old Macs) is counted within
            try:
                raw.decode("utf-8-sig" if number == 1 and encoding == "utf-8-sig" else encoding)
            except UnicodeDecodeError as exc:
                return number + raw[:exc.start].count(b"\r") - raw[:exc.start].count(b"\r\n")
    return None


def _unclosed(lines: list[str], delimiter: str) -> bool:
    """Whether a row's lines end inside a quoted cell: read leniently, that cell took the rest of the file."""
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


# files sent for a CSV by mistake, known by their first bytes: (signature, what it is, what to do)
SPREADSHEET = "in the spreadsheet, Save as (or Download as) 'CSV UTF-8' and send that file"
SEND_CSV = "send the CSV file of the list"
NO_TEXT = "not text (an archive, a database or a program's own file)"
NOT_TEXT_FILES = ((b"PK\x03\x04", "a spreadsheet (XLSX or ODS) or a ZIP archive", SPREADSHEET),
                  (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (XLS)", SPREADSHEET),
                  (b"%PDF", "a PDF", "export the list from where it was made as CSV"),
                  (b"\xff\xd8\xff", "an image (JPEG)", SEND_CSV),
                  (b"\x89PNG", "an image (PNG)", SEND_CSV),
                  (b"GIF8", "an image (GIF)", SEND_CSV))
_CONTROL = frozenset(range(32)) - {9, 10, 13}  # no text holds them but a tab and line ends


def _utf16(raw: bytes) -> bool:
    """Whether the line is UTF-16 without its BOM: its Latin letters each a byte and a NUL, the NULs all on one side."""
    even, odd = raw[0::2].count(0), raw[1::2].count(0)
    return max(even, odd) > len(raw) // 4 and min(even, odd) <= len(raw) // 50


def _binary(raw: bytes) -> bool:
    """Whether the line is no text: a NUL in it, or a twentieth of its bytes control characters."""
    return b"\x00" in raw or sum(byte in _CONTROL for byte in raw[:4096]) * 20 > min(len(raw), 4096)


def detect_encoding(path: Path) -> str:
    """`utf-8-sig` with a BOM, `utf-8` when every byte decodes as UTF-8, otherwise `windows-1252`; a UTF-16 file (its
    BOM), which Windows-1252 would read as a header of one garbled column, is `FileUnreadable` saying what to do."""
    with path.open("rb") as file:
        start = file.read(3)
        if start == codecs.BOM_UTF8:
            return "utf-8-sig"
        if start[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise FileUnreadable(UTF16)
        file.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := file.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "windows-1252"
    return "utf-8"


def detect_delimiter(header_line: str) -> str:
    """The delimiter of the header line: the one of `;` and `,` it has more of (`;` when neither)."""
    return max(DELIMITERS, key=header_line.count) if any(d in header_line for d in DELIMITERS) else ";"


def excel_separator(line: str) -> str | None:
    """The delimiter a first line `sep=;` names (Excel writes it, and reads the file by it), or None."""
    found = re.fullmatch(r"(?:\ufeff)?sep=(.)", line.rstrip("\r\n"), re.IGNORECASE)
    return found[1] if found else None


def header(path: Path, encoding: str, delimiter: str | None) -> tuple[list[str], str]:
    """The file's columns and its delimiter (detected when `delimiter` is None; named by an Excel `sep=;` line before
    the header); empty columns at the header's end (a cell Excel once held) dropped. The header line is read as bytes,
    then decoded: a byte the encoding refuses is named within that line (a text reader decodes ahead of it, and named
    a byte of the lines after as the first line's)."""
    with path.open("rb") as file:
        raw = file.readline(4 * HEADER_LIMIT + 1)  # a character is at most 4 bytes
        for signature, kind, advice in NOT_TEXT_FILES:  # said as UTF-16 before, for the NUL bytes of their first line
            if raw.startswith(signature):
                raise FileUnreadable(NOT_TEXT, kind=kind, advice=advice)
        try:
            named = excel_separator(raw.decode(encoding)) if len(raw) < 16 else None
        except UnicodeDecodeError:
            named = None
        if named is not None:
            delimiter = delimiter or named
            raw = file.readline(4 * HEADER_LIMIT + 1)
    if len(raw) > 4 * HEADER_LIMIT:
        raise FileUnreadable(HEADER_TOO_LONG, limit=f"{HEADER_LIMIT:,}")
    if _utf16(raw):  # no header holds NUL; UTF-16 without its BOM does, every other byte
        raise FileUnreadable(UTF16)
    if _binary(raw):  # an archive, a database, a sound: no text, whatever it is named
        raise FileUnreadable(NOT_TEXT, kind=NO_TEXT, advice=SEND_CSV)
    try:
        first = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileUnreadable(NOT_ENCODED_HEADER, encoding=encoding, reason=exc.reason, start=exc.start) from None
    if not first.strip():
        raise FileUnreadable(EMPTY)
    if len(first) > HEADER_LIMIT:
        raise FileUnreadable(HEADER_TOO_LONG, limit=f"{HEADER_LIMIT:,}")
    delimiter = delimiter or detect_delimiter(first)
    try:
        columns = [imported_cell(c).strip() for c in next(csv.reader([first], delimiter=delimiter))]
    except csv.Error as exc:
        raise FileUnreadable(NOT_CSV, row=1, error=exc) from None
    while len(columns) > 1 and columns[-1] == "":
        columns.pop()
    if len(set(columns)) != len(columns) or "" in columns:
        raise FileUnreadable(COLUMNS_NAMED_BADLY, columns=", ".join(f"'{column}'" for column in columns))
    return columns, delimiter


def rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each data row with its number in a spreadsheet (the header is row 1, a cell's line breaks do not count);
    blank rows skipped, but counted."""
    with path.open(encoding=encoding, newline="", errors="strict") as file:
        lines = _Lines(file)
        reader = csv.reader(lines, delimiter=delimiter)
        row = 0  # the last row read whole; not reader.line_num, which counts the line breaks inside cells too
        last: list[str] = []  # the lines of the last row read
        try:
            next(reader, None)
            row = 1
            for row, values in enumerate(reader, start=2):
                last, lines.row = lines.row, []
                if any(v.strip() for v in values):
                    yield row, values
        except UnicodeDecodeError as exc:  # a text reader decodes ahead of the rows read: found again, by line
            raise FileUnreadable(NOT_ENCODED_ROW, row=_undecodable_line(path, encoding) or row + 1, encoding=encoding,
                                 reason=exc.reason) from None
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise FileUnreadable(CELL_TOO_LONG, row=row + 1, limit=f"{FIELD_LIMIT:,}") from None
            raise FileUnreadable(NOT_CSV, row=row + 1, error=exc) from None
        except _LineTooLong:
            raise FileUnreadable(LINE_TOO_LONG, row=row + 1, limit=f"{LINE_LIMIT:,}") from None
        # the last row only can run to the end of the file; one that does inside a quote took the rows after it (an
        # import is one transaction: the rows yielded before are not kept)
        if len(last) > 1 and _unclosed(last, delimiter):
            raise FileUnreadable(UNCLOSED_QUOTE, row=row)
