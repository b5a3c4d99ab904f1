"""Checking a client's answers against the request's questions: every answer parsed and every file sniffed
from its bytes; each problem is a message key (translated by the form) with its values, by question key.

Nothing is stored here: `check` either gives the answers and the files to keep, or the problems.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any, BinaryIO

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberFormatError, get_decimal_symbol, get_group_symbol, parse_decimal

from crm.client_requests.questions import QuestionType
from crm.documents.sniff import EXTENSIONS, content_type, is_text_name, sniff, text_kind
from crm.documents.store import clean_name, shortened_name
from processes.errors import DocumentInvalid, DocumentMismatch, DocumentUnsupported

MAX_TEXT = {QuestionType.text: 1_000, QuestionType.long_text: 10_000}
MAX_NUMBER = Decimal(10) ** 15
MAX_NUMBER_TEXT = 100  # characters: longer is no number a client writes
YES, NO = "yes", "no"


@dataclass(frozen=True)
class Problem:
    message: str  # a key of the form's words: e_required, e_file_large...
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Upload:
    """A file as the browser sent it (spooled by the multipart parser: not held in memory)."""

    name: str | None
    declared: str
    file: BinaryIO


@dataclass(frozen=True)
class CheckedFile:
    question: str
    name: str
    content_type: str
    size: int
    sha256: str
    file: BinaryIO


@dataclass
class Checked:
    answers: dict[str, Any] = field(default_factory=dict)  # file questions: filled in once the files are stored
    files: list[CheckedFile] = field(default_factory=list)
    problems: dict[str, Problem] = field(default_factory=dict)


@lru_cache(maxsize=32)
def _number_marks(language: str) -> tuple[Locale, str, str]:
    """The Babel locale of `language` (else English) with its group and decimal marks."""
    try:
        locale = Locale.parse(language, sep="-")
    except (ValueError, TypeError, UnknownLocaleError):
        locale = Locale("en")
    return locale, get_group_symbol(locale), get_decimal_symbol(locale)


def parse_number(text: str, language: str) -> int | float | None:
    """A number as written in `language` (the form's: it, fr, de, en), read by Babel's strict rules: in Italian or
    German 2, 1250,50, 1.250 (one thousand two hundred and fifty), 1.250,50; in French 1 250,50; in English 1250.50,
    1,250.50. A space (of any kind) groups thousands in every language. None when it is no number there: another
    mark than the language's two (1.250 in French, 1e5), groups out of place (1.2.3, 12.5 in Italian); math.inf when
    it is too large."""
    locale, group, decimal = _number_marks(language)
    text = re.sub(r"\s+", group, text.strip()).removeprefix("+")
    if len(text) > MAX_NUMBER_TEXT or not re.fullmatch(f"-?[0-9{re.escape(group + decimal)}]+", text) \
            or not any(c.isdigit() for c in text):
        return None
    try:
        value = parse_decimal(text, locale=locale, strict=True)
    except NumberFormatError:
        return None
    if not value.is_finite() or abs(value) >= MAX_NUMBER:
        return math.inf  # too large: told apart from not a number
    return int(value) if value == value.to_integral_value() else float(value)


def parse_date(text: str) -> date | None:
    """2026-03-31 (a date input), 31/03/2026, 31.03.2026 or 31-03-2026."""
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        if found := re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", text):
            day, month, year = (int(part) for part in found.groups())
            return date(year, month, day)
    except ValueError:
        return None
    return None


def _lines(text: str) -> str:
    """Line breaks as one LF each: a browser sends a textarea's as CRLF, yet counts each as one character."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _option(question: dict[str, Any], value: str) -> str | None:
    """The option `value` chooses, as the question has it, compared without the spaces around either (options are
    trimmed when a template is saved; a request copied from a template saved before that keeps them)."""
    value = value.strip()
    return next((o for o in question.get("options", ()) if o.strip() == value), None)


def _text(question: dict[str, Any], values: list[str], language: str) -> tuple[Any, Problem | None]:
    kind = question["type"]
    values = [_lines(v) for v in values]
    value = (values[0] if values else "").strip()
    if kind in (QuestionType.multi_choice,):
        chosen: list[str] = []
        for sent in (v for v in values if v.strip()):
            if (option := _option(question, sent)) is None:
                return None, Problem("e_option")
            chosen.append(option)
        return list(dict.fromkeys(chosen)), None
    if not value:
        return None, None
    if sum(1 for v in values if v.strip()) > 1:  # a question of one answer sent several (no form draws that)
        return None, Problem("e_one_answer")
    if kind in MAX_TEXT:
        if len(value) > MAX_TEXT[kind]:
            return None, Problem("e_too_long", {"limit": MAX_TEXT[kind]})
        return value, None
    if kind == QuestionType.number:
        number = parse_number(value, language)
        if number is None:
            return None, Problem("e_number")
        return (None, Problem("e_number_range")) if number == math.inf else (number, None)
    if kind == QuestionType.date:
        day = parse_date(value)
        return (day.isoformat(), None) if day else (None, Problem("e_date"))
    if kind == QuestionType.yes_no:
        return (value == YES, None) if value in (YES, NO) else (None, Problem("e_option"))
    if kind == QuestionType.choice:
        option = _option(question, value)
        return (option, None) if option is not None else (None, Problem("e_option"))
    return None, None


def _file(question: dict[str, Any], upload: Upload | None,
          max_file_bytes: int) -> tuple[CheckedFile | None, Problem | None]:
    if upload is None or not upload.name:
        return None, None  # no file chosen (a browser sends an empty part)
    size = upload.file.seek(0, os.SEEK_END)
    if size == 0:
        return None, Problem("e_file_empty")
    limit = min(question.get("max_bytes") or max_file_bytes, max_file_bytes)
    if size > limit:
        return None, Problem("e_file_large", {"size": size, "limit": limit})
    try:
        name = clean_name(shortened_name(upload.name))
        sniffed = sniff(upload.file, name, upload.declared)
    except DocumentInvalid:
        return None, Problem("e_file_name")
    except DocumentUnsupported:
        if not is_text_name(name):
            return None, Problem("e_file_unknown")
        named = text_kind(name)
        accepted = question.get("accept") or [named]
        # a text not in UTF-8: saving it again helps only if text is accepted at all
        return None, (Problem("e_file_not_utf8") if named in accepted
                      else Problem("e_file_kind", {"kind": named, "kinds": accepted}))
    except DocumentMismatch:  # what the file is, and how such a file is named: the client can rename it
        kind = content_type(upload.file, name)
        if kind is not None and not name.lower().endswith(EXTENSIONS[kind]):
            return None, Problem("e_file_renamed", {"kind": kind, "ends": " / ".join(EXTENSIONS[kind])})
        return None, Problem("e_file_mismatch")
    accepted = question.get("accept") or []
    if accepted and sniffed.content_type not in accepted:
        return None, Problem("e_file_kind", {"kind": sniffed.content_type, "kinds": accepted})
    return CheckedFile(question["key"], name, sniffed.content_type, sniffed.size, sniffed.sha256, upload.file), None


def check(questions: list[dict[str, Any]], fields: dict[str, list[str]], uploads: dict[str, Upload],
          max_file_bytes: int, language: str) -> Checked:
    """The answers to keep, or the problems (by question key). `fields`: each question's values as sent;
    `language`: the form's (it, fr, de, en), in which numbers are read."""
    checked = Checked()
    for question in questions:
        key = question["key"]
        if question["type"] == QuestionType.file:
            kept, problem = _file(question, uploads.get(key), max_file_bytes)
            if kept is not None:
                checked.files.append(kept)
            value: Any = kept
        else:
            value, problem = _text(question, fields.get(key, []), language)
            if value not in (None, []):
                checked.answers[key] = value
        if problem is None and question.get("required") and value in (None, []):
            problem = Problem("e_required")
        if problem is not None:
            checked.problems[key] = problem
    return checked
