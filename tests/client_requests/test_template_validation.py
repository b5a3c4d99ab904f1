"""Client request templates are validated at save: every error with its path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crm.client_requests.questions import RequestTemplateInvalid, validate_template, validate_text

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "it" / "client-requests" / "documenti-dichiarazione-redditi.yaml"
LIMIT = 20_000_000


def _with(**question: object) -> dict[str, object]:
    return {"key": "t", "title": "T", "questions": [{"key": "q", "label": "Q", **question}]}


# each case: the template, and (path, part of the message) of each error expected
INVALID: dict[str, tuple[dict[str, object], list[tuple[str, str]]]] = {
    "no-title": ({"key": "t", "questions": [{"key": "q", "type": "text", "label": "Q"}]},
                 [("title", "required field missing")]),
    "no-questions": ({"key": "t", "title": "T", "questions": []}, [("questions", "at least 1")]),
    "bad-key": ({"key": "Tax Return", "title": "T", "questions": [{"key": "q", "type": "text", "label": "Q"}]},
                [("key", "pattern")]),
    "unknown-type": (_with(type="signature"), [("questions[0].type", "'text'")]),
    "unknown-field": (_with(type="text", placeholder="x"), [("questions[0].placeholder", "unknown field")]),
    "empty-label": (_with(type="text", label=""), [("questions[0].label", "at least 1")]),
    "choice-without-options": (_with(type="choice"), [("questions[0].options", "at least two")]),
    "options-on-text": (_with(type="text", options=["a", "b"]), [("questions[0].options", "only a choice")]),
    "option-twice": (_with(type="multi_choice", options=["a", "b", "a"]),
                     [("questions[0].options[2]", "'a' is there twice")]),
    "option-twice-once-trimmed": (_with(type="choice", options=["a", "b", " a  "]),
                                  [("questions[0].options[2]", "'a' is there twice")]),
    "option-only-spaces": (_with(type="choice", options=["a", "   "]),
                           [("questions[0].options[1]", "an option is 1 to 200 characters")]),
    "accept-on-number": (_with(type="number", accept=["application/pdf"]), [("questions[0].accept", "only a file")]),
    "unknown-file-kind": (_with(type="file", accept=["application/x-msdownload"]),
                          [("questions[0].accept[0]", "not a kind of file kept")]),
    "file-over-limit": (_with(type="file", max_bytes=LIMIT + 1),
                        [("questions[0].max_bytes", "CLIENT_REQUEST_MAX_FILE_BYTES")]),
    "bad-language": ({**_with(type="text"), "language": "Italiano"}, [("language", "pattern")]),
    "key-twice": ({"key": "t", "title": "T", "questions": [{"key": "q", "type": "text", "label": "A"},
                                                            {"key": "q", "type": "date", "label": "B"}]},
                  [("questions[1].key", "keys are unique")]),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_template_is_refused_with_each_error_at_its_path(name: str) -> None:
    template, expected = INVALID[name]
    with pytest.raises(RequestTemplateInvalid) as caught:
        validate_template(template, LIMIT)
    found = [(d.path, d.message) for d in caught.value.details]
    for path, part in expected:
        assert any(p == path and part in m for p, m in found), (path, part, found)


def test_every_error_is_reported_at_once() -> None:
    template = {"key": "t", "title": "T", "questions": [
        {"key": "a", "type": "choice", "label": "A"},
        {"key": "a", "type": "file", "label": "B", "max_bytes": LIMIT * 2}]}
    with pytest.raises(RequestTemplateInvalid) as caught:
        validate_template(template, LIMIT)
    assert [d.path for d in caught.value.details] == ["questions[0].options", "questions[1].key",
                                                      "questions[1].max_bytes"]


def test_options_are_kept_without_the_spaces_around_them() -> None:
    """The form compares a stripped answer with its options: an option saved with spaces around it could never be
    chosen"""
    template = validate_template(_with(type="choice", required=True, options=["  spazi  ", "altro\t"]), LIMIT)
    assert template.questions[0].options == ["spazi", "altro"]
    assert template.model_dump(mode="json")["questions"][0]["options"] == ["spazi", "altro"]


def test_yaml_that_does_not_parse_says_where() -> None:
    with pytest.raises(RequestTemplateInvalid, match="not valid YAML or JSON at line 3"):
        validate_text("key: t\ntitle: [unclosed\n", LIMIT)


def test_the_example_validates() -> None:
    template = validate_template(yaml.safe_load(EXAMPLE.read_text()), LIMIT)
    assert template.language == "it"
    assert {q.type for q in template.questions} == {"text", "long_text", "number", "date", "choice", "multi_choice",
                                                    "yes_no", "file"}
