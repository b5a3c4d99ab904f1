"""A cell of a CSV the API writes, kept from running as a formula, and read back by an import as it was.

A spreadsheet opening a CSV evaluates a cell that starts with `=`, `+`, `-` or `@` (some strip a leading tab or
carriage return first): a contact's title `=HYPERLINK(...)` typed on the client form would run when an employee
opens the export. Such a cell is written with a `'` before it (OWASP's CSV injection advice), and an import
removes one `'` from a cell whose apostrophes are followed by one of those characters, so an export imports back
exactly (a text that was `'=x` is written `''=x`).

A phone number (`+39 333 1234567`: a `+`, then only digits, spaces and `. - / ( )`) is written as it is: without
a letter it can name no function and no cell, and the office reads its numbers as they were typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PHONE = re.compile(r"\+[0-9][0-9 ./()\-]*")


def spreadsheet_cell(value: object) -> object:
    """`value` as a CSV cell: a text a spreadsheet would evaluate gets a leading `'`."""
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_STARTS) and not _PHONE.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_row(values: Iterable[object]) -> list[object]:
    return [spreadsheet_cell(value) for value in values]


def imported_cell(value: str) -> str:
    """A cell as the office meant it: without the `'` an export put before a formula's first character (a file
    another program wrote may hold a phone number so: `'+39 333 1234567`)."""
    return value[1:] if value[:1] == "'" and value.lstrip("'").startswith(FORMULA_STARTS) else value
