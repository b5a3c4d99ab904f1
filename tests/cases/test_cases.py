"""Cases over HTTP on the real stack: participants, tags, notify on create, close and reopen, delete."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from api.auth import create_key
from crm.models import ApiRole
from tests.cases.helpers import case, contact, history, mail_to, running_process, user
from tests.e2e.conftest import Stack
from tests.polling import eventually

pytestmark = pytest.mark.e2e


async def test_a_case_with_participants_tags_and_notified_users(stack: Stack) -> None:
    http, staff = stack.http, stack.as_("staff")
    marta, paolo = await user(stack, "marta"), await user(stack, "paolo")
    person = await contact(stack, "Giulia Neri")
    company = await contact(stack, "Neri Costruzioni srl", "company")
    lead = (await http.post("/records", headers=staff, json={"kind": "lead", "title": "Not a contact"})).json()
    tag = uuid.uuid4().hex[:6]

    response = await http.post("/cases", headers=staff, json={
        "name": "Condominium assembly", "participant_ids": [person["id"], company["id"]],
        "tags": [f"Assembly-{tag}", f"urgent-{tag}"], "notify_user_ids": [marta["id"], paolo["id"]],
        "owner_id": marta["id"]})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["state"] == "open"
    assert created["participant_ids"] == sorted([person["id"], company["id"]])
    assert created["tags"] == [f"Assembly-{tag}", f"urgent-{tag}"]

    # each chosen user is told by email, once, through the outbox
    for who in (marta, paolo):
        mails = await mail_to(stack, who["email"])
        assert len(mails) == 1 and mails[0]["Subject"] == "New case: Condominium assembly"
    sent = await eventually(lambda: _notices_sent(stack, created["id"]), what="the notices marked sent")
    assert sorted(m["to_address"] for m in sent) == sorted([marta["email"], paolo["email"]])

    # a participant must be a contact; an unknown user to notify changes nothing
    refused = await http.post(f"/cases/{created['id']}/participants", headers=staff, json={"contact_id": lead["id"]})
    assert refused.status_code == 422 and refused.json()["type"] == "NotAContact"
    refused = await http.post("/cases", headers=staff, json={"name": f"Nothing {tag}",
                                                             "notify_user_ids": [marta["id"], 2**30]})
    assert refused.status_code == 422 and refused.json()["type"] == "ReferenceNotFound"
    assert refused.json()["errors"] == [{"path": "body.notify_user_ids[1]", "message": f"no user {2**30}"}]
    assert (await http.get("/cases", headers=staff, params={"q": f"Nothing {tag}"})).json() == []

    # participants come and go, each change in the timeline
    late = await contact(stack, "Late Comer")
    added = await http.post(f"/cases/{created['id']}/participants", headers=staff, json={"contact_id": late["id"]})
    assert late["id"] in added.json()["participant_ids"]
    removed = await http.delete(f"/cases/{created['id']}/participants/{person['id']}", headers=staff)
    assert removed.status_code == 200 and person["id"] not in removed.json()["participant_ids"]
    again = await http.delete(f"/cases/{created['id']}/participants/{person['id']}", headers=staff)
    assert again.status_code == 404
    lines = [(line["kind"], line["text"]) for line in await history(stack, created["id"])]
    assert ("participant_added", "Participant added: Late Comer") in lines
    assert ("participant_removed", "Participant removed: Giulia Neri") in lines
    assert lines[0] == ("case_created", "Case created: Condominium assembly")
    by_contact = await http.get("/cases", headers=staff, params={"participant_id": company["id"]})
    assert [c["id"] for c in by_contact.json()] == [created["id"]]


async def _notices_sent(stack: Stack, case_id: int) -> list[dict[str, Any]]:
    messages = (await stack.http.get("/outbox", headers=stack.as_("admin"), params={"record_id": case_id})).json()
    return messages if messages and all(m["status"] == "sent" for m in messages) else []


async def test_tags_are_picked_created_searched_renamed_and_merged(stack: Stack) -> None:
    http, staff = stack.http, stack.as_("staff")
    tag = uuid.uuid4().hex[:6]
    first = await case(stack, f"Lease renewal {tag}", tags=[f"lease-{tag}"])
    second = await case(stack, f"Eviction {tag}", tags=[f"LEASE-{tag}", f"court-{tag}"])  # the same tag, picked
    assert second["tags"] == [f"court-{tag}", f"lease-{tag}"]

    tagged = await http.get("/cases", headers=staff, params={"tag": f"lease-{tag}"})
    assert {c["id"] for c in tagged.json()} == {first["id"], second["id"]}
    both = await http.get("/cases", headers=staff, params=[("tag", f"lease-{tag}"), ("tag", f"court-{tag}")])
    assert [c["id"] for c in both.json()] == [second["id"]]
    assert [c["id"] for c in (await http.get("/cases", headers=staff, params={"q": f"court-{tag}"})).json()] \
        == [second["id"]]
    other = uuid.uuid4().hex[:6]  # not in the names the tags' checks below list
    accented = await case(stack, f"Hearing {other}", tags=[f"Urgentìssimo-{other}"])
    for q in (f"urgentissimo-{other}", f"  URGENTISSIMO-{other} ", "gentis"):  # part of a tag, any case or accent
        found = (await http.get("/cases", headers=staff, params={"q": q})).json()
        assert accented["id"] in [c["id"] for c in found], q

    tags = {t["name"]: t for t in (await http.get("/tags", headers=staff, params={"q": tag})).json()}
    assert tags[f"lease-{tag}"]["cases"] == 2 and tags[f"court-{tag}"]["cases"] == 1
    taken = await http.patch(f"/tags/{tags[f'court-{tag}']['id']}", headers=staff, json={"name": f"Lease-{tag}"})
    assert taken.status_code == 409 and "merge" in taken.json()["detail"]
    renamed = await http.patch(f"/tags/{tags[f'court-{tag}']['id']}", headers=staff, json={"name": f"Tribunal-{tag}"})
    assert renamed.status_code == 200
    assert (await http.get(f"/cases/{second['id']}", headers=staff)).json()["tags"] == [f"lease-{tag}",
                                                                                         f"Tribunal-{tag}"]
    merged = await http.post(f"/tags/{tags[f'court-{tag}']['id']}/merge", headers=staff,
                             json={"into_tag_id": tags[f"lease-{tag}"]["id"]})
    assert merged.status_code == 200 and merged.json()["name"] == f"lease-{tag}"
    assert (await http.get(f"/cases/{second['id']}", headers=staff)).json()["tags"] == [f"lease-{tag}"]
    assert [t["name"] for t in (await http.get("/tags", headers=staff, params={"q": tag})).json()] == [f"lease-{tag}"]

    patched = await http.patch(f"/cases/{first['id']}", headers=staff, json={"tags": [], "name": f"Renewal {tag}"})
    assert patched.json()["tags"] == [] and patched.json()["name"] == f"Renewal {tag}"
    assert (await http.patch(f"/cases/{first['id']}", headers=staff, json={"name": None})).status_code == 422


async def test_closing_asks_what_to_do_with_running_processes(stack: Stack) -> None:
    http, staff = stack.http, stack.as_("staff")
    owner = await user(stack, "owner")
    created = await case(stack, "Estate division", owner_id=owner["id"])
    workflow_id = await running_process(stack, created["id"])

    asked = await http.post(f"/cases/{created['id']}/close", headers=staff, json={"reason": "settled"})
    assert asked.status_code == 409 and asked.json()["type"] == "RunningProcesses"
    assert workflow_id in asked.json()["detail"]
    assert (await http.get(f"/cases/{created['id']}", headers=staff)).json()["state"] == "open"

    kept = await http.post(f"/cases/{created['id']}/close", headers=staff, json={"running_processes": "keep"})
    assert kept.status_code == 200 and kept.json()["state"] == "closed"
    assert (await http.get(f"/processes/{workflow_id}", headers=staff)).json()["status"] == "running"
    assert (await http.post(f"/cases/{created['id']}/close", headers=staff, json={})).status_code == 409
    closed = await http.get("/cases", headers=staff, params={"state": "closed", "q": "Estate division"})
    assert created["id"] in [c["id"] for c in closed.json()]

    reopened = await http.post(f"/cases/{created['id']}/reopen", headers=staff)
    assert reopened.status_code == 200 and reopened.json()["state"] == "open"
    assert (await http.post(f"/cases/{created['id']}/reopen", headers=staff)).status_code == 409

    aborted = await http.post(f"/cases/{created['id']}/close", headers=staff,
                              json={"running_processes": "abort", "reason": "client withdrew"})
    assert aborted.status_code == 200, aborted.text

    async def ended() -> bool:
        return (await http.get(f"/processes/{workflow_id}", headers=staff)).json()["status"] == "aborted"

    await eventually(ended, what="the process aborted")
    kinds = [line["kind"] for line in await history(stack, created["id"])]
    assert kinds.count("case_closed") == 2 and "case_reopened" in kinds


async def test_delete_needs_confirmation_shows_a_dry_run_and_leaves_nothing(stack: Stack, sessions: Any) -> None:
    http, staff = stack.http, stack.as_("admin")  # the case is restricted: an admin sees it
    owner, listed = await user(stack, "owner"), await user(stack, "listed")
    person = await contact(stack, "Anna Verdi")
    created = await case(stack, "Insurance claim", owner_id=owner["id"], participant_ids=[person["id"]],
                         tags=[f"claim-{uuid.uuid4().hex[:6]}"], restricted=True, access_user_ids=[listed["id"]],
                         notify_user_ids=[owner["id"]])
    linked = (await http.post("/records", headers=staff, json={"kind": "lead", "title": "Linked to the case"})).json()
    async with sessions() as session:  # a link to a case, as saved before a contact_id had to name a contact
        await session.exec(sa.text("UPDATE record SET contact_id = :case WHERE id = :linked"),  # type: ignore[call-overload]
                           params={"case": created["id"], "linked": linked["id"]})
        await session.commit()
    workflow_id = await running_process(stack, created["id"])
    await mail_to(stack, owner["email"])
    documents = f"/records/{created['id']}/documents"
    note = None
    for url, name, content in ((documents, "perizia.pdf", b"%PDF-1.4\n%%EOF\n"), (documents, "note.txt", b"one\n"),
                               ("{note}/versions", "note.txt", b"two\n")):
        response = await http.post(url.format(note=note), headers=staff, files={"file": (name, content)})
        assert response.status_code == 201, response.text
        note = response.json()["download_url"]
    folder = stack.settings.data_dir / "documents"
    assert len([p for p in folder.rglob("*") if p.is_file()]) == 3

    dry = await http.delete(f"/cases/{created['id']}", headers=staff, params={"dry_run": "true"})
    assert dry.status_code == 200, dry.text
    plan = dry.json()
    assert plan["deleted"] is False and plan["running_processes"] == [workflow_id]
    for table in ("record", "case_participant", "record_tag", "record_access", "history_entry", "task",
                  "process_run", "outbox_message", "record.contact_id", "document", "document_version"):
        assert plan["rows"].get(table, 0) >= 1, (table, plan)
    unconfirmed = await http.delete(f"/cases/{created['id']}", headers=staff)
    assert unconfirmed.status_code == 422 and unconfirmed.json()["type"] == "ConfirmationRequired"
    assert (await http.get(f"/cases/{created['id']}", headers=staff)).status_code == 200

    deleted = await http.delete(f"/cases/{created['id']}", headers=staff, params={"confirm": "true"})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["processes_aborted"] == [workflow_id]
    assert deleted.json()["rows"] == plan["rows"] | {"history_entry": deleted.json()["rows"]["history_entry"]}
    assert (await http.get(f"/cases/{created['id']}", headers=staff)).status_code == 404
    assert (await http.get(f"/records/{linked['id']}", headers=staff)).json()["contact_id"] is None
    assert (await http.get(f"/records/{person['id']}", headers=staff)).status_code == 200  # the contact stays
    assert [p for p in folder.rglob("*") if p.is_file()] == []  # the documents' files went with it

    # table by table: no row refers to the case or to one of its processes
    async with sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                refers = any(fk.column.table.name == "record" for fk in column.foreign_keys)
                if refers or (column.name == "id" and table.name == "record"):
                    count = (await session.exec(sa.select(sa.func.count()).select_from(table)  # type: ignore[call-overload]
                                                .where(column == created["id"]))).one()[0]
                    assert count == 0, f"{table.name}.{column.name} still refers to case {created['id']}"
                if column.name in ("workflow_id", "target"):
                    count = (await session.exec(sa.select(sa.func.count()).select_from(table)  # type: ignore[call-overload]
                                                .where(column == workflow_id))).one()[0]
                    assert count == 0, f"{table.name}.{column.name} still names {workflow_id}"


async def test_renaming_and_merging_a_tag_answer_how_many_cases_the_caller_sees_carry_it(stack: Stack) -> None:
    """Counts as the caller sees them; a tag on a case the caller does not see is changed by an admin only, and one
    only such cases carry is not shown at all (its name leaked, and staff could rename or delete it)"""
    http, staff, admin = stack.http, stack.as_("staff"), stack.as_("admin")
    tag = uuid.uuid4().hex[:6]
    await case(stack, f"Lease {tag}", tags=[f"lease-{tag}", f"court-{tag}"])
    await case(stack, f"Eviction {tag}", tags=[f"court-{tag}"])
    private = await case(stack, f"Private {tag}", tags=[f"court-{tag}", f"secret-{tag}"],
                         restricted=True)  # the staff key does not see it
    await case(stack, f"Another lease {tag}", tags=[f"lease-{tag}"])
    listed = {t["name"]: t for t in (await http.get("/tags", headers=staff, params={"q": tag})).json()}
    assert set(listed) == {f"court-{tag}", f"lease-{tag}"}  # not the private case's own tag
    assert listed[f"court-{tag}"]["cases"] == 2 and listed[f"lease-{tag}"]["cases"] == 2

    court, lease = listed[f"court-{tag}"]["id"], listed[f"lease-{tag}"]["id"]
    refused = await http.patch(f"/tags/{court}", headers=staff, json={"name": f"Tribunal-{tag}"})
    assert refused.status_code == 403 and "also on cases you do not see" in refused.json()["detail"], refused.text
    renamed = await http.patch(f"/tags/{court}", headers=admin, json={"name": f"Tribunal-{tag}"})
    assert renamed.json() == {"id": court, "name": f"Tribunal-{tag}", "cases": 3}
    lease_renamed = await http.patch(f"/tags/{lease}", headers=staff, json={"name": f"Locazione-{tag}"})
    assert lease_renamed.json() == {"id": lease, "name": f"Locazione-{tag}", "cases": 2}

    assert (await http.post(f"/tags/{court}/merge", headers=staff, json={"into_tag_id": lease})).status_code == 403
    merged = await http.post(f"/tags/{court}/merge", headers=admin, json={"into_tag_id": lease})
    assert merged.status_code == 200, merged.text
    assert merged.json() == {"id": lease, "name": f"Locazione-{tag}", "cases": 4}
    [after] = (await http.get("/tags", headers=staff, params={"q": tag})).json()
    assert after == {"id": lease, "name": f"Locazione-{tag}", "cases": 3}

    made_again = await http.post("/tags", headers=staff, json={"name": f"SECRET-{tag}"})
    assert made_again.status_code == 409 and f"secret-{tag}" not in made_again.text.lower(), made_again.text
    secret = {t["name"]: t["id"] for t in (await http.get("/tags", headers=admin, params={"q": tag})).json()}
    secret_id = secret[f"secret-{tag}"]
    assert (await http.patch(f"/tags/{secret_id}", headers=staff, json={"name": "x"})).status_code == 404
    assert (await http.delete(f"/tags/{secret_id}", headers=staff)).status_code == 404
    assert (await http.post(f"/tags/{lease}/merge", headers=staff, json={"into_tag_id": secret_id})).status_code \
        == 404
    kept = (await http.get(f"/cases/{private['id']}", headers=admin)).json()
    assert sorted(kept["tags"]) == [f"Locazione-{tag}", f"secret-{tag}"]
    # each change of a tag is a line on every case carrying it (a rename, a merge, a deletion left none)
    lines = [line["text"] for line in (await http.get(f"/records/{private['id']}/history", headers=admin)).json()
             if line["kind"] == "tags_changed"]
    assert lines[-2:] == [f"Tag court-{tag} renamed Tribunal-{tag}", f"Tag Tribunal-{tag} merged into Locazione-{tag}"]
    assert (await http.delete(f"/tags/{secret_id}", headers=admin)).status_code == 204
    last = (await http.get(f"/records/{private['id']}/history", headers=admin)).json()[-1]
    assert (last["kind"], last["text"]) == ("tags_changed", f"Tag secret-{tag} deleted")


async def test_percent_and_underscore_in_a_search_are_text_not_wildcards(stack: Stack) -> None:
    http, staff = stack.http, stack.as_("staff")
    tag = uuid.uuid4().hex[:6]
    percent = await case(stack, f"Discount 5%-{tag}", tags=[f"rate_{tag}"])
    underscore = await case(stack, f"file_{tag}")
    await case(stack, f"Discount 5x-{tag}", tags=[f"rateX{tag}"])
    await case(stack, f"fileX{tag}")

    def names(response: Any) -> list[str]:
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()]

    assert names(await http.get("/cases", headers=staff, params={"q": f"5%-{tag}"})) == [percent["name"]]
    assert names(await http.get("/cases", headers=staff, params={"q": f"file_{tag}"})) == [underscore["name"]]
    for wildcard in ("%", "_"):  # a case is found by its name or by one of its tags' names
        found = (await http.get("/cases", headers=staff, params={"q": wildcard, "limit": 500})).json()
        assert found and all(wildcard in " ".join([c["name"], *c["tags"]]) for c in found), found
        tags = names(await http.get("/tags", headers=staff, params={"q": wildcard, "limit": 1000}))
        assert all(wildcard in name for name in tags), tags
    assert names(await http.get("/tags", headers=staff, params={"q": f"rate_{tag}"})) == [f"rate_{tag}"]
    assert names(await http.get("/tags", headers=staff, params={"q": f"e_{tag}"})) == [f"rate_{tag}"]


async def test_a_case_name_is_trimmed_and_never_blank(stack: Stack) -> None:
    http, staff = stack.http, stack.as_("staff")
    tag = uuid.uuid4().hex[:6]
    for blank in ("   ", "\t\n ", ""):
        refused = await http.post("/cases", headers=staff, json={"name": blank, "tags": [f"blank-{tag}"]})
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["path"] == "body.name" and ("spaces" in error["message"] or not blank), error
    assert (await http.get("/tags", headers=staff, params={"q": f"blank-{tag}"})).json() == []  # nothing written

    created = await case(stack, f"  Trimmed {tag}  ")
    assert created["name"] == f"Trimmed {tag}"
    for blank in ("  ", ""):
        refused = await http.patch(f"/cases/{created['id']}", headers=staff, json={"name": blank})
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["path"] == "body.name" and ("spaces" in error["message"] or not blank), error
    renamed = await http.patch(f"/cases/{created['id']}", headers=staff, json={"name": f" Renamed {tag} "})
    assert renamed.status_code == 200 and renamed.json()["name"] == f"Renamed {tag}"
    assert (await http.get(f"/cases/{created['id']}", headers=staff)).json()["name"] == f"Renamed {tag}"


async def test_a_tag_whose_folded_name_is_too_long_is_refused_at_its_path(stack: Stack) -> None:
    """64 times ß is 64 characters, but its key (the name with its case folded) 128: PostgreSQL answered 'out of
    range for the database' with no path"""
    http, staff = stack.http, stack.as_("staff")
    for url, body, path in (("/tags", {"name": "ß" * 64}, "body.name"),
                            ("/cases", {"name": f"Tags {uuid.uuid4().hex[:6]}", "tags": ["ok", "ß" * 40]},
                             "body.tags[1]")):
        refused = await http.post(url, headers=staff, json=body)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["path"] == path and "once its case is folded" in error["message"], error
    assert (await http.post("/tags", headers=staff, json={"name": "ß" * 28 + uuid.uuid4().hex[:4]})).status_code == 201


