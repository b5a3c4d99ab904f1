"""What text shows: objects as a person writes them, dates, numbers and money in the office's language and zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from processes.display import Office
from processes.errors import RenderError
from processes.rendering import evaluate_condition, render_text

DEADLINE = datetime(2026, 12, 2, 13, 30, tzinfo=UTC)  # 14:30 in Rome
VARIABLES = {
    "record": {"id": 7, "title": "Villa on the lake", "kind": "property", "created_at": DEADLINE,
               "owner": {"name": "Maria Rossi", "handle": "maria"},
               "fields": {"price": 450000, "area": 80.5, "rooms": ["kitchen", "bath"], "since": "2026-03-01"}},
    "owner": {"name": "Luca Bianchi", "handle": "luca"},
    "process": {"template_name": "Sale", "started_at": DEADLINE},
    "phase": {"name": "Visit", "deadline": DEADLINE, "started_at": None},
    "now": DEADLINE,
    "answers": {"esito": "sì"},
    "phases": {"visit": {"status": "done", "overdue": False, "iteration": 1}},
}
ROME = Office("it", "Europe/Rome")


def show(source: str, office: Office = ROME) -> str:
    return render_text(source, VARIABLES, office=office)


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ record }}", "Villa on the lake"),
    ("{{ record.owner }} / {{ owner }}", "Maria Rossi / Luca Bianchi"),
    ("{{ process }}, {{ phase }}", "Sale, Visit"),
    ("{{ record.fields.rooms }}", "kitchen, bath"),
    ("{{ phase.started_at }}|{{ phase.started_at ~ '' }}", "|"),  # nothing there: nothing shown
    ("{{ now }}", "2 dicembre 2026, 14:30"),
    ("{{ 'Scade: ' ~ phase.deadline }}", "Scade: 2 dicembre 2026, 14:30"),
    ("{{ record.created_at }}", "2 dicembre 2026, 14:30"),
    ("{{ [record, owner] }}", "Villa on the lake, Luca Bianchi"),
    ("{{ answers.esito }} {{ phases.visit.status }}", "sì done"),
])
def test_values_show_as_a_person_writes_them(source: str, expected: str) -> None:
    assert show(source) == expected


def test_no_value_ever_prints_a_python_repr() -> None:
    text = show("{{ record }}|{{ record.fields }}|{{ now }}|{{ record.owner }}|{{ process }}|{{ phase }}|"
                "{{ answers }}|{{ phases }}|{{ record.created_at|string }}|{{ '%s'|format(now) }}|{{ [now] }}")
    assert not re.search(r"datetime\.|tzinfo|TzInfo|\{'|\['|<\w+|None", text), text


def test_dates_are_in_the_office_time_zone_however_they_are_written() -> None:
    # strftime on now and on the deadline: the same zone as the filters (14:30 in Rome, 13:30 UTC)
    assert show("{{ now.strftime('%H:%M') }} {{ phase.deadline.strftime('%H:%M') }} {{ now|time }}") \
        == "14:30 14:30 14:30"
    assert show("{{ now.hour }}", Office("en", "UTC")) == "13"
    assert show("{{ now|time }}", Office("en", "America/New_York")) == "8:30\u202fAM"


@pytest.mark.parametrize(("locale", "expected"), [
    ("it", "2 dicembre 2026 · 450.000\u00a0€ · 1.234,50\u00a0€ · 80,5 · 14:30"),
    ("fr", "2 décembre 2026 · 450\u202f000\u00a0€ · 1\u202f234,50\u00a0€ · 80,5 · 14:30"),
    ("de", "2. Dezember 2026 · 450.000\u00a0€ · 1.234,50\u00a0€ · 80,5 · 14:30"),
    ("en", "December 2, 2026 · €450,000 · €1,234.50 · 80.5 · 2:30\u202fPM"),
])
def test_filters_write_dates_numbers_and_money_in_the_office_language(locale: str, expected: str) -> None:
    source = ("{{ phase.deadline|date }} · {{ record.fields.price|currency('EUR') }} · {{ 1234.5|currency('EUR') }}"
              " · {{ record.fields.area|number }} · {{ now|time }}")
    assert show(source, Office(locale, "Europe/Rome")) == expected


def test_the_locale_is_overridable_per_filter_and_formats_are_cldr() -> None:
    assert show("{{ now|date('EEEE d MMMM', locale='fr') }}") == "mercredi 2 décembre"
    assert show("{{ now|date(locale='de') }}") == "2. Dezember 2026"
    assert show("{{ now|date('short') }} {{ record.fields.since|date }}") == "02/12/26 1 marzo 2026"
    assert show("{{ record.fields.price|currency }}") == "450.000\u00a0€"  # it: the euro, the locale's currency
    assert show("{{ record.fields.price|currency('CHF', locale='de_CH') }}") == "CHF\u00a0450’000"
    assert show("{{ 0.256|percent(1) }} {{ 3|number(2) }}") == "25,6\u00a0% 3,00".replace("\u00a0%", "%")


def test_numbers_written_as_the_office_writes_them_are_numbers() -> None:
    """A field imported from an Italian spreadsheet holds `4,5` and `9.800,00`: an incident before ("'4,5' is not a
    number"); a number written plainly (`1250.5`, as an API client writes one) is read as before"""
    assert show("{{ '4,5'|number }} · {{ '9.800,00'|currency }} · {{ '1250.5'|number }} · {{ '-0,25'|percent }}") \
        == "4,5 · 9.800\u00a0€ · 1.250,5 · -25%"
    assert show("{{ '1250.5'|number }} · {{ '1,250.5'|number }}", Office("en", "Europe/Rome")) == "1,250.5 · 1,250.5"


@pytest.mark.parametrize(("source", "message"), [
    ("{{ 'NaN'|number }}", "number: 'NaN' is not a number"),
    ("{{ '1e999999'|currency }}", "currency: '1e999999' is too large (more than 21 digits)"),
    ("{{ (10 ** 50)|number }}", "is too large (more than 21 digits)"),
    ("{{ record.title|date }}", "date: 'Villa on the lake' is not a date"),
    ("{{ record.title|currency }}", "currency: 'Villa on the lake' is not a number"),
    ("{{ now|date(locale=record.title) }}", "unknown locale 'Villa on the lake'"),
    ("{{ 5|currency(record.title) }}", "unknown currency 'Villa on the lake'"),
])
def test_a_filter_given_what_it_cannot_format_says_so(source: str, message: str) -> None:
    with pytest.raises(RenderError, match=re.escape(message)):
        render_text(source, VARIABLES, where="body", office=ROME)


# The shapes measured in issue 17: each ran in the plain sandbox (546 MB for the doubling one).
@pytest.mark.parametrize(("source", "method"), [
    ("{% set l = [1] %}{% for i in range(40) %}{{ l.extend(l) }}{% endfor %}", "extend"),
    ("{% set l = [] %}{% for i in range(3) %}{{ l.append(i) }}{% endfor %}{{ l }}", "append"),
    ("{% set d = {} %}{{ d.update(record.fields) }}", "update"),
    ("{{ record.fields.pop('price') }}", "pop"),
    ("{{ record.fields.clear() }}", "clear"),
    ("{{ record.fields.rooms.sort() }}", "sort"),
])
def test_changing_a_value_is_refused_when_rendered(source: str, method: str) -> None:
    with pytest.raises(RenderError, match=rf"^body: refused: '.{method}\(\)' would change a value, and text "
                                          "cannot change values$"):
        render_text(source, VARIABLES, where="body")
    assert VARIABLES["record"]["fields"]["price"] == 450000  # type: ignore[index]


def test_a_subject_cannot_empty_the_fields_the_body_sees() -> None:
    variables = {"record": {"title": "Villa", "fields": {"budget": 450000}}}
    with pytest.raises(RenderError, match="refused"):
        render_text("{{ record.fields.clear() }}Offer", variables, where="subject")
    assert render_text("Budget {{ record.fields.budget }}", variables, where="body") == "Budget 450000"


@pytest.mark.parametrize("source", [
    "{{ " + "(" * 80 + "1" + ")" * 80 + " }}",
    "{{ " + " + ".join(["record.id"] * 250) + " }}",
    "{{ record" + "|upper" * 250 + " }}",
    "{{ " + "-" * 600 + "1 }}",
    "{{ " + "1 if record else " * 300 + "2 }}",
    "{% if record %}" * 120 + "x" + "{% endif %}" * 120,
])
def test_deep_nesting_is_a_render_error_never_a_recursion_error(source: str) -> None:
    with pytest.raises(RenderError, match=r"^body: line 1: nested more than 30 levels deep"):
        render_text(source, VARIABLES, where="body")
    with pytest.raises(RenderError, match="nested more than 30 levels deep"):
        evaluate_condition(source.removeprefix("{{ ").removesuffix(" }}"), VARIABLES, where="when") \
            if source.startswith("{{") else render_text(source, VARIABLES, where="when")


def test_nesting_within_the_bound_renders() -> None:
    assert show("{{ " + "(" * 25 + "1" + ")" * 25 + " }}") == "1"
    assert show("{% for a in [1] %}" * 10 + "x" + "{% endfor %}" * 10) == "x"


def test_a_macro_that_recurses_through_its_arguments_is_refused_when_rendered() -> None:
    with pytest.raises(RenderError, match=r"^body: refused: calls nested too deeply"):
        render_text("{% macro f(g, n) %}{{ g(g, n) }}{% endmacro %}{{ f(f, record.id) }}", VARIABLES, where="body")
