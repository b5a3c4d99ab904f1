"""Plain text rendered without the render pool (`processes.plain_text`): exactly what the pool renders, or None."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processes.action_kinds import WEBHOOK_BODY
from processes.display import Office
from processes.errors import RenderError
from processes.plain_text import plan, render_plain
from processes.rendering import render_text

OFFICE = Office("it", "Europe/Rome")
VALUES: list[Any] = [0, 7, -12, 10**20, True, False, None, "", "plain", 'quote " and \\ backslash',
                     "<script>&'</script>", "àèì ünï €", "line\nbreak\ttab", "{{ not.rendered }}", "\u2028"]


def variables(value: Any) -> dict[str, Any]:
    return {"process": {"id": "wf-1", "template": "tpl", "template_name": "T", "version": 1,
                        "started_at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC), "controller_email": "c@example.com",
                        "owner": None},
            "phase": {"key": "post", "name": "Post", "started_at": None, "deadline": None},
            "record": {"id": 41, "title": value}}


@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize("source", [
    WEBHOOK_BODY,
    '{"title": {{ record.title | tojson }}, "id": {{ record.id }}}',
    '{"t": "{{ record.title }}"}\n',
    "{{record.title|tojson}}{{ phase.key }}\r\nend {{ process.id | tojson }}",
])
def test_what_it_renders_is_what_the_pool_renders(source: str, value: Any) -> None:
    given = variables(value)
    try:
        expected: str | None = render_text(source, given, where="w", office=OFFICE)
    except RenderError:
        expected = None
    got = render_plain(source, given, OFFICE)
    if got is not None:  # None: left to the pool, always allowed
        assert got == expected
    if source == WEBHOOK_BODY or (type(value) in (str, int) and "| tojson" in source):
        assert got is not None


@pytest.mark.parametrize("source", [
    "{{ record.title | upper }}", "{{ record.id + 1 }}", "{% for x in record.fields %}{{ x }}{% endfor %}",
    "{{ record['title'] }}", "{{ record }}", "{{ record.fields.area }}", "{{ record.title | tojson(2) }}",
    "{% if record.id %}x{% endif %}", "{{ lipsum() }}", "{% set a = 1 %}{{ a }}", "{{ record.id }",
    "{{ 'a' * 100 }}", "{{ record.title ~ 'x' }}", "{# comment #}{{ record.id }}{{ record.missing }}",
])
def test_anything_else_goes_to_the_pool(source: str) -> None:
    given = {"record": {"id": 41, "title": "t", "fields": {"area": {"m2": 80}}}}
    if plan(source) is not None:  # a comment is constant; a missing attribute is found when rendering
        assert render_plain(source, given, OFFICE) is None
    else:
        assert plan(source) is None


@pytest.mark.parametrize("value", [1.5, datetime(2026, 1, 2, tzinfo=UTC), [1, 2], {"a": 1}])
def test_other_value_types_go_to_the_pool(value: Any) -> None:
    assert render_plain('{"v": {{ record.title | tojson }}, "w": {{ record.title }}}', variables(value), OFFICE) \
        is None


def test_an_attribute_of_the_mapping_itself_goes_to_the_pool() -> None:
    # Jinja2 reads an attribute before a key: `record.items` is the method, `record.kind` a class attribute
    given = {"record": {"id": 1, "items": "x", "kind": "lead", "title": "t"}}
    assert render_plain("{{ record.items }}", given, OFFICE) is None
    assert render_plain("{{ record.kind | tojson }}", given, OFFICE) is None