async def test_a_tag_typed_with_its_accent_composed_or_not_is_one_tag(stack: Stack) -> None:
    """`Perché` typed, and pasted from a file named on a Mac (e and a combining accent), look the same and were two
    tags; the name is now stored composed, and either finds it"""
    http, staff = stack.http, stack.as_("staff")
    word = f"Perch{uuid.uuid4().hex[:4]}"
    created = await http.post("/tags", headers=staff, json={"name": word + "e\u0301"})
    assert created.status_code == 201 and created.json()["name"] == word + "\u00e9", created.text
    taken = await http.post("/tags", headers=staff, json={"name": word.upper() + "\u00c9"})
    assert taken.status_code == 409, taken.text
    case = await http.post("/cases", headers=staff, json={"name": f"Caso {word}", "tags": [word + "\u00e9",
                                                                                          word + "e\u0301"]})
    assert case.status_code == 201 and case.json()["tags"] == [word + "\u00e9"], case.text
    found = await http.get("/cases", headers=staff, params={"q": word + "e\u0301"})
    assert [c["id"] for c in found.json()] == [case.json()["id"]]


async def test_what_a_case_says_of_a_restricted_contact_or_record_stays_with_those_who_see_it(
        stack: Stack, sessions: Any) -> None:
    """A restricted participant's name was in the case's history for all, `?participant_id=` found its cases for
    staff who get 404 on it, and a notice emailed a restricted case's name and note to a user who does not see it"""
    http, admin = stack.http, stack.as_("admin")
    tag = uuid.uuid4().hex[:6]
    maria, luca = await user(stack, "maria"), await user(stack, "luca")
    keys = {}
    async with sessions() as session:
        for who in (maria, luca):
            _, keys[who["id"]] = await create_key(session, f"cases {who['handle']}", ApiRole.staff, user_id=who["id"])
    as_maria, as_luca = {"X-API-Key": keys[maria["id"]]}, {"X-API-Key": keys[luca["id"]]}
    secret = await contact(stack, f"Niccolò Riservato {tag}", owner_id=maria["id"], restricted=True)
    public = await case(stack, f"Successione {tag}", participant_ids=[secret["id"]])
    assert (await http.get("/cases", headers=as_luca, params={"participant_id": secret["id"]})).json() == []
    assert [c["id"] for c in (await http.get("/cases", headers=as_maria,
                                             params={"participant_id": secret["id"]})).json()] == [public["id"]]
    lines = [line["text"] for line in (await http.get(f"/records/{public['id']}/history", headers=as_luca)).json()]
    assert not [line for line in lines if "Riservato" in line] and any(f"#{secret['id']}" in line for line in lines)

    told = await http.post("/cases", headers=as_maria, json={
        "name": f"Fallimento riservato {tag}", "restricted": True, "owner_id": maria["id"],
        "notify_user_ids": [maria["id"], luca["id"]]})
    assert told.status_code == 422 and [e["path"] for e in told.json()["errors"]] == ["body.notify_user_ids[1]"]
    hidden = await case(stack, f"Divorzio {tag}", restricted=True, owner_id=maria["id"])
    note = await http.post(f"/records/{hidden['id']}/events", headers=as_maria, json={
        "kind": "note", "description": "Segreto", "notify_user_ids": [luca["id"]]})
    assert note.status_code == 422 and [e["path"] for e in note.json()["errors"]] == ["body.notify_user_ids[0]"]
    outbox = (await http.get("/outbox", headers=admin, params={"limit": 500})).json()
    assert not [m for m in outbox if tag in m["subject"] and m["to_address"] == luca["email"]]
