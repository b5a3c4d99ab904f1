"""Checking a client's answers (crm/client_requests/answers.py) without a form: numbers read in the form's language,
choices whatever spaces surround their options, text answers' line breaks counted and kept as one character."""

from __future__ import annotations

from typing import Any

import re

import pytest

from api.client_forms.i18n import LANGUAGES
from crm.client_requests.answers import check

NUMBER = [{"key": "n", "type": "number", "label": "Importo"}]

# (language, as written, as read)
NUMBERS: list[tuple[str, str, int | float]] = [
    ("it", "1.250", 1250), ("it", "1.250,50", 1250.5), ("it", "1,5", 1.5), ("it", "2", 2), ("it", "1250,50", 1250.5),
    ("it", "1,250", 1.25), ("it", "1 250,5", 1250.5), ("it", "1.250.000", 1_250_000), ("it", "-12", -12),
    ("it", "+3", 3), ("it", " 0,10 ", 0.1),
    ("de", "1.250", 1250), ("de", "1.250,50", 1250.5), ("de", "1 250,5", 1250.5),
    ("fr", "1 250,50", 1250.5), ("fr", "1\u202f250,5", 1250.5), ("fr", "1\u00a0250", 1250), ("fr", "1,5", 1.5),
    ("en", "1,250", 1250), ("en", "1,250.50", 1250.5), ("en", "1250.50", 1250.5), ("en", "1 250.5", 1250.5),
]

# (language, as written): malformed or ambiguous there
NOT_NUMBERS: list[tuple[str, str]] = [
    ("it", "1.2.3"), ("it", "1250.50"), ("it", "12.5"), ("it", "1.25,5"), ("it", "1,250.50"), ("it", "1 25"),
    ("it", "1e5"), ("it", "NaN"), ("it", "due"), ("it", "-"), ("it", "1'250"),
    ("de", "1.2.3"), ("de", "12.5"),
    ("fr", "1.250"), ("fr", "1.250,50"),
    ("en", "1.2.3"), ("en", "1,5"), ("en", "1.250,50"), ("en", "Infinity"),
]


@pytest.mark.parametrize(("language", "text", "number"), NUMBERS)
def test_a_number_is_read_as_written_in_the_form_language(language: str, text: str, number: float) -> None:
    checked = check(NUMBER, {"n": [text]}, {}, 1000, language)
    assert checked.problems == {} and checked.answers == {"n": number}
    assert type(checked.answers["n"]) is type(number)


@pytest.mark.parametrize(("language", "text"), NOT_NUMBERS)
def test_a_number_malformed_or_ambiguous_in_the_form_language_is_refused(language: str, text: str) -> None:
    checked = check(NUMBER, {"n": [text]}, {}, 1000, language)
    assert checked.answers == {} and {k: p.message for k, p in checked.problems.items()} == {"n": "e_number"}


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_numbers_of_the_hint_and_the_message_are_read_in_their_language(language: str) -> None:
    for key in ("number_hint", "e_number"):
        examples = re.findall(r"\d[\d.,\u00a0]*\d|\d", LANGUAGES[language][key])
        assert len(examples) == 2, examples
        checked = check([{**NUMBER[0], "key": "a"}, {**NUMBER[0], "key": "b"}],
                        {"a": [examples[0]], "b": [examples[1]]}, {}, 1000, language)
        assert checked.problems == {} and checked.answers == {"a": 2, "b": 1250.5}, (key, examples)


def test_a_number_too_large_is_told_apart() -> None:
    checked = check(NUMBER, {"n": ["1.000.000.000.000.000"]}, {}, 1000, "it")
    assert checked.problems["n"].message == "e_number_range"


def test_an_option_with_spaces_around_it_can_be_chosen() -> None:
    """A request copied from a template saved before options were trimmed: its options keep their spaces, the browser
    sends them, the answer is compared without them"""
    questions: list[dict[str, Any]] = [
        {"key": "c", "type": "choice", "label": "Scelta", "options": ["  spazi  ", "altro"], "required": True},
        {"key": "m", "type": "multi_choice", "label": "Più", "options": [" uno", "due "], "required": True}]
    checked = check(questions, {"c": ["  spazi  "], "m": [" uno", "due "]}, {}, 1000, "it")
    assert checked.problems == {}
    assert checked.answers == {"c": "  spazi  ", "m": [" uno", "due "]}  # the options as the template has them
    checked = check(questions, {"c": ["spazi"], "m": ["uno"]}, {}, 1000, "it")
    assert checked.problems == {} and checked.answers == {"c": "  spazi  ", "m": [" uno"]}
    assert check(questions, {"c": ["spaz"], "m": ["uno"]}, {}, 1000, "it").problems["c"].message == "e_option"


def test_a_question_of_one_answer_sent_several_is_refused() -> None:
    """A crafted post (no page draws two fields for one question) sending two options for a choice, or two texts: it
    took the first, and kept nothing of the second"""
    questions: list[dict[str, Any]] = [
        {"key": "c", "type": "choice", "label": "Scelta", "options": ["sì", "no"]},
        {"key": "t", "type": "text", "label": "Nome"}, {"key": "n", "type": "number", "label": "Quanti"},
        {"key": "m", "type": "multi_choice", "label": "Più", "options": ["uno", "due"]}]
    checked = check(questions, {"c": ["sì", "no"], "t": ["Anna", "Bruno"], "n": ["2", ""], "m": ["uno", "due"]},
                    {}, 1000, "it")
    assert {key: problem.message for key, problem in checked.problems.items()} == {"c": "e_one_answer",
                                                                                   "t": "e_one_answer"}
    assert checked.answers == {"n": 2, "m": ["uno", "due"]}  # an empty second value is no answer


def test_line_breaks_count_as_one_character_and_are_kept_as_lf() -> None:
    """Browsers send a textarea's line breaks as CRLF, and count each as one character against its maxlength"""
    questions: list[dict[str, Any]] = [{"key": "l", "type": "long_text", "label": "Note"},
                                       {"key": "t", "type": "text", "label": "Riga"}]
    lines = ["x" * 99] * 100  # 9,900 characters and 99 line breaks
    sent = "\r\n".join(lines)
    assert len(sent.replace("\r\n", "\n")) == 9_999 and len(sent) == 10_098
    checked = check(questions, {"l": [sent], "t": ["a\rb"]}, {}, 1000, "it")
    assert checked.problems == {}
    assert checked.answers == {"l": "\n".join(lines), "t": "a\nb"}
    over = check(questions, {"l": [sent + "\r\nxx"]}, {}, 1000, "it")
    assert over.problems["l"].message == "e_too_long" and over.answers == {}
