"""Moving records: initial statuses per type, the type's sequence, 409s, racing moves, type changes, the board."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.pipelines.conftest import Api, repair_pipeline, save


async def setup(api: Api) -> tuple[str, dict[str, Any]]:
    tag = uuid.uuid4().hex[:8]
    document = repair_pipeline(tag)
    assert (await save(api, document)).status_code == 201
    return tag, document


async def job(api: Api, type_name: str, **values: Any) -> dict[str, Any]:
    response = await api.http.post("/records", headers=api.as_("staff"),
                                   json={"kind": "job", "title": f"Laptop {uuid.uuid4().hex[:6]}", "type": type_name,
                                         **values})
    assert response.status_code == 201, response.text
    return response.json()


async def move(api: Api, record_id: int, **body: Any) -> Any:
    return await api.http.post(f"/records/{record_id}/move", headers=api.as_("staff"), json=body)


async def history(api: Api, record_id: int) -> list[dict[str, Any]]:
    return (await api.http.get(f"/records/{record_id}/history", headers=api.as_("staff"))).json()


async def test_new_records_get_their_types_initial_status(api: Api) -> None:
    tag, _ = await setup(api)
    assert (await job(api, f"Warranty repair {tag}"))["status"] == "Diagnosis"
    assert (await job(api, f"Paid repair {tag}"))["status"] == "New"  # none configured: New
    assert (await job(api, f"Untyped {tag}", status="Anything"))["status"] == "Anything"  # no pipeline: free
    imported = await job(api, f"Paid repair {tag}", status="In repair")  # an import: a status of its sequence
    assert imported["status"] == "In repair"
    wrong = await api.http.post("/records", headers=api.as_("staff"), json={
        "kind": "job", "title": "Phone", "type": f"Warranty repair {tag}", "status": "Quote sent"})
    assert wrong.status_code == 409 and "its statuses: Diagnosis, Warranty claim filed" in wrong.json()["detail"]
    # the type in another letter case (or with spaces around) is the pipeline's: it was a type of no pipeline
    lower = await job(api, f" warranty REPAIR {tag} ")
    assert (lower["type"], lower["status"]) == (f"Warranty repair {tag}", "Diagnosis")


async def test_a_move_checks_the_sequence_and_writes_one_line(api: Api) -> None:
    tag, _ = await setup(api)
    record = await job(api, f"Warranty repair {tag}")
    allowed = (await api.http.get(f"/records/{record['id']}/allowed-moves", headers=api.as_("staff"))).json()
    assert allowed["allowed_next"] == ["Warranty claim filed"] and allowed["governed"]
    assert allowed["substates"] == ["Waiting for parts", "Customer called"]
    refused = await move(api, record["id"], to="Quote sent")
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "MoveRefused"
    assert "allowed next: Warranty claim filed" in refused.json()["detail"]
    before = await history(api, record["id"])
    moved = await move(api, record["id"], to=" Warranty claim filed ", reason="under guarantee until 2027")
    assert moved.status_code == 200 and moved.json()["status"] == "Warranty claim filed"
    lines = (await history(api, record["id"]))[len(before):]
    assert len(lines) == 1
    assert lines[0]["kind"] == "status_changed"
    assert lines[0]["text"] == ("Status changed from 'Diagnosis' to 'Warranty claim filed' by API key "
                                "'bad input staff': under guarantee until 2027")
    assert lines[0]["actor"].startswith("key:") and lines[0]["actor"].endswith(":bad input staff")
    assert lines[0]["data"]["from"] == "Diagnosis" and lines[0]["data"]["to"] == "Warranty claim filed"
    stale = await move(api, record["id"], to="In repair", expected_status="Diagnosis")
    assert stale.status_code == 409 and "is in 'Warranty claim filed', not 'Diagnosis'" in stale.json()["detail"]
    patched = await api.http.patch(f"/records/{record['id']}", headers=api.as_("staff"), json={"status": "Closed"})
    assert patched.status_code == 409  # a PATCH of the status is a move like any other
    assert (await api.http.get(f"/records/{record['id']}", headers=api.as_("staff"))).json()["status"] == \
        "Warranty claim filed"
    neither = await move(api, record["id"], to="In repair", open_substate="Customer called")
    assert neither.status_code == 422


async def test_substates_open_and_close(api: Api) -> None:
    tag, _ = await setup(api)
    record = await job(api, f"Warranty repair {tag}")
    assert (await move(api, record["id"], open_substate="Waiting for parts")).status_code == 200
    opened = await move(api, record["id"], open_substate="Customer called")
    assert set(opened.json()["substates"]) == {"Waiting for parts", "Customer called"}  # several at once
    again = await move(api, record["id"], open_substate="Customer called")
    assert again.status_code == 409 and "open already" in again.json()["detail"]
    unknown = await move(api, record["id"], open_substate="Site visit")
    assert unknown.status_code == 409 and "its substates: Waiting for parts, Customer called" in unknown.json()["detail"]
    closed = await move(api, record["id"], close_substate="Waiting for parts")
    assert list(closed.json()["substates"]) == ["Customer called"]
    left = await move(api, record["id"], to="Warranty claim filed")
    assert left.json()["substates"] == {}  # leaving the status closes its substates
    kinds = [line["kind"] for line in await history(api, record["id"])]
    assert kinds.count("substate_opened") == 2 and kinds.count("substate_closed") == 1


async def test_racing_moves_one_wins(api: Api) -> None:
    tag, _ = await setup(api)
    record = await job(api, f"Paid repair {tag}", status="Diagnosis")
    answers = await asyncio.gather(*(move(api, record["id"], to=status)
                                     for status in ["Quote sent", "Quote sent", "Quote sent", "Quote sent"]))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409, 409, 409], [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert "'Quote sent'" in answer.json()["detail"]  # the record's current status
    lines = [line for line in await history(api, record["id"]) if line["kind"] == "status_changed"]
    assert len(lines) == 1


async def test_changing_the_type(api: Api) -> None:
    tag, _ = await setup(api)
    record = await job(api, f"Paid repair {tag}", status="Diagnosis")
    url, staff = f"/records/{record['id']}", api.as_("staff")
    kept = await api.http.patch(url, headers=staff, json={"type": f"warranty repair {tag}"})
    assert kept.status_code == 200 and kept.json()["status"] == "Diagnosis"  # the new type allows it
    assert kept.json()["type"] == f"Warranty repair {tag}"  # as its pipeline names it
    await move(api, record["id"], to="Warranty claim filed")
    refused = await api.http.patch(url, headers=staff, json={"type": f"Paid repair {tag}", "title": "Changed"})
    assert refused.status_code == 409
    assert "pick one of its statuses: New, Diagnosis, Quote sent, In repair" in refused.json()["detail"]
    unchanged = (await api.http.get(url, headers=staff)).json()
    assert unchanged["type"] == f"Warranty repair {tag}" and unchanged["title"] == record["title"]
    picked = await api.http.patch(url, headers=staff, json={"type": f"Paid repair {tag}", "status": "Quote sent"})
    assert picked.status_code == 200 and picked.json()["status"] == "Quote sent"
    assert (await history(api, record["id"]))[-1]["kind"] == "type_changed"


async def test_the_board(api: Api) -> None:
    tag, document = await setup(api)
    owner = (await api.http.post("/users", headers=api.as_("admin"), json={
        "handle": f"o{tag}", "name": "Owner", "email": f"o{tag}@agency.example"})).json()
    for n in range(3):
        await job(api, f"Paid repair {tag}", channel="web", owner_id=owner["id"])
    await job(api, f"Warranty repair {tag}", channel="phone")
    await job(api, f"Warranty repair {tag}", restricted=True, owner_id=owner["id"])  # hidden from other staff
    url, staff = f"/pipelines/{document['key']}/board", api.as_("staff")
    everything = (await api.http.get(url, headers=api.as_("admin"))).json()
    assert {c["status"]: c["count"] for c in everything["columns"]}["Diagnosis"] == 2
    board = (await api.http.get(url, headers=staff, params={"limit": 2})).json()
    columns = {c["status"]: c for c in board["columns"]}
    assert list(columns) == [s["name"] for s in document["statuses"]]
    assert columns["New"]["count"] == 3 and len(columns["New"]["records"]) == 2
    assert columns["Diagnosis"]["count"] == 1
    web = (await api.http.get(url, headers=staff, params={"channel": "phone"})).json()
    assert {c["status"]: c["count"] for c in web["columns"]}["New"] == 0
    mine = (await api.http.get(url, headers=staff, params={"owner_id": owner["id"],
                                                           "type": f"Paid repair {tag}"})).json()
    assert sum(c["count"] for c in mine["columns"]) == 3
    unknown = await api.http.get(url, headers=staff, params={"type": "Paid repiar"})
    assert unknown.status_code == 404


async def test_a_status_removed_while_records_sit_in_it(api: Api) -> None:
    tag, document = await setup(api)
    record = await job(api, f"Paid repair {tag}", status="Quote sent")
    document["statuses"] = [s for s in document["statuses"] if s["name"] != "Quote sent"]
    document["moves"] = {k: [t for t in v if t != "Quote sent"] for k, v in document["moves"].items()
                         if k != "Quote sent"}
    document["types"][1]["statuses"].remove("Quote sent")
    refused = await save(api, document)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["path"] == "remap.Quote sent"
    assert "1 record of type" in refused.json()["detail"] and "' is in '" in refused.json()["detail"]
    for remap, message in (({"Quote snet": "In repair"}, "no status 'Quote snet' in the version this one replaces"),
                           ({"Quote sent": "In repiar"}, "'In repiar' is not a status of this version"),
                           ({"Quote sent": "In repair", "New": "Closed"}, "'New' is still a status of this version")):
        typo = await save(api, {**document, "remap": remap})  # taken as nothing to move: a record left stranded
        assert typo.status_code == 422 and message in typo.text, typo.text
    saved = await save(api, {**document, "remap": {"Quote sent": "In repair"}})
    assert saved.status_code == 201, saved.text
    assert saved.json()["remapped"] == {"Quote sent": 1}
    read_later = (await api.http.get(saved.headers["location"], headers=api.as_("staff"))).json()
    assert "remapped" not in read_later  # it answered {} as if the save had moved nothing
    moved = (await api.http.get(f"/records/{record['id']}", headers=api.as_("staff"))).json()
    assert moved["status"] == "In repair"
    assert "left pipeline" in (await history(api, record["id"]))[-1]["text"]


async def test_moves_racing_a_save_that_removes_their_status_leave_no_record_in_it(api: Api) -> None:
    """A save removing `Mid` (remap to `End`) raced by moves into `Mid`: each move came before the save (and was
    remapped) or after it (and is refused); none lands in a status the pipeline no longer has (18 of 30 did)"""
    tag = uuid.uuid4().hex[:8]
    kind = f"Race {tag}"
    document = {"key": f"race-{tag}", "name": "Race", "record_kind": "job",
                "statuses": [{"name": "New"}, {"name": "Mid"}, {"name": "End"}],
                "moves": {"New": ["Mid", "End"], "Mid": ["End"]}, "types": [{"name": kind}]}
    assert (await save(api, document)).status_code == 201
    records = [await job(api, kind) for _ in range(30)]
    smaller = {**document, "statuses": [{"name": "New"}, {"name": "End"}], "moves": {"New": ["End"]},
               "remap": {"Mid": "End"}}
    *moves, saved = await asyncio.gather(*(move(api, r["id"], to="Mid") for r in records), save(api, smaller))
    assert saved.status_code == 201, saved.text
    assert {m.status_code for m in moves} <= {200, 409}, [m.text for m in moves if m.status_code not in (200, 409)]
    statuses = [(await api.http.get(f"/records/{r['id']}", headers=api.as_("staff"))).json()["status"]
                for r in records]
    assert "Mid" not in statuses, statuses
    assert statuses.count("End") == saved.json()["remapped"].get("Mid", 0) == sum(m.status_code == 200 for m in moves)


async def test_a_type_left_out_with_records_is_one_error_with_all_its_records(api: Api) -> None:
    tag, document = await setup(api)
    for status in ("New", "Diagnosis", "Diagnosis"):
        await job(api, f"Paid repair {tag}", status=status)
    document["types"] = [t for t in document["types"] if t["name"] != f"Paid repair {tag}"]
    refused = await save(api, document)
    assert refused.status_code == 422, refused.text
    assert [(e["path"], e["message"]) for e in refused.json()["errors"]] == [
        ("types", f"record type 'Paid repair {tag}' has 3 records: keep it in the pipeline, or change their type "
                  "first")]


async def test_validate_answers_what_the_save_would_do(api: Api) -> None:
    """POST /pipelines/validate refuses what the save refuses, gives the version the save would store (unchanged:
    the latest, which the save keeps) and the records it would move, and changes nothing"""
    tag, document = await setup(api)

    async def validate(body: dict[str, Any]) -> Any:
        return await api.http.post("/pipelines/validate", headers=api.as_("admin"), json=body)

    # its counts take in restricted records, which a staff key does not see: an admin's, as the save
    refused = await api.http.post("/pipelines/validate", headers=api.as_("staff"), json=document)
    assert refused.status_code == 403, refused.text
    same = await validate(document)
    assert same.status_code == 200, same.text
    assert (same.json()["version"], same.json()["changed"]) == (1, False)
    assert (await save(api, document)).status_code == 200  # the save agrees: nothing saved

    record = await job(api, f"Paid repair {tag}", status="Quote sent")
    document["statuses"] = [s for s in document["statuses"] if s["name"] != "Quote sent"]
    document["moves"] = {k: [t for t in v if t != "Quote sent"] for k, v in document["moves"].items()
                         if k != "Quote sent"}
    document["types"][1]["statuses"].remove("Quote sent")
    without_paid = {**document, "types": document["types"][:1]}
    taking_a_type = repair_pipeline(types=[{"name": f"Paid repair {tag}"}])
    bad_remap = {**document, "remap": {"Quote sent": "Nowhere"}}
    for refused in (document, without_paid, taking_a_type, bad_remap):
        checked, saved = await validate(refused), await save(api, refused)
        assert checked.status_code == saved.status_code and checked.status_code in (409, 422), checked.text
        assert checked.json().get("errors") == saved.json().get("errors"), checked.text
        assert checked.json()["detail"] == saved.json()["detail"]
    assert "remap.Quote sent" in [e["path"] for e in (await validate(document)).json()["errors"]]
    assert (await validate(without_paid)).json()["errors"][0]["path"] == "types"

    mapped = {**document, "remap": {"Quote sent": "In repair"}}
    checked = await validate(mapped)
    assert checked.status_code == 200, checked.text
    assert (checked.json()["version"], checked.json()["changed"], checked.json()["remapped"]) == (
        2, True, {"Quote sent": 1})
    staff = api.as_("staff")
    assert (await api.http.get(f"/records/{record['id']}", headers=staff)).json()["status"] == "Quote sent"
    versions = (await api.http.get(f"/pipelines/{document['key']}/versions", headers=staff)).json()
    assert [v["version"] for v in versions] == [1]
    saved = await save(api, mapped)
    assert (saved.status_code, saved.json()["version"], saved.json()["remapped"]) == (201, 2, {"Quote sent": 1})


async def test_a_substate_a_save_removes_is_closed_where_records_have_it_open(api: Api) -> None:
    """Left open, it showed on the board and in allowed-moves, and closing it was refused: the status had no
    such substate any more"""
    tag, document = await setup(api)
    record = await job(api, f"Paid repair {tag}", status="Diagnosis")
    assert (await move(api, record["id"], open_substate="Waiting for parts")).status_code == 200
    assert (await move(api, record["id"], open_substate="Customer called")).status_code == 200
    document["statuses"][1]["substates"] = [{"name": "Customer called"}]
    assert (await save(api, document)).status_code == 201
    after = (await api.http.get(f"/records/{record['id']}", headers=api.as_("staff"))).json()
    assert list(after["substates"]) == ["Customer called"]
    last = (await history(api, record["id"]))[-1]
    assert last["kind"] == "substate_closed" and "'Waiting for parts' closed: it left status 'Diagnosis'" in last["text"]
    assert (await move(api, record["id"], close_substate="Customer called")).status_code == 200
