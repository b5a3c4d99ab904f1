"""Rendering user text: normal output, strict undefined with the path, and refused bombs and escapes."""

from __future__ import annotations

import gc
import re
import sys
import time

import pytest

from processes.errors import RenderError
from processes.rendering import MAX_OUTPUT_CHARS, evaluate_condition, render_text

WHERE = "phases[1].actions[0].send_email.body"
AT = "^" + re.escape(f"{WHERE}: ")
CONTEXT = {
    "record": {"id": 123456, "title": "Flat in Via Roma",
               "fields": {"area": {"m2": 80}, "rooms": ["kitchen", "bath"], "price": 250000},
               "owner": {"name": "Maria Rossi", "handle": "maria"}},
    "phase": {"name": "Call", "deadline": "2026-12-01"},
}


def test_renders_nested_values_loops_and_conditions() -> None:
    source = (
        "{{ record.title }}, {{ record.fields.area.m2 }} m2, owner {{ record.owner.name }}:"
        "{% for room in record.fields.rooms %} {{ loop.index }}.{{ room }}{% endfor %}"
        "{% if record.fields.area.m2 > 50 %} (large){% endif %}, due {{ phase['deadline'] }}\n"
    )
    assert render_text(source, CONTEXT, where=WHERE) == (
        "Flat in Via Roma, 80 m2, owner Maria Rossi: 1.kitchen 2.bath (large), due 2026-12-01\n"
    )


@pytest.mark.parametrize(("source", "missing"), [
    ("Dear {{ contact.title }}", "'contact' is undefined"),
    ("{{ record.fields.budget }}", "has no attribute 'budget'"),
    ("{% for x in record.missing %}{% endfor %}", "has no attribute 'missing'"),
])
def test_undefined_is_an_error_naming_the_variable_and_where(source: str, missing: str) -> None:
    with pytest.raises(RenderError) as caught:
        render_text(source, CONTEXT, where=WHERE)
    assert caught.value.message.startswith(f"{WHERE}: ")
    assert missing in caught.value.message


def test_syntax_error_names_where_and_line() -> None:
    with pytest.raises(RenderError, match=rf"{AT}template syntax error at line 2: "):
        render_text("Hello\n{{ record.title }", CONTEXT, where=WHERE)


def test_syntax_error_without_where_has_no_prefix() -> None:
    with pytest.raises(RenderError, match="^template syntax error at line 1: "):
        render_text("{{ record.title }", CONTEXT)


@pytest.mark.parametrize("source", [
    "{{ 'a' * 10**9 }}",
    "{{ 9**9**9 }}",
    "{{ 'x'|center(10**9) }}",
    "{{ 'x'.ljust(10**8) }}",
    "{{ '%999999999s' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '%*s' % (10**8, 'x') }}",
    "{{ range(10**9)|list }}",
    "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}xxxxx{% endfor %}",
    "{% for i in range(10000) %}{{ 'x' * 30 }}{% endfor %}",
])
def test_resource_bombs_are_refused(source: str) -> None:
    with pytest.raises(RenderError, match=rf"{AT}refused: "):
        render_text(source, CONTEXT, where=WHERE)


def test_output_is_bounded() -> None:
    assert len(render_text("{% for i in range(10000) %}{{ 'x' * 20 }}{% endfor %}", CONTEXT)) == MAX_OUTPUT_CHARS
    with pytest.raises(RenderError, match=f"output longer than {MAX_OUTPUT_CHARS} characters"):
        render_text("{% for i in range(10000) %}{{ 'x' * 20 }}{% endfor %}!", CONTEXT)


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ record.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ dict.__subclasses__() }}",
    "{{ record|attr('__class__') }}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
])
def test_sandbox_escapes_are_refused_without_leaking(source: str) -> None:
    tracer = sys.gettrace()
    with pytest.raises(RenderError, match=rf"{AT}refused: access to attribute '__\w+__' of .* is unsafe") as caught:
        render_text(source, CONTEXT, where=WHERE)
    assert "<" not in caught.value.message  # no <class ...>, <module ...> or <function ...>
    assert sys.gettrace() is tracer
    assert render_text("{{ record.title }}", CONTEXT) == "Flat in Via Roma"


