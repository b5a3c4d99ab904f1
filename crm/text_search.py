"""A search in text as an office expects it: any case, any accent, in any alphabet (`barberi` finds "Bàrberi",
`CITTA` finds "Via Città", `lodz` finds "Łódź"), and `%` or `_` taken as themselves, not as wildcards.

Both sides of the comparison go through the same SQL function, `stagecoach_fold(text)`: the column searched and the
text typed, so a title and a search typed alike always meet, however either's accents were encoded (`è` as one
character or as `e` and a combining accent). PostgreSQL's is `lower(unaccent(...))` (the `unaccent` extension; the
function and a trigram index on it over record titles come from migration 0024). SQLite's is `fold` below,
registered on each connection (`crm/db.py`): Python's `str.casefold`, the letters that carry no separable accent
(`ł`, `ø`, `æ`, `ß`...) as `unaccent` writes them, then every accent taken off (NFKD without its combining marks).
The text typed is folded before its `%`, `_` and `/` are escaped, so a fold that makes one of them (`℅` is `c/o`)
does not make a wildcard.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, func, literal

FOLD_FUNCTION = "stagecoach_fold"
ESCAPE = "/"
# Letters whose accent or stroke is not a separate character in Unicode: as PostgreSQL's unaccent rules write them.
_UNACCENTED = {"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t", "ı": "i", "ŀ": "l", "æ": "ae", "œ": "oe",
               "þ": "th", "ĸ": "q"}
_KEPT_CHARACTERS = 20_000  # a bound on the table below, which a search in every script there is would otherwise grow


class _Unaccented(dict[int, str]):
    """A character (its code) -> itself without its accents (`à` -> `a`, `ﬁ` -> `fi`, a combining accent -> ``),
    worked out once (NFKD without its combining marks) and kept, for `str.translate`."""

    def __missing__(self, code: int) -> str:
        decomposed = unicodedata.normalize("NFKD", chr(code))
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
        if len(self) < _KEPT_CHARACTERS:
            self[code] = plain
        return plain


_UNACCENT = _Unaccented({ord(letter): plain for letter, plain in _UNACCENTED.items()})


def fold(value: str | None) -> str | None:
    """`value` as a search compares it on SQLite: no case, no accent (`Bàrberi`, `BARBERI` and `barberi` alike).
    Called for every title a search reads: a text in ASCII takes the short way (0.15 µs, 2.6 µs with accents)."""
    if value is None:
        return None
    if value.isascii():
        return value.lower()
    return value.casefold().translate(_UNACCENT)


def contains_text(column: Any, text: str) -> ColumnElement[bool]:
    """`column` holds `text`, whatever the case or the accents of either."""
    term: Any = getattr(func, FOLD_FUNCTION)(literal(text))
    for special in (ESCAPE, "%", "_"):  # the escape character first, so the escapes added after stay single
        term = func.replace(term, special, ESCAPE + special)
    return getattr(func, FOLD_FUNCTION)(column).contains(term, escape=ESCAPE)  # type: ignore[no-any-return]
