"""A JSON body names each key once per object: `{"owner_id": 1, "owner_id": 2}` was taken as its last key, a meaning
other readers of the same text do not share (I-JSON, RFC 7493). Refused with the key's path, nothing changed."""

from __future__ import annotations

import json
import uuid

from api.sent_json import keys_twice
from tests.bad_input.conftest import Api


def test_each_key_given_twice_is_found_where_it_is() -> None:
    assert keys_twice('{"a": 1, "b": {"c": [{"d": 1, "d": 2}], "e": 3, "e": 4}, "a": 5}') == [
        ("a",), ("b", "e"), ("b", "c", 0, "d")]
    assert keys_twice('{"a": {"a": 1}, "b": [1, {"a": 2}], "c": "{\\"x\\": 1, \\"x\\": 2}"}') == []
    assert keys_twice(b"[1, 2]") == [] and keys_twice("null") == []


async def test_a_key_given_twice_in_a_body_is_refused_with_its_path_and_nothing_is_made(api: Api) -> None:
    admin = {**api.as_("admin"), "Content-Type": "application/json"}
    tag = uuid.uuid4().hex[:8]
    title = f"Twice {tag}"
    sent = [
        ("POST", "/records", f'{{"kind": "lead", "title": "{title}", "owner_id": 1, "owner_id": 2}}',
         ["body.owner_id"]),
        ("POST", "/records", f'{{"kind": "lead", "title": "{title}", "fields": {{"budget": 1, "budget": 2}}}}',
         ["body.fields.budget"]),
        ("POST", "/users", f'{{"handle": "twice{tag}", "name": "A", "name": "B", "email": "t{tag}@agency.example", '
                           f'"email": "u{tag}@agency.example"}}', ["body.name", "body.email"]),
    ]
    for method, url, body, paths in sent:
        response = await api.http.request(method, url, headers=admin, content=body)
        assert response.status_code == 422, (url, response.text)
        assert [error["path"] for error in response.json()["errors"]] == paths
        assert response.json()["errors"][0]["message"].endswith("is given twice in this object: a JSON object names "
                                                                 "each key once")
    found = (await api.http.get("/records", headers=admin, params={"q": title})).json()
    assert found == []
    users = (await api.http.get("/users", headers=admin, params={"limit": 500})).json()
    assert [u for u in users if u["handle"] == f"twice{tag}"] == []

    once = await api.http.post("/records", headers=admin, content=json.dumps(
        {"kind": "lead", "title": title, "fields": {"budget": 1, "notes": {"budget": 2}}}))
    assert once.status_code == 201, once.text


async def test_a_key_the_body_does_not_know_is_refused_with_its_path_and_nothing_is_made(api: Api) -> None:
    """A misspelt key is not dropped for its default to apply; a free map (a record's `fields`) takes any key"""
    staff = {**api.as_("staff"), "Content-Type": "application/json"}
    title = f"Unknown {uuid.uuid4().hex[:8]}"
    refused = await api.http.post("/records", headers=staff, content=json.dumps(
        {"kind": "lead", "title": title, "ownr_id": 1, "fields": {"budget": 1}}))
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert [error["path"] for error in errors] == ["body.ownr_id"]
    assert errors[0]["message"].startswith("'ownr_id' is not a field of this object (its fields: ")
    assert "owner_id" in errors[0]["message"]
    assert (await api.http.get("/records", headers=staff, params={"q": title})).json() == []

    made = await api.http.post("/records", headers=staff, content=json.dumps(
        {"kind": "lead", "title": title, "fields": {"any key": {"nested": 1}}}))
    assert made.status_code == 201, made.text

    # a body that may be left out is checked too: a close, a completion and a resend had dropped the misspelt key
    # and done the action with the defaults (a case closed, a task done without its answers)
    record = made.json()
    case = (await api.http.post("/cases", headers=staff, content=json.dumps({"name": title}))).json()
    task = (await api.http.post("/tasks", headers=staff, content=json.dumps(
        {"record_id": record["id"], "title": "Call"}))).json()
    for url, body, path in ((f"/cases/{case['id']}/close", {"resaon": "typo"}, "body.resaon"),
                            (f"/tasks/{task['id']}/complete", {"answerz": {"a": "b"}}, "body.answerz"),
                            ("/client-requests/999999/resend", {"expires_dayz": 9}, "body.expires_dayz")):
        refused = await api.http.post(url, headers=staff, content=json.dumps(body))
        assert refused.status_code == 422 and [e["path"] for e in refused.json()["errors"]] == [path], refused.text
    assert (await api.http.get(f"/cases/{case['id']}", headers=staff)).json()["state"] == "open"
    assert (await api.http.get(f"/tasks/{task['id']}", headers=staff)).json()["status"] == "open"
    closed = await api.http.post(f"/cases/{case['id']}/close", headers=staff)  # no body at all: still taken
    assert closed.status_code == 200, closed.text


