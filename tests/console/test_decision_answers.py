"""A phase whose decision reads answers, completed from the console: each completion form says what the decision
reads, names and values are taken in any case, and a completion with none of them is refused unless staff say so.
An office had closed a decision's task from its list, which had no answers field: the client was emailed a refusal."""

from __future__ import annotations

import html
import uuid
from typing import Any

import httpx
import pytest

from api.console.actions import FormInvalid, answers
from api.console.decisions_read import _read_after
from processes.decision_answers import answers_read
from processes.template import Phase
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async
from tests.console.test_console_guards import _current
from tests.e2e.conftest import Stack
from tests.polling import eventually

TEMPLATE = """
key: {key}
name: Preventivo
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: esito
    name: Esito del preventivo
    completion: manual
    decision:
      - {{when: "answers.esito == 'accettato'", goto: won}}
      - {{when: "answers['esito'] in ['rifiutato', 'perso'] or answers.importo is defined and answers.importo > 1000",
         goto: lost}}
  - {{key: won, name: Won, completion: manual}}
  - {{key: lost, name: Lost, completion: manual}}
"""
DECISION = Phase.model_validate({"key": "esito", "name": "Esito", "completion": "manual", "decision": [
    {"when": "answers.esito == 'accettato'", "goto": "a"},
    {"when": "answers['esito'] in ['rifiutato', 'perso'] or answers.importo > 1000", "goto": "b"}]})


def test_what_a_decision_reads() -> None:
    """The answers named, each with the constants it is compared with for equality (not `> 1000`)"""
    read = answers_read(DECISION)
    assert read == {"esito": ["accettato", "rifiutato", "perso"], "importo": [1000]}
    assert answers_read(Phase(key="a", name="A")) == {}
    assert answers("Esito: Accettato\nIMPORTO: 5", str, read) == {"esito": "accettato", "importo": 5}
    assert answers("esito: Forse", str, read) == {"esito": "Forse"}  # another value: as typed
    with pytest.raises(FormInvalid) as refused:
        answers("nota: chiamato", str, read)
    assert refused.value.message == ("The decision after this phase reads esito (accettato, rifiutato or perso), "
                                     "importo (a number): answer it, or tick “Complete without these answers”.")
    # compared with numbers: read as the office writes them, or refused (kept as text, `> 1000` was an incident)
    assert answers("importo: 1.500,00", str, read, locale="it") == {"importo": 1500}
    with pytest.raises(FormInvalid) as not_a_number:
        answers("importo: millecinquecento", str, read, locale="it")
    assert not_a_number.value.message == ("The decision compares 'importo' with numbers: write a number, such as "
                                          "1.500,5.")
    assert answers("", str, read, without=True) == {}


@pytest.mark.e2e
async def test_the_consoles_forms_say_what_the_decision_reads(stack: Stack, sessions: Any) -> None:
    staff = await staff_user(sessions)
    admin = stack.as_("admin")
    key = f"decide-{uuid.uuid4().hex[:8]}"
    assert (await stack.http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                                  content=TEMPLATE.format(key=key))).status_code == 201
    record = (await stack.http.post("/records", headers=admin, json={"kind": "lead", "title": f"Tetto {key}",
                                                                      "owner_id": staff.user.id})).json()
    started = [(await stack.http.post("/processes", headers=admin, json={
        "template": key, "record_id": record["id"], "owner_id": staff.user.id})).json()["workflow_id"]
        for _ in range(2)]
    for workflow_id in started:
        await eventually(lambda w=workflow_id: _current(stack, w, "esito"), what=f"{workflow_id} waits")
    tasks = (await stack.http.get("/tasks", headers=admin, params={"record_id": record["id"]})).json()
    task_of = {t["workflow_id"]: t["id"] for t in tasks}
    reads = "The decision after this phase reads: esito (accettato, rifiutato or perso), importo (a number)"

    async with httpx.AsyncClient(base_url=str(stack.http.base_url), timeout=30) as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        listed = await browser.get("/console/processes", params={"template": key})
        assert f'title="{started[0]}">Preventivo</a>' in listed.text  # its template's name, not its workflow id
        for page in ("/console/tasks", "/console", f"/console/processes/{started[0]}"):
            shown = await browser.get(page)
            assert reads in html.unescape(shown.text), page
        token = csrf_token(shown)
        # the task list's Close with no answer: refused, saying what to answer, and nothing changed
        closed = await browser.post(f"/console/tasks/{task_of[started[0]]}/complete", data={
            "csrf_token": token, "back": "/console/tasks?done=task"})
        assert closed.status_code == 422 and "answer it, or tick “Complete without these answers”" in \
            html.unescape(closed.text)
        assert await _current(stack, started[0], "esito")
        # written in another case: as the decision writes it, so it goes where it says
        done = await browser.post(f"/console/tasks/{task_of[started[0]]}/complete", data={
            "csrf_token": token, "answers": "Esito: Accettato", "back": "/console/tasks?done=task"})
        assert done.status_code == 303, done.text
        await eventually(lambda: _current(stack, started[0], "won"), what="the accepted quote is won")
        shown = await browser.get(f"/console/processes/{started[0]}")
        assert 'went to <a href="#phase-won">Won</a>' in shown.text  # the phase's name, not its key
        # without the answers, said so: the decision takes its way without them
        done = await browser.post(f"/console/processes/{started[1]}/complete", data={
            "csrf_token": token, "phase": "esito", "without": "1"})
        assert done.status_code == 303, done.text
        await eventually(lambda: _current(stack, started[1], "won") or _current(stack, started[1], "lost"),
                         what="the second process goes on")


def test_a_decision_in_the_phase_after_a_manual_one_is_what_its_answers_reach() -> None:
    """The docs' own shape (a manual `call`, then a `route` phase that only decides) was not protected"""
    phases = [Phase.model_validate(p) for p in (
        {"key": "call", "name": "Call", "completion": "manual"},
        {"key": "route", "name": "Route", "decision": [{"when": "answers.esito == 'accettato'", "goto": "won"}]},
        {"key": "won", "name": "Won", "completion": "manual",
         "decision": [{"when": "answers.firmato == true", "goto": "call"}]},
        {"key": "lost", "name": "Lost"})]
    assert _read_after(phases, "call") == {"esito": ["accettato"]}  # not the next manual phase's
    assert _read_after(phases, "won") == {"firmato": [True]}
    assert _read_after(phases, "lost") == {}
