"""A client request template as saved: title, message, language and questions, validated with paths.

    key: tax-return-documents
    language: it
    title: Documenti per la dichiarazione dei redditi
    message: Ci servono questi documenti entro fine mese.
    questions:
      - {key: cu, type: file, label: Certificazione Unica, required: true, accept: [application/pdf]}
      - {key: dependants, type: number, label: Familiari a carico}

Structure is checked by the pydantic models; `check_template` adds what they cannot see: unique question
keys, options only where a choice is asked and distinct there (options are kept without the spaces around them,
as the form compares its trimmed answers: two that differ only by those spaces are the same option twice), accepted
types the documents store knows, a file limit within CLIENT_REQUEST_MAX_FILE_BYTES.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from crm.documents.sniff import EXTENSIONS
from processes.documents import parse_document
from processes.errors import ErrorCollector, ErrorDetail, TemplateInvalid
from processes.sent_values import Text, TrueOrFalse
from processes.template_basics import KEY_PATTERN
from processes.validation import pydantic_errors

LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
MAX_QUESTIONS = 100
MAX_OPTIONS = 100
Option = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]  # kept without spaces around it
ContentType = Annotated[str, StringConstraints(max_length=100)]


class QuestionType(StrEnum):
    text = "text"
    long_text = "long_text"
    number = "number"
    date = "date"
    choice = "choice"  # one of `options`
    multi_choice = "multi_choice"  # any of `options`
    yes_no = "yes_no"
    file = "file"


CHOICES = (QuestionType.choice, QuestionType.multi_choice)


class RequestTemplateInvalid(TemplateInvalid):
    """A client request template does not validate; `details` holds every error with its path."""


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)

    key: str = Field(pattern=KEY_PATTERN, max_length=63, description="the answer's name: lower case letters, digits, - and _")
    type: QuestionType
    label: Text = Field(min_length=1, max_length=500)
    help: str = Field("", max_length=2000)
    required: TrueOrFalse = False
    options: list[Option] = Field(default_factory=list, max_length=MAX_OPTIONS,
                               description="the choices (choice, multi_choice only)")
    accept: list[ContentType] = Field(default_factory=list, max_length=20,
                              description="the content types a file may have (file only); none: any kind kept")
    max_bytes: int | None = Field(None, ge=1, description="the largest file (file only); default and bound: "
                                                          "CLIENT_REQUEST_MAX_FILE_BYTES")


class RequestTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN, max_length=63)
    language: str = Field("it", pattern=LANGUAGE, max_length=10)
    title: Text = Field(min_length=1, max_length=200)
    message: str = Field("", max_length=10_000)
    questions: list[Question] = Field(min_length=1, max_length=MAX_QUESTIONS)


def check_template(template: RequestTemplate, max_file_bytes: int) -> list[ErrorDetail]:
    """The errors the models cannot see, each with its path."""
    errors = ErrorCollector()
    seen: set[str] = set()
    for number, question in enumerate(template.questions):
        path = f"questions[{number}]"
        if question.key in seen:
            errors.add(f"{path}.key", f"'{question.key}' is the key of an earlier question: keys are unique")
        seen.add(question.key)
        _check_options(path, question, errors)
        _check_file(path, question, max_file_bytes, errors)
    return errors.errors


def _check_options(path: str, question: Question, errors: ErrorCollector) -> None:
    if question.type not in CHOICES:
        if question.options:
            errors.add(f"{path}.options", f"only a choice or multi_choice question has options, not {question.type}")
        return
    if len(question.options) < 2:
        errors.add(f"{path}.options", "a choice needs at least two options")
    seen: set[str] = set()
    for number, option in enumerate(question.options):
        if not option.strip():
            errors.add(f"{path}.options[{number}]", "an option is 1 to 200 characters of text")
        elif option in seen:
            errors.add(f"{path}.options[{number}]", f"'{option}' is there twice")
        seen.add(option)


def _check_file(path: str, question: Question, max_file_bytes: int, errors: ErrorCollector) -> None:
    if question.type != QuestionType.file:
        for name in ("accept", "max_bytes"):
            if getattr(question, name):
                errors.add(f"{path}.{name}", f"only a file question has {name}, not {question.type}")
        return
    for number, kind in enumerate(question.accept):
        if kind not in EXTENSIONS:
            errors.add(f"{path}.accept[{number}]", f"'{kind}' is not a kind of file kept; the kinds are "
                                                   + ", ".join(sorted(EXTENSIONS)))
    if question.max_bytes is not None and question.max_bytes > max_file_bytes:
        errors.add(f"{path}.max_bytes", f"{question.max_bytes:,} bytes is over the installation's limit of "
                                        f"{max_file_bytes:,} (CLIENT_REQUEST_MAX_FILE_BYTES)")


def validate_template(data: Any, max_file_bytes: int) -> RequestTemplate:
    """A template from its parsed document; RequestTemplateInvalid with every error and its path."""
    try:
        template = RequestTemplate.model_validate(data)
    except ValidationError as exc:
        raise RequestTemplateInvalid(list(pydantic_errors(exc))) from None
    if errors := check_template(template, max_file_bytes):
        raise RequestTemplateInvalid(errors)
    return template


def validate_text(text: str, max_file_bytes: int, source: str = "the request body",
                  office_locale: str | None = None) -> RequestTemplate:
    """A template from its YAML or JSON text; one that names no `language` is in the office's (LOCALE: `it_IT` is
    `it`), where it was Italian whatever the office's."""
    try:
        data = parse_document(text, source=source)
    except TemplateInvalid as exc:
        raise RequestTemplateInvalid(exc.details) from None
    if office_locale and "language" not in data:
        language = office_locale.replace("_", "-").split("-")[0].lower()
        data["language"] = language if re.fullmatch(LANGUAGE, language) else "en"
    return validate_template(data, max_file_bytes)
