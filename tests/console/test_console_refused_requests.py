"""A staff request the process refuses is said in the office's language: the refusal's text with its values (the
phase's key as written, its status in the console's words), not the API's English. (On the process page, in
Italian: test_console_process_skips.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

from api.console.i18n import translator
from api.console.refusals import refusal
from processes.errors import InvalidPhaseState, ProcessFinished

ROOT = Path(__file__).resolve().parents[2]


def _refusal_texts() -> set[str]:
    """The texts of every worded refusal: `_refuse(Error, "text", ...)` in the workflow, `.worded("text", ...)`."""
    found = set()
    for path in [ROOT / "workflows" / "staff_requests.py", *(ROOT / "api").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            args = node.args[1:] if name == "_refuse" else node.args if name == "worded" else []
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                found.add(args[0].value)
    return found


def test_every_worded_refusal_has_its_italian() -> None:
    """A refusal's text changed in English without its Italian would show in English: each one is in the table"""
    texts = _refusal_texts()
    assert "phase '{phase}' is already {status}" in texts and "task {task} is already {status}" in texts
    _ = translator("it")
    assert not [text for text in texts if _(text) == text]


def test_a_refusal_without_its_words_stays_as_written() -> None:
    """A fixed message is looked up whole; one the console has no words for, or from a process that sent no
    wording (code before it), is shown as the API wrote it"""
    _ = translator("it")
    assert refusal(ProcessFinished("the process is being aborted"), _) == "il processo è in corso di interruzione"
    assert refusal(InvalidPhaseState("phase 'x' is already done"), _) == "phase 'x' is already done"
    worded = InvalidPhaseState.worded("task {task} is already {status}", task=7, status="done")
    assert worded.message == "task 7 is already done"
    assert refusal(worded, _) == "l'attività 7 è già chiusa (stato: fatto)"
    assert refusal(worded, translator("en")) == "task 7 is already done"
