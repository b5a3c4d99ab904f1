"""How many SMS segments a text takes: GSM 03.38 (7-bit) when every character is in it, else UCS-2."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import phonenumbers

from processes.errors import ErrorCollector

GSM_BASIC = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")  # two septets each
MAX_SEGMENTS = 10  # a text longer than this is refused: gateways cut or refuse it, and each segment is paid

_TAGS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int

    def __str__(self) -> str:
        return f"{self.count} segment{'s' if self.count != 1 else ''} ({self.units} {self.encoding} characters)"


# Characters with a GSM-7 look-alike, sent as it: one of them made a whole message UCS-2 (70 characters a segment
# where 160 fit), and they come from what an office does not see: Babel puts a no-break space in `250.000 €` and in
# dates, a word processor writes ’ for ' and “ ” for ".
_LOOK_ALIKES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " ", "\u200a": " ",
                              "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'",
                              "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"',
                              "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "..."})


def gsm_text(text: str) -> str:
    """`text` with the characters that have a GSM-7 look-alike (no-break spaces, typographic quotes, dashes, the
    ellipsis) written as it, as an SMS is sent."""
    return text.translate(_LOOK_ALIKES)


def segments(text: str) -> Segments:
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        units = sum(2 if c in GSM_EXTENDED else 1 for c in text)
        return Segments("GSM-7", units, 1 if units <= 160 else -(-units // 153))
    units = len(text.encode("utf-16-le")) // 2
    return Segments("UCS-2", units, 1 if units <= 70 else -(-units // 67))


def fixed_part(source: str) -> str:
    """The text a template sends whatever the record: its source without `{{ }}`, `{% %}` and `{# #}`."""
    return _TAGS.sub("", source)


def template_notes(definition: dict[str, Any]) -> list[str]:
    """What a template's SMS texts cost, shown when it is saved: the segments of each text's fixed part."""
    notes = []
    for i, phase in enumerate(definition.get("phases") or []):
        for j, action in enumerate(phase.get("actions") or []):
            sms = action.get("send_sms") if isinstance(action, dict) else None
            if isinstance(sms, dict) and isinstance(sms.get("text"), str):
                text = sms["text"]
                fixed = fixed_part(text)
                size = segments(gsm_text(fixed))
                more = "" if fixed == text else "; each value it shows adds its length" + (
                    ", and one with a character outside GSM-7 (ł, ż, an emoji) makes the whole text UCS-2, 70 "
                    "characters a segment" if size.encoding == "GSM-7" else "")
                notes.append(f"phases[{i}].actions[{j}].send_sms.text: {size}{more}")
    return notes


def check_sms(path: str, to: str, text: str, errors: ErrorCollector) -> None:
    """A fixed number must be a valid international number; the text's fixed part at most MAX_SEGMENTS."""
    if to[:1] in "+0123456789":
        try:
            number = phonenumbers.parse(to, None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            errors.add(f"{path}.to", f"'{to}' is not a valid phone number in international format (+39 333 123 4567)")
    fixed = segments(gsm_text(fixed_part(text)))
    if fixed.count > MAX_SEGMENTS:
        errors.add(f"{path}.text", f"the text is {fixed} before any value; the limit is {MAX_SEGMENTS} segments")
