"""User text at run time: escapes never render data, values are never evaluated, bombs stay within bounds."""

from __future__ import annotations

import re
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activities.step import StepInput, person, record_vars, render_variables
from crm.models import Record, User
from processes.errors import RenderError
from processes import rendering
from processes.rendering import MAX_OUTPUT_CHARS, evaluate_condition, render_text
from processes.template_basics import RecordKind
from processes.validation import TEXT_FIELDS, parse_document
from tests.factories import Factory
from tests.figures import Figures
from tests.processes.test_templates import HERE
from tests.workflows import helpers

INVALID = HERE / "invalid"
SECRET = "s3cr3t-" + uuid.uuid4().hex[:8]  # in the record: no escape may print it
# values that look like templates: printed as they are, never evaluated
TEMPLATE_LOOKING_VALUES = {
    "title": "{{ 7 * 7 }} {% for i in range(3) %}x{% endfor %}",
    "note": "{{ ''.__class__.__mro__ }}{{ cycler.__init__.__globals__ }}",
    "bomb": "{{ 'a' * 10**9 }}{% for i in range(10**9) %}{% endfor %}",
    "raw": "{% raw %}{{ record.fields.secret }}{% endraw %}",
}


def texts(path: Path) -> Iterator[tuple[str, str, bool]]:
    """(where, source, is a condition) of every piece of user text in a corpus file."""
    document = parse_document(path.read_text())
    for i, phase in enumerate(document.get("phases", [])):
        for j, action in enumerate(phase.get("actions") or []):
            for kind, spec in action.items():
                for name, value in (spec or {}).items():
                    if name in TEXT_FIELDS and isinstance(value, str):
                        yield f"phases[{i}].actions[{j}].{kind}.{name}", value, False
                    if name == "values":
                        for field, text in value.items():
                            yield f"phases[{i}].actions[{j}].{kind}.values.{field}", text, False
        for b, branch in enumerate(phase.get("decision") or []):
            yield f"phases[{i}].decision[{b}].when", branch["when"], True


def refused_texts(pattern: str) -> list[tuple[str, str, bool]]:
    """The texts of the corpus files matching `pattern` that their .error file names."""
    return [text for path in sorted(INVALID.glob(pattern)) for text in texts(path)
            if text[0] in path.with_suffix(".error").read_text()]


ESCAPES = refused_texts("escape_*.yaml") + [
    (f"extra[{n}]", source, False) for n, source in enumerate([
        "{{ record.__class__ }}",
        "{{ record.fields|attr('__class__') }}",
        "{{ record.title.__class__.__mro__[1].__subclasses__() }}",
        "{{ '{0.__class__.__init__.__globals__}'.format(record.title) }}",
        "{{ '{0[fields]}'.format(record) }}{{ '{.__class__}'.format(owner.name) }}",
        "{{ (record.fields.items()|list)[0][1].__class__ }}",
        "{{ owner.email|attr('__class__')|attr('__base__') }}",
        "{{ record.fields|map(attribute='__class__')|list }}",
        "{% set f = record.title.format %}{{ f.__self__.__class__ }}",
        "{{ record.title.format_map(record) }}{{ record.title.__len__() }}",
        "{{ now.__class__.__module__ }}",
        "{{ record.title.expandtabs(10**6) }}",
        "{% for k, v in record.fields.items() %}{{ v.__class__ }}{% endfor %}",
        "{{ namespace.__init__.__globals__['__builtins__'] }}",
        "{{ joiner.__init__.__globals__ }}",
    ])]

BOMBS = refused_texts("bomb_*.yaml") + [
    (f"extra[{n}]", source, False) for n, source in enumerate([
        "{{ record.title * 10**9 }}",
        "{{ record.title|center(record.id * 10**9) }}",
        "{{ record.fields.big * record.fields.big }}",
        "{{ record.fields.big ** 1000 }}",
        "{% for i in range(record.fields.n * 10**5) %}{% endfor %}",
        "{% for i in range(record.fields.n) %}{% for j in range(record.fields.n) %}{% endfor %}{% endfor %}",
        "{% for i in range(10000) %}{{ record.title ~ record.title }}{% endfor %}",
        "{% for i in range(record.fields.n) %}{{ record.fields.long }}{% endfor %}",
        "{{ (record.fields.long ~ record.fields.long)|replace('x', record.fields.long) }}",
        "{{ ([record.fields.long] * 10**4)|join(record.fields.long) }}",
        "{{ '%*s' % (record.fields.n * 100, 'x') }}",
        "{{ record.fields.lines|indent(record.fields.n) }}",
        "{{ record.fields.lines|indent(record.fields.long[:999], true) }}",
    ])]


@pytest.fixture
async def variables(factory: Factory, sessions: Any) -> dict[str, Any]:
    """What an action renders with, loaded from the database by the activities' own code."""
    owner = await factory.user("Maria {{ 7*7 }}")
    record = await factory.record(owner, title=TEMPLATE_LOOKING_VALUES["title"],
                                  fields={**TEMPLATE_LOOKING_VALUES, "secret": SECRET, "n": 10_000,
                                          "big": 10**70, "long": "x" * 5_000,
                                          "lines": "x\n" * 40_000})
    step = StepInput(step_key="wf/p/0/1", workflow_id="wf", record_id=record.id, owner_id=owner.id,
                     template_key="t", template_name="T", template_version=1, controller_email="c@agency.example",
                     process_started_at=datetime.now(UTC), phase_key="p", phase_name="P", responsible_id=owner.id)
    async with sessions() as session:
        return await render_variables(session, step, datetime.now(UTC))


def _leaks(text: str) -> bool:
    """Whether text shows a secret value or the insides of Python (classes, modules, functions, addresses)."""
    return SECRET in text or bool(re.search(r"<(class|module|function|built-in|bound|method)|0x[0-9a-f]{6,}", text))


