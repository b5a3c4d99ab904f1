"""The constant parts of texts are tried when saved, within the save's time: the texts it had no time left for are
noted by path, for the answer to say so."""

from __future__ import annotations

from typing import Any

import pytest

from processes import validation
from processes.trials import NOTED_PATHS, noting_untried, untried_note
from processes.validation import validate_template


def _template(texts: list[str]) -> dict[str, Any]:
    return {"key": "pratica", "name": "Pratica", "controller_email": "c@agency.example", "record_kind": "lead",
            "phases": [{"key": "a", "name": "Apertura", "actions": [{"add_history": {"text": t}} for t in texts]}]}


def test_texts_left_untried_for_lack_of_time_are_noted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the save's time for trials, the texts with a constant part are left to run time, and noted by path"""
    monkeypatch.setattr(validation, "TRIAL_SECONDS", -1.0)  # no time at all: nothing is tried
    texts = ["Pratica aperta per {{ record.title }}",  # reads a variable only: nothing to try
             "{% for i in range(3) %}Promemoria n. {{ i }} {% endfor %}",
             "Città: {{ record.fields.città }}",
             "{{ 'è troppo lungo' * 10**9 }}"]
    with noting_untried() as untried:
        validate_template(_template(texts))
    assert untried == [f"phases[0].actions[{j}].add_history.text" for j in (1, 3)]
    [note] = untried_note(untried)
    assert note.startswith("2 texts were not tried when saved (the 2 s a save has to try texts ran out): "
                           "phases[0].actions[1].add_history.text, phases[0].actions[3].add_history.text; ")
    assert "checked when they render" in note


def test_with_time_the_same_texts_are_tried_and_none_is_noted() -> None:
    texts = ["{% for i in range(3) %}Promemoria n. {{ i }} {% endfor %}", "Nota: {{ 'già vista' | upper }}"]
    with noting_untried() as untried:
        validate_template(_template(texts))
    assert untried == [] and untried_note(untried) == []


def test_a_note_names_the_first_untried_texts_and_counts_the_others() -> None:
    paths = [f"phases[{i}].actions[0].add_history.text" for i in range(NOTED_PATHS + 5)]
    [note] = untried_note(paths)
    assert note.startswith(f"{NOTED_PATHS + 5} texts were not tried")
    assert f"{paths[NOTED_PATHS - 1]} and 5 more; " in note and paths[NOTED_PATHS] not in note
    assert untried_note(paths[:1])[0].startswith(f"1 text was not tried when saved (the 2 s a save has to try "
                                                 f"texts ran out): {paths[0]}; ")
