"""A flag is `true` or `false` and a moment is ISO 8601 text: pydantic's lax defaults took `0` for false and a
number as seconds since 1970 (schemathesis's negative-data check found both). Refused with the field's path,
nothing changed; and every JSON body's flags and moments are declared so (a new field cannot slip back)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, Strict

from api.admission import api_routes
from api.app import create_app
from settings import Settings
from tests.bad_input.conftest import Api


def _paths(response: Any) -> list[str]:
    return [error["path"] for error in response.json().get("errors", [])]


async def test_a_number_for_a_flag_or_a_moment_is_refused_with_its_path(api: Api) -> None:
    """0 for a flag, a number for a date and time (body and query): 422 naming the field, nothing changed"""
    admin = api.as_("admin")
    tag = uuid.uuid4().hex[:8]
    user = (await api.http.post("/users", headers=admin, json={
        "handle": f"types{tag}", "name": "Tina Types", "email": f"types{tag}@agency.example"})).json()
    record = (await api.http.post("/records", headers=admin, json={
        "kind": "lead", "title": f"Types {tag}", "owner_id": user["id"]})).json()
    refused = [
        ("patch", f"/users/{user['id']}", {"active": 0}, "body.active"),
        ("patch", f"/records/{record['id']}", {"restricted": 1}, "body.restricted"),
        ("patch", f"/records/{record['id']}", {"restricted": "yes"}, "body.restricted"),
        ("patch", f"/records/{record['id']}", {"owner_id": True}, "body.owner_id"),  # was user 1
        ("post", "/tasks", {"record_id": True, "title": "Call"}, "body.record_id"),
        ("post", "/records", {"kind": "lead", "title": f"Types {tag} again", "restricted": 0}, "body.restricted"),
        ("post", "/cases", {"name": f"Case {tag}", "restricted": 0}, "body.restricted"),
        ("post", f"/records/{record['id']}/events", {"kind": "note", "description": "x", "occurred_at": 0},
         "body.occurred_at"),
        ("post", "/tasks", {"record_id": record["id"], "title": "Call", "due_at": 1764770400}, "body.due_at"),
        ("post", "/tasks", {"record_id": record["id"], "title": "Call", "due_at": "1764770400"}, "body.due_at"),
        ("get", "/processes?started_before=0.5", None, "query.started_before"),
        # past the calendar once in UTC (a 500), or a reminder before year 1 (a 422 after the task was written)
        ("post", "/tasks", {"record_id": record["id"], "title": "Fine", "due_at": "9999-12-31T23:59:59-14:00"},
         "body.due_at"),
        ("post", "/tasks", {"record_id": record["id"], "title": "Antico", "due_at": "0001-01-01T00:00:00Z",
                            "remind_minutes_before": 10}, "body.due_at"),
        ("post", f"/records/{record['id']}/events", {"kind": "note", "description": "x",
                                                     "occurred_at": "9999-12-31T23:59:59-05:00"}, "body.occurred_at"),
        ("get", "/processes?started_after=9999-12-31T23:59:59-14:00", None, "query.started_after"),
        # a flag in a query: FastAPI took 1, yes, on and off (`DELETE /cases/{id}?confirm=1` deleted the case)
        ("get", "/processes?overdue=1", None, "query.overdue"),
        ("get", "/processes?overdue=off", None, "query.overdue"),
        ("get", "/client-requests?unlinked=yes", None, "query.unlinked"),
        ("delete", "/cases/1?confirm=1", None, "query.confirm"),
        ("delete", "/cases/1?dry_run=on", None, "query.dry_run"),
        # one error where it is, not one per member of a union (`body.answers.esito.constrained-str`, `....int`...)
        ("post", "/tasks/999999999/complete", {"answers": {"esito": "x" * 2001}}, "body.answers.esito"),
        # a whole number JSON readers do not keep exactly (JavaScript's reads 2**60 + 1 as 2**60)
        ("post", "/tasks/999999999/complete", {"answers": {"units": 2**60 + 1}}, "body.answers.units"),
        ("post", "/processes/p-1/complete", {"answers": {"units": -(2**53)}}, "body.answers.units"),
        ("post", "/records", {"kind": "lead", "title": "x", "fields": {"k" * 65: 1}}, "body.fields." + "k" * 65),
    ]
    wrong = []
    for method, url, body, path in refused:
        response = await api.http.request(method.upper(), url, headers=admin, json=body)
        if response.status_code != 422 or _paths(response) != [path]:
            wrong.append(f"{method.upper()} {url} {body}: {response.status_code} {response.text[:300]}")
    assert not wrong, "\n".join(wrong)
    assert (await api.http.get(f"/users/{user['id']}", headers=admin)).json() == user
    assert (await api.http.get(f"/records/{record['id']}", headers=admin)).json() == record
    found = (await api.http.get("/records", headers=admin, params={"q": f"Types {tag} again"})).json()
    assert found == [], found
    assert (await api.http.get("/tasks", headers=admin, params={"record_id": record["id"]})).json() == []
    # what JSON writes is still taken
    accepted = [
        ("patch", f"/records/{record['id']}", {"restricted": False}),
        ("post", f"/records/{record['id']}/events",
         {"kind": "note", "description": "Chiamata", "occurred_at": "2026-12-03T15:00:00+01:00"}),
        ("post", "/tasks", {"record_id": record["id"], "title": "Call", "due_at": "2026-12-03T15:00:00Z"}),
        ("get", "/processes?started_before=2026-12-03T15:00:00", None),
    ]
    for method, url, body in accepted:
        response = await api.http.request(method.upper(), url, headers=admin, json=body)
        assert response.status_code < 300, f"{method.upper()} {url}: {response.status_code} {response.text[:300]}"


def _loose(model: type[BaseModel], where: str, seen: set[type]) -> list[str]:
    """The fields of `model` (and of the models and containers it holds) that take a flag or a moment pydantic's
    lax way."""
    if model in seen:
        return []
    seen.add(model)
    return [found for name, info in model.model_fields.items()
            for found in _loose_type(info.annotation, list(info.metadata), f"{where}.{name}", seen)]


def _loose_type(annotation: Any, metadata: list[Any], where: str, seen: set[type]) -> list[str]:
    if get_origin(annotation) is Annotated:
        return _loose_type(get_args(annotation)[0], [*metadata, *annotation.__metadata__], where, seen)
    if get_args(annotation):  # a union, a list, a dict: what the metadata says applies to the container itself
        args = get_args(annotation)
        with_flag = any(get_args(arg)[:1] == (bool,) or arg is bool for arg in args)  # true is the flag, not 1
        return [found for arg in args if not (with_flag and arg is int)
                for found in _loose_type(arg, [], where, seen)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _loose(annotation, where, seen)
    if annotation is bool and not any(isinstance(m, Strict) and m.strict for m in metadata):
        return [f"{where}: bool, not TrueOrFalse"]
    if annotation is int and "_not_a_flag" not in {getattr(getattr(m, "func", None), "__name__", "") for m in metadata}:
        return [f"{where}: int, not WholeNumber"]
    if annotation is datetime and {"_written", "_in_range"} - {getattr(getattr(m, "func", None), "__name__", "")
                                                              for m in metadata}:
        return [f"{where}: a datetime, not WrittenDatetime"]
    return []


def test_every_json_body_declares_its_flags_and_moments_strictly() -> None:
    """Each route's JSON body: every bool is TrueOrFalse, every int WholeNumber, every datetime WrittenDatetime (nested
    models, lists and unions too)"""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    found: list[str] = []
    seen: set[type] = set()
    bodies = 0
    for path, route in api_routes(app):
        if route.body_field is not None:
            bodies += 1
            found += _loose_type(route.body_field.field_info.annotation, [],
                                 f"{','.join(sorted(route.methods))} {path}", seen)
    assert bodies > 20, bodies  # every route's body, the included routers' too
    assert not found, "\n".join(found)


async def test_a_body_that_is_not_json_says_where_and_why(api: Api) -> None:
    """Broken JSON, bytes that are not UTF-8, nesting too deep to read, a number of 5,000 digits: 422 naming body
    and why (FastAPI said a bare "JSON decode error", or 400 "There was an error parsing the body"); JSON sent as
    text/plain: 415 saying to send it as application/json"""
    json_headers = {**api.as_("admin"), "Content-Type": "application/json"}
    cases = [(b'{"kind": "lead" "title": "x"}', "not JSON at character 16: Expecting ',' delimiter"),
             (b'{"kind": "lead", "title": "caf\xe9"}', "not UTF-8 at byte 30"),
             (b'{"kind": "lead", "fields": {"d": ' + b"[" * 5000 + b"]" * 5000 + b"}}", "nested too deep"),
             (b'{"kind": "lead", "title": "x", "owner_id": ' + b"9" * 5000 + b"}",
              "a number of more than 4,300 digits: send it as text")]
    for body, said in cases:
        response = await api.http.post("/records", headers=json_headers, content=body)
        assert response.status_code == 422, response.text[:300]
        [error] = response.json()["errors"]
        assert error["path"] == "body" and error["message"].startswith(said), error
    as_text = await api.http.post("/records", headers={**api.as_("admin"), "Content-Type": "text/plain"},
                                  content=b'{"kind": "lead", "title": "x"}')
    assert as_text.status_code == 415 and "application/json" in as_text.json()["detail"], as_text.text
    assert "text/plain" in as_text.json()["detail"]
    # JSON is UTF-8 (RFC 8259): one said to be in another charset was read as UTF-8 all the same
    for path, body in (("/records", b'{"kind": "lead", "title": "x"}'),
                       ("/processes", b'{"template": "x", "record_id": 1}')):
        latin = await api.http.post(path, content=body,
                                    headers={**api.as_("admin"), "Content-Type": "application/json; charset=latin-1"})
        assert latin.status_code == 415 and "charset=latin-1" in latin.json()["detail"], latin.text
    # one sent in UTF-16 or UTF-32 with no charset said was taken (Python's reader guesses them): refused too
    for encoding in ("utf-16-le", "utf-16", "utf-32"):
        other = await api.http.post("/records", content='{"kind": "lead", "title": "città ☃"}'.encode(encoding),
                                    headers={**api.as_("admin"), "Content-Type": "application/json"})
        assert other.status_code == 415 and "UTF-16 or UTF-32" in other.json()["detail"], (encoding, other.text)
    assert (await api.http.get("/records", headers=api.as_("admin"), params={"q": "città ☃"})).json() == []
