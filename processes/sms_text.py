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
                more = "; each value it shows adds its length" if fixed != text else ""
                notes.append(f"phases[{i}].actions[{j}].send_sms.text: {segments(fixed)}{more}")
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
    fixed = segments(fixed_part(text))
    if fixed.count > MAX_SEGMENTS:
        errors.add(f"{path}.text", f"the text is {fixed} before any value; the limit is {MAX_SEGMENTS} segments")
