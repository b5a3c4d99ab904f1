"""A text's methods: a save refuses those the render's sandbox refuses (asked of the sandbox), and only those."""

from __future__ import annotations

import pytest

from processes.errors import ErrorCollector, RenderError
from processes.rendering import render_text
from processes.text_checks import check_text

WHERE = "phases[0].actions[0].add_history.text"
RECORD = {"record": {"title": "Villetta a Forlì", "fields": {"città": "Forlì"}}}
TEXT_METHODS = sorted(name for name in dir("") if not name.startswith("_"))


def _refused_when_saved(source: str) -> list[str]:
    errors = ErrorCollector()
    check_text(WHERE, source, errors)
    return [error.message for error in errors.errors]


def _refused_when_rendered(source: str) -> bool:
    try:
        render_text(source, RECORD, where=WHERE)
    except RenderError as exc:
        return "refused: access to attribute" in exc.message
    return False


@pytest.mark.parametrize("name", TEXT_METHODS)
def test_a_text_method_is_refused_when_saved_exactly_when_a_render_refuses_it(name: str) -> None:
    """Every method of str, read from a text: the save refuses it with its line if and only if the render does"""
    source = f"Gentile cliente,\n{{{{ ('Pratica: ' ~ record.title).{name} }}}}"
    refused = _refused_when_saved(source)
    assert bool(refused) == _refused_when_rendered(source)
    assert all(message.startswith(f"line 2: '.{name}' is not allowed on a text") for message in refused)


@pytest.mark.parametrize("source", [
    "{{ ('\t' ~ record.title).expandtabs(8) }}",
    "Città: {{ record.fields.città.encode('utf-8') }}",
    "{{ record.title.translate({'à': 'a'}) }}",
    "{% if record.title.isascii() %}senza accenti{% endif %}",
    "{{ 'Egregio'.maketrans('à', 'a') }}",
])
def test_a_call_the_sandbox_refuses_on_a_text_is_refused_when_saved(source: str) -> None:
    """A call to a text's method the sandbox refuses, on any value: only a text has it, so every render fails"""
    [message] = _refused_when_saved(source)
    assert message.startswith("line 1: '.") and "()' is not allowed on a text" in message
    assert "upper" in message  # what a text may call instead


@pytest.mark.parametrize("source", [
    "{{ record.title.upper() }} è {{ record.fields.città | lower }}",
    "{{ record.fields.translate }}",  # a free field of that name
    "{{ [1, 2, 2].count(2) }} {{ record.title.replace('Forlì', 'Cesena') }}",
])
def test_what_a_render_allows_saves(source: str) -> None:
    assert _refused_when_saved(source) == []
