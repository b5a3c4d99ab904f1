"""No personal data and no secret in what Temporal keeps: ids, search attributes, memos, or anywhere in a history.

The processes only carry ids and keys; activities read names, addresses and phone numbers from
the database and write them there. This test runs last: it runs a process that touches every
kind of personal data (an email to the lead, a task for an agent, values written from the
record, a decision on the record), then exports every history the session's dev server holds
(those of every end-to-end test too, to build/histories/) and looks in each, its payloads decoded, for the
personal data of every user and record in the database, and for anything shaped like an API key.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message
from sqlmodel import select
from temporalio.api.history.v1 import History
from temporalio.client import WorkflowHistory

from crm.models import Record, User
from tests.e2e.conftest import Stack
from tests.figures import Figures
from tests.polling import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.runs_last]

EXPORT = Path(__file__).parent.parent.parent / "build" / "histories"
MIN_LENGTH = 8
API_KEY = re.compile(r"sc_[A-Za-z0-9_-]{20,}")



def readable_history(history: WorkflowHistory) -> str:
    return readable(History(events=history.events))


def readable(message: Message) -> str:
    """A message as an engineer can read it: its JSON, then every bytes field decoded (a payload's data,
    which the JSON shows in base64, and its metadata), however deep: in inputs, results, failures' details,
    signals, updates, search attributes and memos alike."""
    return "\n".join([MessageToJson(message), *_decoded(message)])


def _decoded(message: Message) -> list[str]:
    found: list[str] = []
    for field, value in message.ListFields():
        values = value.values() if field.message_type is not None and field.message_type.GetOptions().map_entry \
            else value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, Message):
                found += _decoded(item)
            elif isinstance(item, bytes):
                found.append(item.decode("utf-8", errors="replace"))
    return found


TEMPLATE = """
key: {key}
name: Personal data
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: welcome
    name: Welcome
    responsible: record_owner
    actions:
      - send_email: {{to: record_contact, subject: "Welcome {{{{ record.title }}}}",
                     body: "Dear {{{{ record.title }}}} ({{{{ record.phone }}}}), {{{{ responsible.name }}}} calls you."}}
      - write_values: {{values: {{greeting: "Hello {{{{ record.title }}}} at {{{{ record.email }}}}"}}}}
      - add_history: {{text: "Welcomed {{{{ record.title }}}}"}}
  - key: call
    name: Call {{{{ record.title }}}}
    responsible: record_owner
    completion: manual
    actions:
      - create_task: {{title: "Call {{{{ record.title }}}} on {{{{ record.phone }}}}", assignee: record_owner}}
    decision:
      - when: "record.title != '' and record.phone is defined"
        goto: done
  - key: skipped
    name: Never reached
  - key: done
    name: Done
    actions:
      - set_status: {{status: Contacted}}
"""


async def test_no_personal_data_or_secret_in_any_history(stack: Stack, sessions: Any, dev_env: Any,
                                                          figures: Figures) -> None:
    """Personal data and keys never reach Temporal: every history of the session, searched"""
    http, admin = stack.http, stack.as_("admin")
    tag = uuid.uuid4().hex[:8]
    agent = (await http.post("/users", headers=admin, json={
        "handle": f"sentinel{tag}", "name": f"Agent Sentinel{tag}", "email": f"agent.sentinel{tag}@agency.example",
        "phone": f"+39 555 {int(tag[:4], 16):05d}"})).json()  # a phone is digits: the tag's, in decimal
    record = (await http.post("/records", headers=admin, json={
        "kind": "lead", "title": f"Lead Sentinel{tag}", "email": f"lead.sentinel{tag}@example.org",
        "phone": f"+39 333 {int(tag[4:], 16):05d}", "owner_id": agent["id"]})).json()
    key = f"personal-{tag}"
    saved = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                            content=TEMPLATE.format(key=key))
    assert saved.status_code == 201, saved.text
    started = (await http.post("/processes", headers=admin, json={"template": key, "record_id": record["id"]})).json()
    workflow_id = started["workflow_id"]

    async def phase_task() -> list[dict[str, Any]]:
        tasks = (await http.get("/tasks", headers=admin, params={"workflow_id": workflow_id,
                                                                 "assignee_id": agent["id"]})).json()
        return [t for t in tasks if t["kind"] == "phase"]

    task = (await eventually(phase_task))[0]
    done = await http.post(f"/tasks/{task['id']}/complete", headers=admin, json={"answers": {"outcome": "reached"}})
    assert done.status_code == 200, done.text

    async def completed() -> bool:
        view = (await http.get(f"/processes/{workflow_id}", headers=admin)).json()
        return view["status"] == "completed"

    await eventually(completed)
    # the personal data did go through the process: into the email, the record and the task
    welcome = stack.mail.to(record["email"])[0]
    assert record["title"] in welcome["Subject"] and record["phone"] in welcome.get_content()
    assert (await http.get(f"/records/{record['id']}", headers=admin)).json()["fields"]["greeting"] == \
        f"Hello {record['title']} at {record['email']}"

    # every user's and record's personal data, as the database holds it
    async with sessions() as session:
        people = (await session.exec(select(User))).all()
        records = (await session.exec(select(Record))).all()
    personal = {value for user in people for value in (user.name, user.email, user.phone) if value}
    personal |= {value for r in records for value in (r.title, r.email, r.phone) if value}
    # a one-word value ("Owner") would be found in any text; people's data is longer than that
    personal = {value for value in personal if len(value) >= MIN_LENGTH}

    EXPORT.mkdir(parents=True, exist_ok=True)
    found: list[str] = []
    histories = events = 0
    async for execution in dev_env.client.list_workflows(""):
        handle = dev_env.client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        text = readable_history(history)
        described = readable((await handle.describe()).raw_description)
        histories += 1
        events += len(history.events)
        (EXPORT / f"{execution.id}.{execution.run_id}.json").write_text(history.to_json())
        for where, haystack in (("history", text), ("description (search attributes, memo, summary)", described)):
            found += [f"{execution.id} {where}: {value!r}" for value in personal if value in haystack]
            found += [f"{execution.id} {where}: an API key" for _ in API_KEY.finditer(haystack)]
        found += [f"workflow id {execution.id!r} holds {value!r}" for value in personal if value in execution.id]

    figures["histories exported"] = histories
    figures["events searched"] = events
    figures["personal values looked for"] = len(personal)
    figures["found"] = len(found)
    # the search would see it: the process's own history holds its template's key, as a string, and its input
    # (in base64 in the export) the template's controller address, found once decoded
    exported = [p for p in EXPORT.iterdir() if p.name.startswith(f"{workflow_id}.")]
    assert exported and key in exported[0].read_text()
    own = readable_history(await dev_env.client.get_workflow_handle(workflow_id).fetch_history())
    assert "controller@agency.example" not in exported[0].read_text() and "controller@agency.example" in own
    assert not found, "\n".join(sorted(set(found))[:50])
