"""The template editors show a saved version as the YAML text it was saved from, comments and all; one with no text
of its own (saved as JSON, or before versions kept their text) as a person writes it: multi-line texts as `|`
blocks, so that a line typed into an email's body is a line of the saved body, and the text shown, saved unchanged,
is the same template."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given, settings as hypothesis_settings, strategies as st
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.auth import create_key
from api.console.template_pages import line_of, located, yaml_text
from api.console.written_yaml import written
from crm import template_store
from crm.models import ApiRole
from processes.documents import parse_document
from processes.errors import TemplateInvalid
from processes.template import ProcessTemplate
from processes.validation import validate_template
from renderer.pool import shared_pool
from settings import Settings
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async

BODY = ("Gentile cliente,\n\nla ringraziamo per l'interesse per {{ record.title }}, in via Università 5 a Forlì.\n\n"
        "{{ owner.name }} la chiamerà entro due giorni: è già al corrente della sua richiesta.\n\n\n")
TEMPLATE = """\
# Nuovo contatto: un'email di benvenuto, poi una chiamata.
key: {key}
name: Benvenuto
controller_email: controllo@agenzia.example
record_kind: lead
phases:
  - key: benvenuto  # la prima fase
    name: Email di benvenuto
    actions:
      - send_email:
          subject: "Grazie per l'interesse per {{{{ record.title }}}}"
          # il corpo, con i suoi paragrafi
          body: |+
            Gentile cliente,

            la ringraziamo per l'interesse per {{{{ record.title }}}}, in via Università 5 a Forlì.

            {{{{ owner.name }}}} la chiamerà entro due giorni: è già al corrente della sua richiesta.


      - add_history:
          text: "Benvenuto inviato; chiamata con {{{{ record.owner.name if record.owner else owner.name }}}} e poi ancora con qualcun altro"