def test_conditions_have_the_same_bounds() -> None:
    assert evaluate_condition("record.fields.price > 100000 and 'bath' in record.fields.rooms", CONTEXT) is True
    for source, message in [("'a' * 10**9", "refused: repeating"), ("''.__class__", "refused: access"),
                            ("record.missing > 1", "the record has no attribute 'missing'")]:
        with pytest.raises(RenderError, match=AT + re.escape(message)):
            evaluate_condition(source, CONTEXT, where=WHERE)


def test_a_condition_on_a_value_not_there_yet_is_false() -> None:
    assert evaluate_condition("record.missing == 'yes'", CONTEXT) is False
    assert evaluate_condition("record.missing is not defined", CONTEXT) is True


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ '%d EUR'|format(record.fields.price) }}", "250000 EUR"),
    ("{{ 'Record {}'.format(record.id) }}", "Record 123456"),
    ("{{ 'Order 1234567: %s' % record.title }}", "Order 1234567: Flat in Via Roma"),
    ("{{ 'Call 0612345678 about {}'.format(record.title) }}", "Call 0612345678 about Flat in Via Roma"),
])
def test_ordinary_numbers_are_not_refused(source: str, expected: str) -> None:
    assert render_text(source, CONTEXT) == expected


def test_garbage_collections_during_a_render_are_not_counted_against_it() -> None:
    """A collection walks the whole process's heap: in a large process (a test worker holding millions of objects)
    one can take seconds of processor time, which a small render must not be refused for."""
    burned: list[float] = []

    def slow_collection(phase: str, info: dict[str, int]) -> None:  # as a collection over a large heap would be
        if phase == "start" and len(burned) < 5:
            until = time.thread_time() + 0.3
            while time.thread_time() < until:
                pass
            burned.append(0.3)

    gc.callbacks.append(slow_collection)
    try:
        text = render_text("{% set rows = range(4000)|batch(1)|list %}{% for row in rows %}{{ row|length }}{% endfor %}",
                           CONTEXT, where=WHERE)  # 4,000 lists kept: collections while they are made
    finally:
        gc.callbacks.remove(slow_collection)
    assert sum(burned) == pytest.approx(1.5) and text == "1" * 4000


# Each of these allocated a gigabyte or more before the bounds were checked ahead of allocation.
@pytest.mark.parametrize("source", [
    "{{ (['a' * 99999] * 99999)|join }}",
    "{{ ['a' * 99999] * 99999 }}",
    "{{ ('a' * 99999).join(['x'] * 99999) }}",
    "{{ ('a' * 99999)|replace('a', 'a' * 99999) }}",
    "{{ ('%99999s' * 14000) % ((1,) * 14000) }}",
    "{{ ('\t' * 99999).expandtabs(10000) }}",
    "{{ ('a' * 99999).translate({97: 'b' * 99999}) }}",
    "{{ ('a b ' * 25000)|wordwrap(1, wrapstring='x' * 99999) }}",
    "{{ ('x\n' * 49999)|indent('a' * 99999) }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
])
def test_large_allocations_are_refused_before_they_happen(source: str) -> None:
    with pytest.raises(RenderError, match="refused: "):
        render_text(source, CONTEXT, where=WHERE)


def test_attr_reads_as_a_dot_does() -> None:
    """`record|attr('title')` is `record.title` (Jinja's own `attr` reads attributes only: the record, given as a
    mapping, had none, and every render failed); a private name is still refused"""
    assert render_text("{{ record|attr('title') }} {{ record.fields|attr('price') }}", CONTEXT, where=WHERE) == \
        "Flat in Via Roma 250000"
    with pytest.raises(RenderError, match="unsafe"):
        render_text("{{ record|attr('__class__') }}", CONTEXT, where=WHERE)
