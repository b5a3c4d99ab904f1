"""A refused form's first mistake in the console's words: the field as its page labels it, and what is wrong with it
in the office's language (pydantic's own `loc` and `msg` name API fields and its type tags: `constrained-str`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.i18n import translator
from api.console.web import render
from processes.errors import StagecoachError

Translate = Callable[[str], str]
ECHOED = 40  # characters of a name the user wrote, shown back in a message


def shortened(value: object) -> str:
    written = str(value)
    return written if len(written) <= ECHOED else written[:ECHOED] + "…"


def _field(loc: tuple[Any, ...], labels: Mapping[str, str], _: Translate) -> str:
    if loc and loc[0] == "answers":  # ("answers", name, "constrained-str") or ("answers", name, "[key]")
        if len(loc) == 1:
            return _("Answers")
        if "[key]" in loc:
            return _("Answer names")
        return _("Answer '{name}'").format(name=shortened(loc[1]))
    return labels.get(str(loc[0]), shortened(loc[0])) if loc else _("The form")


UNSEEN = ("holds a character no one can see ({code}: a control character, or one that reorders the text after it): "
          "remove it")
_UNSEEN = re.compile(re.escape(UNSEEN).replace(re.escape("{code}"), r"(?P<code>U\+[0-9A-F]{4,6})"))


def _what(error: Mapping[str, Any], _: Translate) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "string_too_long":
        return _("at most {n} characters").format(n=ctx["max_length"])
    if kind == "string_too_short":
        return _("required") if ctx["min_length"] == 1 else _("at least {n} characters").format(n=ctx["min_length"])
    if kind == "too_long":
        return _("at most {n}").format(n=ctx["max_length"])
    if kind == "missing":
        return _("required")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("a whole number")
    if kind in ("greater_than_equal", "greater_than"):
        return _("at least {n}").format(n=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return _("at most {n}").format(n=ctx.get("le", ctx.get("lt")))
    if kind in ("literal_error", "enum"):
        return _("not one of the choices")
    if kind == "string_pattern_mismatch":
        return _("not written as expected")
    if kind == "value_error" and "not a valid email address" in str(error["msg"]):  # email-validator's words after it
        return _("not a valid email address")
    said = str(error["msg"]).removeprefix("Value error, ")  # a validator's own words, not pydantic's prefix
    if unseen := _UNSEEN.fullmatch(said):  # processes.sent_values.seen, with the character's code
        return _(UNSEEN).format(code=unseen["code"])
    return _(said)


def field_error(exc: ValidationError, _: Translate, labels: Mapping[str, str] | None = None,
                hints: Mapping[str, str] | None = None) -> str:
    """Each field's mistake (the first five) as `Label: what is wrong`, joined by `; `: all at once, not one per try;
    `labels` names the form's fields as the page does, `hints` says what a field takes where that is clearer than
    what was wrong (`a whole number of days from 1 to 3650`)."""
    said: dict[str, str] = {}  # by field: a value a union refused fails each of its kinds; the first one says it
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        hint = (hints or {}).get(str(loc[0])) if loc else None
        field = _field(loc, labels or {}, _)
        said.setdefault(field, f"{field}: {hint or _what(error, _)}")
    return "; ".join(list(said.values())[:5])


# the values of a refusal that are words of the engine (a status, a kind of record or file, an import's advice), shown
# in the office's language
_WORDS = ("status", "kind", "advice")


def refusal(exc: StagecoachError, _: Translate) -> str:
    """A refused request's message in the office's language: its wording translated with its values (a status in the
    console's words), a fixed message by its text; as the API wrote it when the console has no words for it."""
    if exc.wording is None:
        return _(exc.message)
    text, values = exc.wording
    translated = _(text)
    if translated == text:
        return exc.message
    try:
        return translated.format(**{name: _(value) if name in _WORDS else value for name, value in values.items()})
    except (KeyError, IndexError, ValueError):  # words that name a value the refusal does not carry
        return exc.message


def said_in(exc: Exception, locale: str) -> str:
    """What a refused request says, in the office's language (`locale`): a StagecoachError by `refusal`, another
    (a form's own refusal, already in the office's words) as it is."""
    if isinstance(exc, StagecoachError):
        return refusal(exc, translator(locale))
    return str(getattr(exc, "message", exc))


def not_found_page(request: Request, settings: Any, what: str, exc: StagecoachError) -> HTMLResponse:
    """The console's "not found" page for what a lookup refused (a `get_..._or_404`): `what` is what was asked for,
    `exc` says why, in the office's language."""
    return render(request, settings, "not_found.html", status=exc.status, what=what,
                  message=said_in(exc, settings.locale))
