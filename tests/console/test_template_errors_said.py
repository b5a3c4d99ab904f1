"""A template's mistakes in the office's language on the console's editor (api/console/checks_said.py); the API's
English unchanged, and in an English console."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import yaml

from api.console.checks_said import ITALIAN_CHECKS, _PATTERNS, check_in
from api.console.i18n import translator
from api.console.template_pages import located
from crm.client_requests.questions import validate_template as validate_request_template
from crm.pipeline_store import _check_remap
from processes.errors import TemplateInvalid
from processes.pipeline import Pipeline
from processes.pipeline_validation import validate_pipeline
from processes.validation import validate_template
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async

SAMPLE = {"hint": " (did you mean 'date' or 'default'?)", "n": "3", "count": "0", "line": "2", "index": "1",
          "seconds": "2.5", "runs": "1000000", "choices": "'contact', 'lead' or 'case'", "through": " (through 'b')"}
SAMPLE_IT = {**SAMPLE, "hint": " (forse 'date' o 'default'?)", "choices": "'contact', 'lead' o 'case'",
             "through": " (tramite 'b')"}


@pytest.mark.parametrize("english", [text for text, _ in _PATTERNS])
def test_each_check_reads_back_in_italian_and_as_it_was_in_english(english: str) -> None:
    names = re.findall(r"\{(\w+)\}", english)
    assert sorted(names) == sorted(re.findall(r"\{(\w+)\}", ITALIAN_CHECKS[english])), "the same values in both"
    message = english.format(**{name: SAMPLE.get(name, f"v{i}") for i, name in enumerate(names)})
    assert check_in(message, translator("en")) == message
    assert check_in(message, translator("it")) == ITALIAN_CHECKS[english].format(
        **{name: SAMPLE_IT.get(name, f"v{i}") for i, name in enumerate(names)})


MISTAKES = [  # what an office gets wrong, each template with a few mistakes
    {"key": "x", "name": "X", "record_kind": "leed", "phases": [
        {"key": "a", "nme": "A", "deadline_days": "due", "start": {"after_days": -1}, "actions": [{"sendemail": {}}]}]},
    {"key": "x", "name": "X", "controller_email": "c@agenzia.example", "record_kind": "lead", "phases": [
        {"key": "a", "name": "A", "next": "bb", "actions": [
            {"send_email": {"to": "record_contact", "subject": "Ciao {{ x | dat }}", "body": "{% if %}"}}]},
        {"key": "a", "name": "B", "actions": [{"create_task": {"title": "Chiamare {{ recrod.title }}"}}]}]},
    {"key": "x", "name": "X", "controller_email": "c@agenzia.example", "record_kind": "lead", "phases": [
        {"key": "a", "name": "A", "actions": [{"create_task": {"title": "{{ record.titel }}"}}]}]},
    {"key": "x", "name": "X", "controller_email": "c@agenzia.example", "record_kind": "lead", "phases": [
        {"key": "a", "name": "A", "actions": [
            {"add_history": {"text": "{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}"}},
            {"add_history": {"text": "{{ x.__class__ }}"}},
            {"add_history": {"text": "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}"}},
            {"add_history": {"text": "{{ record.fields.prezzo | currency('EURO') }} {{ 3 | number(digitz=2) }}"}},
            {"add_history": {"text": "{{ 'ciao'.format(1) }} {% set l = [] %}{{ l.append(1) }}"}},
            {"add_history": {"text": "{{ record|attr('title') }} {{ now|attr('anno') }}"}}]}]},
    {"key": "x", "name": "X", "controller_email": "c@agenzia.example", "record_kind": "lead", "phases": [
        {"key": "a", "name": "A", "actions": [{"send_sms": {"to": "+39 12", "text": "Buongiorno"}}]}]},
    {"key": "x", "name": "X", "controller_email": "c@agenzia.example", "record_kind": "lead", "phases": [
        {"key": "a", "name": "A", "actions": [
            {"add_history": {"text": "{% include 'altro' %}"}},
            {"add_history": {"text": "Sconto: {{ 100 / 0 }}"}},
            {"add_history": {"text": "{{ 'ciao' * 100000000 }} {{ 'x' ~ ('y' * 90000) ~ ('z' * 90000) }}"}},
            {"send_sms": {"to": "record_contact", "text": "Perché è già così tardi? 😀 " * 45}},
            {"webhook": {"endpoint": "gestionale", "body": "{ 'pratica': {{ record.id }} }"}}]}]},
    {"key": "x", "name": "X", "record_kind": "lead", "phases": []},
]


PIPELINE = {"key": "officina", "name": "Officina", "record_kind": "job", "controller_email": "c@officina.example",
            "statuses": [{"name": "Nuovo"}, {"name": "Diagnosi", "substates": [{"name": "Ricambi"}, {"name": "Ricambi"}]},
                         {"name": "Nuovo"}],
            "moves": {"Nuovo": ["Diagnsi"]},
            "types": [{"name": "Garanzia", "statuses": ["Diagnosi", "Chiuso"]}, {"name": "Garanzia"}]}


REQUEST = {"key": "documenti", "title": "Documenti", "questions": [
    {"key": "cu", "type": "text", "label": "CU", "options": ["a"], "accept": ["application/pdf"]},
    {"key": "cu", "type": "choice", "label": "Stato civile", "options": ["Celibe", "Celibe"]},
    {"key": "foto", "type": "file", "label": "Foto", "accept": ["image/heic"], "max_bytes": 10**12}]}


def _request(text: dict[str, Any]) -> Any:
    return validate_request_template(text, 10_000_000)


@pytest.mark.parametrize(("check", "text"), [(validate_template, t) for t in MISTAKES] + [
    (validate_pipeline, PIPELINE), (_request, REQUEST)])
def test_what_the_checks_write_is_said_in_italian(check: Any, text: dict[str, Any]) -> None:
    with pytest.raises(TemplateInvalid) as refused:
        check(text)
    source = yaml.safe_dump(text)
    italian = [e["message"] for e in located(source, refused.value, translator("it"))]
    english = [e["message"] for e in located(source, refused.value, translator("en"))]
    assert english == [d.message for d in refused.value.details]
    for said, message in zip(italian, english, strict=True):
        assert said != message, f"not said in Italian: {message}"
        assert "did you mean" not in said and "Input should" not in said, said



def test_a_pipelines_remap_mistakes_are_said_in_italian() -> None:
    """What a save of a new version checks against the one it replaces (`pipeline_store._check_remap`)"""
    types = [{"name": "Garanzia"}]
    before = Pipeline.model_validate({**PIPELINE, "statuses": [{"name": "Nuovo"}, {"name": "Perso"}],
                                      "moves": {}, "types": types})
    after = Pipeline.model_validate({**PIPELINE, "statuses": [{"name": "Nuovo"}, {"name": "Chiuso"}],
                                     "moves": {}, "types": types})
    with pytest.raises(TemplateInvalid) as refused:
        _check_remap(before, after, {"Perso": "Chiusa", "Nuovo": "Chiuso", "Persi": "Chiuso"})
    said = [check_in(detail.message, translator("it")) for detail in refused.value.details]
    assert said == ["'Chiusa' non è uno stato di questa versione (forse 'Chiuso'?)",
                    "'Nuovo' è ancora uno stato di questa versione: non c'è nulla da rimappare",
                    "nessuno stato 'Persi' nella versione che questa sostituisce (forse 'Perso'?)"]


async def test_the_editor_says_a_templates_mistakes_in_the_consoles_language(console_in_each_language: Any,
                                                                             sessions: Any) -> None:
    """Saved with two mistakes: 422, the summary and each mistake at its line, in the console's language"""
    locale, client = console_in_each_language
    admin = await staff_user(sessions, "Chiara Conti", role="admin")
    source = ("key: benvenuto\nname: Benvenuto\nrecord_kind: lead\nphases:\n  - key: chiamata\n    name: Chiamata\n"
              "    deadline_days: due\n    actions: []\n")
    said = {"en": ["controller_email: required field missing (and 1 more)",
                   "Input should be a valid integer, unable to parse string as an integer"],
            "it": ["controller_email: campo obbligatorio mancante (e un altro errore)", "serve un numero intero"]}[locale]
    async with client() as browser:
        assert (await sign_in_async(browser, admin.user.handle, admin.password)).status_code == 303
        token = csrf_token(await browser.get("/console/template-editor"))
        page = await browser.post("/console/template-editor", data={"csrf_token": token, "source": source})
    assert page.status_code == 422, page.text
    shown = html.unescape(page.text)
    assert f'id="save-error">{said[0]}</p>' in shown, shown
    assert f'<a href="#line-7">' in shown and f"<code>phases[0].deadline_days</code> {said[1]}</li>" in shown, shown