"""


@pytest.fixture
async def console(dev_env: WorkflowEnvironment, database_url: str, task_queue: str) -> AsyncIterator[Any]:
    app = create_app(Settings(database_url=database_url, temporal_task_queue=task_queue), temporal=dev_env.client,
                     renderer=shared_pool())
    async with app.router.lifespan_context(app):
        yield lambda: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://stagecoach",
                                        timeout=30)


def _shown(page: httpx.Response) -> str:
    found = re.search(r'<textarea id="source"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert page.status_code == 200 and found, page.text
    return html.unescape(found.group(1)).removeprefix("\n")  # a browser drops the newline after <textarea>


async def _body(sessions: Any, key: str) -> tuple[int, str]:
    async with sessions() as session:
        row = await template_store.get_version(session, key)
    return row.version, row.definition["phases"][0]["actions"][0]["send_email"]["body"]


async def test_a_line_typed_into_a_body_is_a_line_of_it(console: Any, sessions: Any) -> None:
    key = f"benvenuto-{uuid.uuid4().hex[:8]}"
    admin = await staff_user(sessions, "Chiara Conti", role="admin")
    async with console() as browser:
        assert (await sign_in_async(browser, admin.user.handle, admin.password)).status_code == 303

        async def save(source: str) -> str:
            token = csrf_token(await browser.get("/console/template-editor"))
            saved = await browser.post("/console/template-editor", data={"csrf_token": token, "source": source})
            assert saved.status_code == 303, saved.text
            return saved.headers["location"]

        async with sessions() as session:  # a version with no text of its own (saved as JSON, or before 0019)
            await template_store.save(session, ProcessTemplate.model_validate(yaml.safe_load(TEMPLATE.format(key=key))),
                                      "test")
        assert await _body(sessions, key) == (1, BODY)

        shown = _shown(await browser.get(f"/console/template-editor?key={key}"))
        assert "          body: |+\n            Gentile cliente,\n\n            la ringraziamo" in shown
        assert "Forlì" in shown and "chiamerà" in shown
        assert "{{ record.owner.name if record.owner else owner.name }} e poi ancora con qualcun altro\n" in shown

        # saved as shown, it is the same template
        assert (await save(shown)).endswith("version=1&saved=same")

        # a closing line typed under the last sentence is a line of its own
        last = "            {{ owner.name }} la chiamerà entro due giorni: è già al corrente della sua richiesta.\n"
        assert (await save(shown.replace(last, last + "            Cordiali saluti\n"))).endswith("saved=new")
        assert await _body(sessions, key) == (2, BODY.replace("richiesta.\n", "richiesta.\nCordiali saluti\n"))

        # the diff between the versions is that line
        page = await browser.get(f"/console/templates/{key}?from=1&to=2")
        assert "+            Cordiali saluti" in html.unescape(page.text)


async def _admin_key(sessions: Any) -> dict[str, str]:
    async with sessions() as session:
        _, key = await create_key(session, "editor test admin", ApiRole.admin)
    return {"X-API-Key": key}


async def test_a_template_saved_as_yaml_is_shown_as_it_was_written(console: Any, sessions: Any) -> None:
    key = f"benvenuto-{uuid.uuid4().hex[:8]}"
    sent = ("\n# Scritto a mano: i commenti e le righe vuote restano.\n\n"
            + TEMPLATE.format(key=key).replace("phases:", "\n\nphases:  # due fasi, un giorno\n")
            + "\n# fine\n")
    admin = await staff_user(sessions, "Chiara Conti", role="admin")
    api_key = await _admin_key(sessions)
    async with console() as browser:
        saved = await browser.post("/templates", content=sent.encode(),
                                   headers={**api_key, "Content-Type": "application/yaml"})
        assert saved.status_code == 201, saved.text
        assert (await browser.get(f"/templates/{key}/versions/1", headers=api_key)).json()["version"] == 1
        as_yaml = await browser.get(f"/templates/{key}/versions/1",
                                    headers={**api_key, "Accept": "application/yaml"})
        assert as_yaml.status_code == 200 and as_yaml.headers["content-type"].startswith("application/yaml")
        assert as_yaml.text == sent

        assert (await sign_in_async(browser, admin.user.handle, admin.password)).status_code == 303
        assert _shown(await browser.get(f"/console/template-editor?key={key}")) == sent
        assert "# due fasi, un giorno" in html.unescape((await browser.get(f"/console/templates/{key}")).text)

        # a change of comments alone is no new version (the same template): the version keeps its text
        recommented = sent.replace("# fine", "# fine, rivisto")
        again = await browser.post("/templates", content=recommented.encode(),
                                   headers={**api_key, "Content-Type": "application/yaml"})
        assert again.status_code == 200 and again.json()["version"] == 1
        token = csrf_token(await browser.get("/console/template-editor"))
        same = await browser.post("/console/template-editor", data={"csrf_token": token, "source": recommented})
        assert same.headers["location"].endswith("version=1&saved=same")
        assert _shown(await browser.get(f"/console/template-editor?key={key}")) == sent

        # saved from the editor (a form's CRLF lines), the new version is shown as typed
        typed = recommented.replace("name: Benvenuto", "name: Benvenuto e chiamata")
        new = await browser.post("/console/template-editor",
                                 data={"csrf_token": token, "source": typed.replace("\n", "\r\n")})
        assert new.headers["location"].endswith("version=2&saved=new")
        assert _shown(await browser.get(f"/console/template-editor?key={key}")) == typed.strip() + "\n"


async def test_a_template_saved_as_json_or_before_texts_were_kept_is_shown_written(console: Any,
                                                                                    sessions: Any) -> None:
    key = f"benvenuto-{uuid.uuid4().hex[:8]}"
    data = yaml.safe_load(TEMPLATE.format(key=key))
    admin = await staff_user(sessions, "Chiara Conti", role="admin")
    api_key = await _admin_key(sessions)

    async def latest_written() -> str:
        async with sessions() as session:
            return yaml_text((await template_store.get_version(session, key)).definition)

    async with console() as browser:
        assert (await browser.post("/templates", json=data, headers=api_key)).status_code == 201
        assert (await sign_in_async(browser, admin.user.handle, admin.password)).status_code == 303
        shown = _shown(await browser.get(f"/console/template-editor?key={key}"))
        assert shown == await latest_written() and "body: |+" in shown and "#" not in shown
        as_yaml = await browser.get(f"/templates/{key}/versions/1", headers={**api_key, "Accept": "application/yaml"})
        assert json.loads(as_yaml.text) == data  # the JSON it was sent as (YAML too)

        async with sessions() as session:  # saved as before migration 0019: no text
            row, created = await template_store.save(
                session, ProcessTemplate.model_validate({**data, "name": "Benvenuto (prima)"}), "test")
        assert created and row.version == 2 and row.source_text is None
        shown = _shown(await browser.get(f"/console/template-editor?key={key}"))
        assert shown == await latest_written() and "name: Benvenuto (prima)" in shown
        as_yaml = await browser.get(f"/templates/{key}/versions/2", headers={**api_key, "Accept": "application/yaml"})
        assert as_yaml.status_code == 406 and "keeps no text" in as_yaml.text
        assert (await browser.get(f"/templates/{key}/versions/2", headers=api_key)).json()["version"] == 2


LINES = """key: x
name: X
controller_email: c@agency.example
record_kind: lead
phases:
  - key: a
    name: A
    actions:
      - send_email:
          to: record_contact
          subject: "Ciao {{ recrod.title }} {{ ''.__class__ }}"
          body: |
            Gentile cliente,
            {{ ''.__class__ }}
            {{ 'x'.isascii() }}
