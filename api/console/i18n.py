"""The console's words in the office's language (LOCALE): English as written in the pages, Italian here.

A text missing from a table shows in English; `tests/console/test_console_pages.py` checks that every
text the pages use has its Italian.
"""

from __future__ import annotations

from collections.abc import Callable

ITALIAN: dict[str, str] = {
}

LANGUAGES = {"it": ITALIAN}


def translator(locale: str) -> Callable[[str], str]:
    table = LANGUAGES.get(locale.replace("-", "_").split("_")[0].lower(), {})
    return lambda text: table.get(text, text)
