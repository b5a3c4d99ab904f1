"""The template editors show a saved version as a person writes it: multi-line texts as `|` blocks, so that a
line typed into an email's body is a line of the saved body, and the text shown, saved unchanged, is the same
template."""

from __future__ import annotations

import html
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
from api.console.written_yaml import written
from crm import template_store
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
    return html.unescape(found.group(1))


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

        assert (await save(TEMPLATE.format(key=key))).endswith("version=1&saved=new")
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


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_reads_back_as_written(text: str) -> None:
    data = {"body": text, "actions": [{"send_email": {"body": text, "subject": text[:20]}}]}
    assert yaml.safe_load(written(data)) == data
