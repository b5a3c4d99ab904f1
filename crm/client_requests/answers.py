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
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

from crm.client_requests.questions import QuestionType
from crm.documents.sniff import sniff
from crm.documents.store import clean_name
from processes.errors import DocumentInvalid, DocumentMismatch, DocumentUnsupported

MAX_TEXT = {QuestionType.text: 1_000, QuestionType.long_text: 10_000}
MAX_NUMBER = Decimal(10) ** 15
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


def parse_number(text: str) -> int | float | None:
    """2, 1250.50, 1.250,50, 1 250,5 -> a number (the last . or , is the decimal mark when both are there)."""
    text = re.sub(r"[\s\u00a0\u202f']", "", text)
    if not re.fullmatch(r"[+-]?[\d.,]+", text) or not any(c.isdigit() for c in text):
        return None
    if "," in text and "." in text:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        text = text.replace("." if decimal == "," else ",", "").replace(",", ".")
    elif text.count(",") == 1:
        text = text.replace(",", ".")
    elif text.count(",") > 1 or text.count(".") > 1:
        text = text.replace(",", "").replace(".", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
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


def _text(question: dict[str, Any], values: list[str]) -> tuple[Any, Problem | None]:
    kind = question["type"]
    value = (values[0] if values else "").strip()
    if kind in (QuestionType.multi_choice,):
        chosen = list(dict.fromkeys(v for v in values if v))
        if any(v not in question.get("options", ()) for v in chosen):
            return None, Problem("e_option")
        return chosen, None
    if not value:
        return None, None
    if kind in MAX_TEXT:
        if len(value) > MAX_TEXT[kind]:
            return None, Problem("e_too_long", {"limit": MAX_TEXT[kind]})
        return value, None
    if kind == QuestionType.number:
        number = parse_number(value)
        if number is None:
            return None, Problem("e_number")
        return (None, Problem("e_number_range")) if number == math.inf else (number, None)
    if kind == QuestionType.date:
        day = parse_date(value)
        return (day.isoformat(), None) if day else (None, Problem("e_date"))
    if kind == QuestionType.yes_no:
        return (value == YES, None) if value in (YES, NO) else (None, Problem("e_option"))
    if kind == QuestionType.choice:
        return (value, None) if value in question.get("options", ()) else (None, Problem("e_option"))
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
        name = clean_name(upload.name)
        sniffed = sniff(upload.file, name, upload.declared)
    except DocumentInvalid:
        return None, Problem("e_file_name")
    except DocumentUnsupported:
        return None, Problem("e_file_unknown")
    except DocumentMismatch:
        return None, Problem("e_file_mismatch")
    accepted = question.get("accept") or []
    if accepted and sniffed.content_type not in accepted:
        return None, Problem("e_file_kind", {"kind": sniffed.content_type, "kinds": accepted})
    return CheckedFile(question["key"], name, sniffed.content_type, sniffed.size, sniffed.sha256, upload.file), None


def check(questions: list[dict[str, Any]], fields: dict[str, list[str]], uploads: dict[str, Upload],
          max_file_bytes: int) -> Checked:
    """The answers to keep, or the problems (by question key). `fields`: each question's values as sent."""
    checked = Checked()
    for question in questions:
        key = question["key"]
        if question["type"] == QuestionType.file:
            kept, problem = _file(question, uploads.get(key), max_file_bytes)
            if kept is not None:
                checked.files.append(kept)
            value: Any = kept
        else:
            value, problem = _text(question, fields.get(key, []))
            if value not in (None, []):
                checked.answers[key] = value
        if problem is None and question.get("required") and value in (None, []):
            problem = Problem("e_required")
        if problem is not None:
            checked.problems[key] = problem
    return checked