async def test_a_text_holding_nul_is_refused_with_its_path_on_either_database(api: Api) -> None:
    """PostgreSQL cannot keep NUL in a text ("out of range for the database", no path) and SQLite kept it"""
    admin = {**api.as_("admin"), "Content-Type": "application/json"}
    title = f"Nul {uuid.uuid4().hex[:8]}"
    sent = [("POST", "/records", {"kind": "contact", "title": f"{title}\u0000"}, ["body.title"]),
            ("POST", "/records", {"kind": "contact", "title": title, "fields": {"note": ["ok", "a\u0000b"],
                                                                                  "k\u0000": 1}},
             ["body.fields.note[1]", "body.fields.k\u0000"]),
            ("POST", "/cases", {"name": f"{title}\u0000"}, ["body.name"]),
            # a start is answered by its express lane, which hands this one to the route
            ("POST", "/processes", {"template": "x", "record_id": 1, "request_id": "a\u0000"}, ["body.request_id"]),
            # a query string's %00: q=%00 matched every record on SQLite
            ("GET", "/records?q=%00", None, ["query.q"]), ("GET", "/cases?q=a%00b", None, ["query.q"]),
            ("GET", "/tags?q=%00", None, ["query.q"]), ("GET", "/records?status=%00&kind=lead", None, ["query.status"]),
            ("GET", "/tasks?category=%00", None, ["query.category"]),
            ("GET", "/records/1%00", None, ["path.record_id"])]
    for method, url, body, paths in sent:
        response = await api.http.request(method, url, headers=admin,
                                          content=json.dumps(body) if body is not None else None)
        assert response.status_code == 422, (url, response.text)
        assert [error["path"] for error in response.json()["errors"]] == paths, (url, response.text)
        assert response.json()["errors"][0]["message"] == "holds the NUL character (\\u0000), which no text may hold"
    assert (await api.http.get("/records", headers=admin, params={"q": title})).json() == []


async def test_half_a_surrogate_pair_is_refused_where_it_is_and_a_whole_pair_is_its_character(api: Api) -> None:
    """JSON writes an emoji as two escapes (\\ud83d\\ude00); one of them alone is no character: stored, no database
    kept it, and a template echoing it stopped the render process (a 503)"""
    admin = {**api.as_("admin"), "Content-Type": "application/json"}
    title = f"Coppia {uuid.uuid4().hex[:8]}"
    whole = await api.http.post("/records", headers=admin,
                                content=json.dumps({"kind": "contact", "title": f"{title} \ud83d\ude00"}))
    assert whole.status_code == 201 and whole.json()["title"] == f"{title} 😀", whole.text
    for body, path in (({"kind": "contact", "title": f"{title} \ud83d"}, "body.title"),
                       ({"kind": "contact", "title": title, "fields": {"k\ude00": 1}}, "body.fields.k\ude00")):
        response = await api.http.post("/records", headers=admin, content=json.dumps(body))
        assert response.status_code == 422, response.text
        [error] = response.json()["errors"]
        assert error["path"] == path and error["message"].startswith("holds half of a UTF-16 surrogate pair"), error
    template = {"key": "half-pair", "name": "Mezza \ud83d", "record_kind": "lead",
                "controller_email": "controller@agency.example", "phases": [{"key": "a", "name": "A \ud83d\ude00"}]}
    for url in ("/templates/validate", "/templates", "/pipelines/validate"):
        response = await api.http.post(url, headers=admin, content=json.dumps(template))
        assert response.status_code == 422 and "surrogate" in response.text, (url, response.text)


async def test_a_title_or_name_with_a_character_no_one_sees_is_refused(api: Api) -> None:
    """ESC, BEL or a line break in a title, and U+202E, which shows the text after it reversed (a task list showed
    what the title did not hold), were stored as typed"""
    admin = api.as_("admin")
    tag = uuid.uuid4().hex[:8]
    for method, url, body, path in (
            ("POST", "/records", {"kind": "lead", "title": f"Rossi \x1b[31m{tag}"}, "body.title"),
            ("POST", "/records", {"kind": "lead", "title": f"Fattura \u202efdp.exe {tag}"}, "body.title"),
            ("POST", "/cases", {"name": f"Pratica\n{tag}"}, "body.name"),
            ("POST", "/records", {"kind": "lead", "title": f"Ok {tag}", "status": "Nuo\x07vo"}, "body.status"),
            # a user's name and role, a record's type and channel, a tag (a case's too): stored as typed before
            ("POST", "/users", {"handle": f"u{tag}", "name": "Anna\r\nBcc: x", "email": f"u{tag}@agency.example"},
             "body.name"),
            ("POST", "/users", {"handle": f"v{tag}", "name": "Anna", "email": f"v{tag}@agency.example",
                                "role": "x\ty"}, "body.role"),
            ("PATCH", "/users/1", {"name": "Anna\u202e"}, "body.name"),
            ("POST", "/records", {"kind": "lead", "title": f"Ok {tag}", "channel": "w\neb"}, "body.channel"),
            ("POST", "/records", {"kind": "lead", "title": f"Ok {tag}", "type": "x\u202e"}, "body.type"),
            ("PATCH", "/records/1", {"channel": "\x1b[31mweb"}, "body.channel"),
            ("POST", "/tags", {"name": f"a\u0001{tag}"}, "body.name"),
            ("POST", "/cases", {"name": f"Pratica {tag}", "tags": [f"x\u202e{tag}"]}, "body.tags[0]")):
        response = await api.http.request(method, url, headers=admin, json=body)
        assert response.status_code == 422, (body, response.text)
        [error] = response.json()["errors"]
        assert error["path"] == path and "a character no one can see" in error["message"], error
    kept = await api.http.post("/records", headers=admin, json={"kind": "lead", "title": f"  Niccolò “Città” {tag} "})
    assert kept.status_code == 201 and kept.json()["title"] == f"Niccolò “Città” {tag}", kept.text
