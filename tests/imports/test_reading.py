"""Reading a CSV a row at a time: a line longer than LINE_LIMIT is refused without being read whole."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import pytest

from crm.imports.reading import LINE_LIMIT, FileUnreadable, detect_encoding, header, rows


def test_a_line_without_end_is_refused_with_its_row_before_it_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write("title;email\r\nUno;uno@example.it\r\n")
        for _ in range(40):  # 40 MB of one row with no line break: delimiters, which no cell limit stops
            file.write(";" * 1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(FileUnreadable) as refused:
            for _ in rows(path, "utf-8", ";"):
                pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(refused.value) == f"row 3: a line is longer than {LINE_LIMIT:,} characters"
    assert peak < 4 * LINE_LIMIT + 2_000_000, f"{peak:,} bytes held"  # the line was read whole: 40 MB and more


def test_lines_up_to_the_limit_and_cells_over_several_lines_are_read(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    long_cell = "a" * (LINE_LIMIT // 2 - 10)
    path.write_text(f'title;note\r\nUno;"{long_cell}"\r\n\r\nDue;"prima\r\nseconda"\r\nTre;{long_cell}\r\n',
                    encoding="utf-8", newline="")
    assert [(row, values[0], len(values[1])) for row, values in rows(path, "utf-8", ";")] == [
        (2, "Uno", len(long_cell)), (4, "Due", len("prima\r\nseconda")), (5, "Tre", len(long_cell))]


def test_a_quote_never_closed_is_refused_at_its_row_not_read_as_the_rest_of_the_file(tmp_path: Path) -> None:
    """A stray quote opening a cell made that cell run to the end of the file: the rows after it were imported as
    one contact's email. The file is refused at the row; a last row over several lines that closes its quote is
    read, and so is a quote inside a cell"""
    path = tmp_path / "contatti.csv"
    path.write_text('nome;email\r\nAnna;"anna@example.it\r\nBruno;bruno@example.it\r\nCarla;carla@example.it\r\n',
                    encoding="utf-8", newline="")
    with pytest.raises(FileUnreadable) as refused:
        list(rows(path, "utf-8", ";"))
    assert str(refused.value) == ('row 2: a cell opens with a quote (") that is never closed, so the rest of the file '
                                  "was read into it: close the quote or remove it")
    path.write_text('nome;note\r\nAnna "Nina" Rossi;5" schermo\r\nBruno;"prima\r\nseconda"\r\n', encoding="utf-8",
                    newline="")
    assert list(rows(path, "utf-8", ";")) == [(2, ['Anna "Nina" Rossi', '5" schermo']),
                                              (3, ["Bruno", "prima\r\nseconda"])]


def test_a_cell_over_the_limit_says_how_a_quote_can_make_one(tmp_path: Path) -> None:
    path = tmp_path / "contatti.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write('nome;email\r\nAnna;"anna@example.it\r\n')
        for n in range(30_000):
            file.write(f"Contatto {n};contatto{n}@example.it\r\n")
    with pytest.raises(FileUnreadable) as refused:
        list(rows(path, "utf-8", ";"))
    assert str(refused.value).startswith("row 2: a cell is longer than 1,000,000 characters (a quote that opens")


def test_the_header_is_read_on_its_own_and_a_headerless_utf16_file_is_said_to_be_utf16(tmp_path: Path) -> None:
    """A Windows-1252 file sent as UTF-8 was refused at "byte 34 of its first line", a byte of the second; UTF-16 with
    no BOM was read as Windows-1252, its columns looking right but matching no field"""
    path = tmp_path / "contatti.csv"
    path.write_bytes("nome;email\r\nJosé;j@example.it\r\n".encode("cp1252"))
    assert header(path, "utf-8", None) == (["nome", "email"], ";")  # the first line is fine; row 2 is said to be not
    with pytest.raises(FileUnreadable) as refused:
        list(rows(path, "utf-8", ";"))
    assert str(refused.value).startswith("row 2: the file is not utf-8")
    path.write_bytes("nome;email\r\nJosé;j@example.it\r\n".encode("utf-16-le"))
    with pytest.raises(FileUnreadable) as refused:
        header(path, detect_encoding(path), None)
    assert "the file is UTF-16" in str(refused.value)
    path.write_bytes(b"title;;email\r\nx;y;z\r\n")
    with pytest.raises(FileUnreadable) as refused:
        header(path, "utf-8", None)
    assert str(refused.value) == "the header names a column twice or leaves one unnamed: 'title', '', 'email'"


def test_excels_sep_line_names_the_delimiter_and_empty_columns_at_the_headers_end_are_dropped(tmp_path: Path) -> None:
    """`sep=;` (Excel writes it first, and hides it) and `title;email;` (a cell once used) refused the whole file"""
    path = tmp_path / "contatti.csv"
    path.write_bytes("\ufeffsep=,\r\ntitle,email,\r\nAnna,a@example.it,\r\n".encode())
    assert header(path, "utf-8-sig", None) == (["title", "email"], ",")
    assert list(rows(path, "utf-8-sig", ",")) == [(2, ["Anna", "a@example.it", ""])]


@pytest.mark.parametrize(("start", "said"), [
    (b"PK\x03\x04\x14\x00\x06\x00", "the file is a spreadsheet (XLSX or ODS) or a ZIP archive, not a CSV file: in the "
                                    "spreadsheet, Save as (or Download as) 'CSV UTF-8' and send that file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "the file is an Excel 97-2003 workbook (XLS), not a CSV file"),
    (b"%PDF-1.7\n", "the file is a PDF, not a CSV file"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "the file is an image (JPEG), not a CSV file"),
    (gzip.compress(b"nome;email\n" * 50, mtime=0), "the file is not text (an archive, a database or a program's own file), not a "
                                          "CSV file: send the CSV file of the list"),
    (b"SQLite format 3\x00\x10\x00\x01\x01", "the file is not text (an archive"),
], ids=["xlsx", "xls", "pdf", "jpeg", "gzip", "sqlite"])
def test_a_workbook_a_pdf_or_a_photo_sent_for_a_csv_is_said_to_be_one(tmp_path: Path, start: bytes, said: str) -> None:
    """Their first line holds NUL bytes, and they were said to be UTF-16 ("save it as 'CSV UTF-8'"), whatever they were"""
    path = tmp_path / "contatti.csv"
    path.write_bytes(start + bytes(range(256)) * 4)
    with pytest.raises(FileUnreadable) as refused:
        header(path, detect_encoding(path), None)
    assert str(refused.value).startswith(said)
    with pytest.raises(FileUnreadable):  # whatever encoding the office chose
        header(path, "windows-1252", ";")
