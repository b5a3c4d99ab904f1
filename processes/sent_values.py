"""Values as a client sends them in JSON, taken as JSON writes them: pydantic's lax defaults took `0` or `"yes"` for a
flag, `true` for the id 1, and a number as seconds since 1970 for a date, so a client's mistake changed something
instead of being refused with its path (`tests/bad_input/test_json_types.py` holds every JSON body to these)."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Strict, StringConstraints

TrueOrFalse = Annotated[bool, Strict()]
"""A flag as a client writes one in JSON: `true` or `false`, not `0`, `1` or `"yes"` (which pydantic takes by
default, so that a number sent by mistake would have changed a flag)."""

_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _written(value: Any) -> Any:
    """A date and time as ISO 8601 text, not a number: pydantic reads a number (or a numeric query string) as
    seconds since 1970, so a `0` or a `0.5` sent by mistake became a moment in 1970."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("expected a date and time in ISO 8601, such as 2026-12-03T15:00:00+01:00, not a number")
    return value


FIRST_YEAR, LAST_YEAR = 1000, 9998


def _in_range(value: datetime) -> datetime:
    """Within years the engine can compute with: a moment near year 1 or 9999 left the calendar once converted to
    UTC or moved by a reminder's minutes (an OverflowError, which was a 500)."""
    try:
        year = value.astimezone(UTC).year if value.tzinfo is not None else value.year
    except OverflowError:
        year = 0
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"expected a date and time between the years {FIRST_YEAR} and {LAST_YEAR} (in UTC)")
    return value


WrittenDatetime = Annotated[datetime, BeforeValidator(_written), AfterValidator(_in_range)]
"""A date and time a client sends (a query's `started_before`): ISO 8601 text, between the years 1000 and 9998."""
WrittenAwareDatetime = Annotated[AwareDatetime, BeforeValidator(_written), AfterValidator(_in_range)]
"""A date and time a client sends in a body, with its zone: ISO 8601 text, between the years 1000 and 9998."""


def _not_a_flag(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not true or false")
    return value


WholeNumber = Annotated[int, BeforeValidator(_not_a_flag)]
"""An id or a count a client sends: `true` is not 1 (a whole number written 12.0 still is 12, as JSON Schema reads
it). api/bounds.py writes the bounds of such a field into the OpenAPI schema."""


# characters no one sees that change what is seen: bidirectional overrides and isolates reorder the text after them
# (a title or a name can show something other than what it holds: "Trojan Source")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def seen(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        if hidden := next((c for c in value if unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS), None):
            raise ValueError(f"holds a character no one can see (U+{ord(hidden):04X}: a control character, or one "
                             "that reorders the text after it): remove it")
    return value


def _text(value: Any) -> Any:
    value = seen(value)
    if isinstance(value, str) and not value:
        raise ValueError("expected some text, not only spaces")
    return value


Line = Annotated[str, AfterValidator(seen)]
"""A text on one line that may be empty (a record's type or channel): `Text`'s checks but the one for something left."""
Text = Annotated[str, AfterValidator(_text)]
"""A text people read on one line, a title, a name or a status: its spaces around taken off, and something left
(`"   "` is refused, not kept as a title no one can see in a list), with no control character (a line break, ESC) nor
one that reorders what follows (U+202E). Its length bounds are the field's own, checked before the spaces go."""


_EXTENSION = re.compile(r"(?P<main>.*?)\s*(?:ext|x|int|interno)\.?\s*(?P<extension>\d{1,6})", re.IGNORECASE)
_GROUP = re.compile(r"\(\d+\)")  # (06), (0): a group in brackets, holding digits only
_SHAPE = re.compile(r"\+?\d[\d\s./-]*")
_TWO_SEPARATORS = re.compile(r"[./-]\s*[./-]")


def dialable(phone: str) -> str:
    """`phone` as the phone library reads it: any kind of space a plain one, its extension word written `ext.`
    (`interno` is read as letters on a keypad)."""
    phone = re.sub(r"\s", " ", phone)
    found = _EXTENSION.fullmatch(phone)
    return f"{found['main']} ext. {found['extension']}" if found else phone


def _is_phone(value: str) -> bool:
    found = _EXTENSION.fullmatch(value)
    main = found["main"] if found else value
    plain = _GROUP.sub("0", main)  # brackets that hold a group; any other bracket is not a phone's
    return (bool(_SHAPE.fullmatch(plain)) and plain[-1:].isdigit() and not _TWO_SEPARATORS.search(plain)
            and 3 <= len(re.findall(r"\d", main)) <= 17)


def _phone(value: Any) -> Any:
    value = seen(value)
    if not isinstance(value, str) or not value:
        return None
    if not _is_phone(value):
        raise ValueError("expected a phone number: digits, with spaces and + ( ) - . / if you like, such as "
                         "+39 06 1234 5678 (an extension after ext or int: +39 06 1234 5678 int 12)")
    return value


PhoneNumber = Annotated[str, StringConstraints(max_length=40), AfterValidator(_phone)]
"""A phone number as people write one (`+39 06 1234 5678`, `(06) 1234-5678`, `333 123 4567 int 12`): its spaces around
taken off, nothing left read as no phone (None), at most 40 characters, 3 to 17 digits in groups (a group in
brackets, one separator between groups); no letters but an extension's word. A message is sent to its E.164 form
(activities/send_sms.py, through `dialable`), read with the record's country."""