"""


def test_a_texts_mistake_is_shown_at_its_own_line_of_the_document() -> None:
    """`at line 2` of a body is the body's second line in the document (it was the document's line 2), a subject's
    its key's line, and a mistake with no line its text's key"""
    with pytest.raises(TemplateInvalid) as refused:
        validate_template(parse_document(LINES))
    found = {(e["path"].rsplit(".", 1)[1], e["message"].split(" ")[0], e["line"])
             for e in located(LINES, refused.value, str)}
    assert found == {("subject", "unknown", 11), ("subject", "access", 11), ("body", "access", 14),
                     ("body", "line", 15)}, found


def test_an_error_of_a_document_nested_too_deep_has_no_line_and_no_server_error() -> None:
    """The editor looks for the line of each error: in a document nested 2,000 levels deep (refused for it) YAML's
    composer ran out of stack, and the page was a 500"""
    assert line_of("a: " + "[" * 2000 + "]" * 2000, "a") is None


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_reads_back_as_written(text: str) -> None:
    data = {"body": text, "actions": [{"send_email": {"body": text, "subject": text[:20]}}]}
    assert yaml.safe_load(written(data)) == data


async def test_the_outline_says_when_each_phase_starts(console: Any, sessions: Any) -> None:
    """Minutes (shown as "right after" before), hours or days after the previous phase, with their plural and no
    "0 hours"; a deadline too"""
    key = f"tempi-{uuid.uuid4().hex[:8]}"
    note = "actions: [{add_history: {text: nota}}]"
    source = (f"key: {key}\nname: Tempi\ncontroller_email: c@agency.example\nrecord_kind: lead\nphases:\n"
              f"  - {{key: one, name: One, {note}}}\n"
              f"  - {{key: two, name: Two, start: {{after_minutes: 30}}, {note}}}\n"
              f"  - {{key: three, name: Three, start: {{after_hours: 1}}, {note}}}\n"
              f"  - {{key: four, name: Four, start: {{after_days: 2}}, deadline_days: 1, {note}}}\n")
    async with sessions() as session:
        await template_store.save(session, ProcessTemplate.model_validate(yaml.safe_load(source)), created_by="test")
    staff = await staff_user(sessions)
    async with console() as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        page = html.unescape((await browser.get(f"/console/templates/{key}")).text)
    starts = re.findall(r"starts: ([^·]*?)\s*·", page)
    assert starts == ["right after the previous phase", "30 minutes after the previous phase",
                      "1 hour after the previous phase", "2 days after the previous phase"], starts
    assert "deadline: 1 day</p>" in page and " 0 " not in page.split('id="outline-h"')[1], page