def _render(where: str, source: str, condition: bool, variables: dict[str, Any]) -> str:
    if condition:
        return str(evaluate_condition(source, variables, where=where))
    return render_text(source, variables, where=where)


async def test_escapes_never_render_data(variables: dict[str, Any], figures: Figures) -> None:
    """Sandbox escapes render no data at run time, with real values; values are never evaluated"""
    leaked, refused = [], 0
    for where, source, condition in ESCAPES:
        try:
            output = _render(where, source, condition, variables)
        except RenderError as exc:
            refused += 1
            assert exc.message.startswith(f"{where}: "), exc.message
            if "<" in exc.message or _leaks(exc.message):
                leaked.append(f"{source}: {exc.message}")
        else:  # `{{ self }}` (refused when saved) prints '<TemplateReference None>': nothing of the process
            if _leaks(output):
                leaked.append(f"{source} rendered {output!r}")
    assert not leaked, "\n".join(leaked)
    assert refused >= len(ESCAPES) - 1
    # values that look like templates come out as they are, however they are read
    shown = render_text("{{ record.title }}|{{ record.fields.note }}|{{ record.fields.bomb }}|"
                        "{{ record.fields.raw }}|{{ owner.name }}", variables)
    assert shown == "|".join([TEMPLATE_LOOKING_VALUES[k] for k in ("title", "note", "bomb", "raw")] +
                             ["Maria {{ 7*7 }}"])
    assert evaluate_condition("record.title == '{{ 7 * 7 }} {% for i in range(3) %}x{% endfor %}'", variables)
    figures["escape attempts rendered"] = len(ESCAPES)
    figures["refused"] = refused
    figures["rendered data"] = len(leaked)


def test_bombs_are_refused_within_bounds(figures: Figures, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resource bombs are refused at run time within the bounds of time, output and memory"""
    owner = User(id=7, handle="maria", name="Maria Rossi", email="maria@agency.example")
    record = Record(id=42, kind=RecordKind.lead, title=TEMPLATE_LOOKING_VALUES["title"], owner_id=7,
                    fields={**TEMPLATE_LOOKING_VALUES, "n": 10_000, "big": 10**70, "long": "x" * 5_000,
                            "lines": "x\n" * 40_000})
    variables = {"record": record_vars(record, owner), "owner": person(owner), "responsible": person(owner),
                 "now": datetime.now(UTC)}
    longest = peak = 0
    slowest = 0.0
    for where, source, condition in BOMBS:
        tracemalloc.start()
        started = time.perf_counter()
        try:
            with pytest.raises(RenderError, match="refused: ") as caught:
                _render(where, source, condition, variables)
        finally:
            slowest = max(slowest, time.perf_counter() - started)
            peak = max(peak, tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        assert caught.value.message.startswith(f"{where}: ")
        longest = max(longest, len(caught.value.message))
    # the largest output allowed, and one character more (the output bound, not the time budget, however busy
    # the machine is)
    monkeypatch.setattr(rendering, "RENDER_SECONDS", 120.0)
    at_bound = "{% for i in range(10000) %}{{ record.title[:1] * 20 }}{% endfor %}"
    longest_output = len(render_text(at_bound, variables))
    with pytest.raises(RenderError, match=f"output longer than {MAX_OUTPUT_CHARS} characters"):
        render_text(at_bound + ".", variables)
    assert longest_output == MAX_OUTPUT_CHARS and longest < 1_000
    assert peak < 64 * 1024 * 1024
    figures["bombs rendered"] = len(BOMBS)
    figures["refused"] = len(BOMBS)
    figures["max render time (s)"] = round(slowest, 3)
    figures["max render output (chars)"] = longest_output
    figures["output bound (chars)"] = MAX_OUTPUT_CHARS
    figures["longest error message (chars)"] = longest
    figures["peak memory of a render (MiB)"] = round(peak / 1024 / 1024, 1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_process_writes_template_looking_values_as_they_are(
        dev_env: Any, sessions: Any, factory: Factory, task_queue: str, figures: Figures) -> None:
    """A running process prints record values that look like templates as they are, never evaluating them"""
    owner = await factory.user("Maria {{ 7*7 }}")
    record = await factory.record(owner, title=TEMPLATE_LOOKING_VALUES["title"],
                                  fields={**TEMPLATE_LOOKING_VALUES, "secret": SECRET})
    text = "{{ record.title }}|{{ record.fields.note }}|{{ record.fields.bomb }}|{{ record.fields.raw }}"
    document = helpers.template({"key": "note", "name": "Note", "actions": [
        {"add_history": {"text": text}},
        {"write_values": {"values": {"copy": "{{ record.fields.bomb }}"}}},
        {"send_email": {"to": "owner@agency.example", "subject": "{{ owner.name }}", "body": text}}]})
    async with helpers.running_worker(dev_env.client, sessions, task_queue):
        handle = await helpers.start(dev_env.client, task_queue, document, record.id, owner.id)
        result = await handle.result()
    expected = "|".join(TEMPLATE_LOOKING_VALUES[k] for k in ("title", "note", "bomb", "raw"))
    notes = [entry.text for entry in await helpers.history(sessions, handle.id)]
    [email] = await helpers.outbox(sessions, handle.id)
    saved = await factory.get(Record, record.id)
    assert result.status.value == "completed"
    assert expected in notes
    assert (email.subject, email.body) == ("Maria {{ 7*7 }}", expected)
    assert saved.fields["copy"] == TEMPLATE_LOOKING_VALUES["bomb"]
    figures["values that look like templates"] = len(TEMPLATE_LOOKING_VALUES) + 1
    figures["evaluated"] = 0
