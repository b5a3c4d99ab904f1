"""The express lane of `POST /processes` (api/express_start.py) never says anything the app's own route would not: the
same requests, sent to the app with the lane and to the same app without it, get the same answers, byte for byte."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api import express_start
from api.app import create_app
from api.bounds import MAX_INT
from renderer.pool import shared_pool
from settings import Settings
from tests.bad_input.conftest import Api
from tests.e2e.calls import call_a_lead

JSON = "application/json"


@pytest.fixture
async def without_lane(dev_env: Any, database_url: str, task_queue: str, tmp_path: Path) -> AsyncIterator[
        httpx.AsyncClient]:
    """The same app on the same database and Temporal, without the express lane: every start through its own route."""
    app = create_app(Settings(database_url=database_url, temporal_task_queue=task_queue, data_dir=tmp_path),
                     temporal=dev_env.client, renderer=shared_pool())
    app.router.routes[:] = [r for r in app.router.routes if not isinstance(r, express_start.ExpressStart)]
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stagecoach", timeout=30) as http:
        yield http


def _refused(template: str, record: int) -> list[tuple[str | None, bytes, bool]]:
    """(Content-Type, body, whether the lane takes it) of requests to refuse, or to answer 404, each in its own way."""
    body = {"template": template, "record_id": record}
    text = json.dumps(body)

    def sent(**values: Any) -> bytes:
        return json.dumps({**body, **values}).encode()

    def written(record_id: str) -> bytes:  # the record's id as written, not as json.dumps would
        return f'{{"template": "{template}", "record_id": {record_id}}}'.encode()

    handed_on: list[tuple[str | None, bytes]] = [
        (JSON, b""), (JSON, b"null"), (JSON, b"[]"), (JSON, b"1"), (JSON, b'"x"'), (None, text.encode()),
        ("text/plain", text.encode()), ("application/x-www-form-urlencoded", b"template=a&record_id=1"),
        (JSON, b'{"template": "a",'), (JSON, text.encode() + b" x"),
        (JSON, f'{{"template": "{template}", "record_id": {record}, "record_id": {record}}}'.encode()),
        (JSON, f'{{"template": "{template}", "template": "other", "record_id": {record}}}'.encode()),
        (JSON, sent(record_id=MAX_INT + 1)), (JSON, sent(record_id=-MAX_INT - 1)), (JSON, sent(owner_id=2**63)),
        (JSON, sent(version=MAX_INT + 1)), (JSON, sent(record_id="99999999999")),
        (JSON, written("1e10")), (JSON, written("1" + "0" * 5000)),
        (JSON, sent(record_id=True)), (JSON, written("NaN")), (JSON, sent(version=0)),
        (JSON, sent(request_id="r" * 201)), (JSON, sent(template="Not A Key")), (JSON, sent(ownr_id=1)),
        (JSON, json.dumps({"record_id": record}).encode()), (JSON, b'{"template": "\xff", "record_id": 1}'),
        (JSON, b"[" * 100_000), (JSON, written(f"{record}.5")),
        ("application/problem+json", sent(record_id=0)), (JSON, sent(request_id="a\u0000")),
    ]
    # taken as they are, then refused by the start itself (no such template, record, version or owner)
    taken: list[tuple[str | None, bytes]] = [
        (JSON, sent(template="no-such-template")), (JSON, sent(record_id=MAX_INT)), (JSON, sent(version=99)),
        (JSON, sent(owner_id=MAX_INT)), (JSON, sent(owner_id=0)), (f"{JSON}; charset=utf-8", sent(record_id=0)),
        ("Application/JSON", sent(record_id=-MAX_INT)),
    ]
    return [(kind, text, False) for kind, text in handed_on] + [(kind, text, True) for kind, text in taken]


@pytest.fixture
def handed_on(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bodies the lane hands on to the app's route."""
    bodies: list[bytes] = []
    hand_on = express_start._hand_on

    async def counted(scope: Any, receive: Any, body: bytes, send: Any) -> None:
        bodies.append(body)
        await hand_on(scope, receive, body, send)

    monkeypatch.setattr(express_start, "_hand_on", counted)
    return bodies


def test_the_lane_knows_everything_the_route_reads() -> None:
    """The route reads its body and its caller, nothing else: a parameter added to it must be read by the lane too
    (api/express_start.py), or handed on"""
    app = create_app(Settings(), temporal=object())  # type: ignore[arg-type]  # routes only
    lane = app.router.routes[0]
    assert isinstance(lane, express_start.ExpressStart)
    read = lane.route.dependant
    assert [p.name for p in read.body_params] == ["body"] and read.body_params[0].field_info.annotation is \
        express_start.StartProcessBody
    assert not (read.query_params or read.header_params or read.path_params or read.cookie_params)
    assert [d.call.__name__ for d in read.dependencies] == ["check"]  # the caller's role (ClientDep)
    assert read.request_param_name == "request" and read.response_param_name == "response"


async def test_the_lane_answers_every_refusal_as_the_route_does(api: Api, without_lane: httpx.AsyncClient,
                                                                 handed_on: list[bytes]) -> None:
    template, record = await call_a_lead(api.http, api.as_("admin"))
    for content_type, body, taken in _refused(template, record):
        headers = {**api.as_("client"), **({"Content-Type": content_type} if content_type else {})}
        handed_on.clear()
        lane = await api.http.post("/processes", headers=headers, content=body)
        sent = (content_type, body[:80])
        assert handed_on == ([] if taken else [body]), sent
        route = await without_lane.post("/processes", headers=headers, content=body)
        assert lane.status_code == route.status_code, (sent, lane.text, route.text)
        assert 400 <= lane.status_code < 500, (sent, lane.text)
        assert lane.headers.get("content-type") == route.headers.get("content-type"), sent
        assert lane.content == route.content, (sent, lane.text, route.text)
    # a body the lane would take, with a query string: the route's to read
    body = json.dumps({"template": template, "record_id": 0}).encode()
    handed_on.clear()
    headers = {**api.as_("client"), "Content-Type": JSON}
    lane = await api.http.post("/processes?dry_run=true", headers=headers, content=body)
    route = await without_lane.post("/processes?dry_run=true", headers=headers, content=body)
    assert handed_on == [body] and lane.status_code == route.status_code and lane.content == route.content
    assert 400 <= lane.status_code < 500, lane.text
    # owner 0, no user, was taken for "no owner given": the process went to the key's user or the record's owner
    zero = await api.http.post("/processes", headers=headers, content=json.dumps(
        {"template": template, "record_id": record, "owner_id": 0}).encode())
    assert zero.status_code == 422 and [e["path"] for e in zero.json()["errors"]] == ["body.owner_id"], zero.text
    listed = await api.http.get("/processes", headers=api.as_("staff"), params={"record_id": record})
    assert listed.json()["items"] == [], "a refused start made a run"


async def test_a_start_through_the_lane_is_the_routes_start(api: Api, without_lane: httpx.AsyncClient,
                                                             handed_on: list[bytes]) -> None:
    """The answer to a start and to its retry (the same request_id) are the same whichever way each one goes"""
    template, record = await call_a_lead(api.http, api.as_("admin"))
    client = {**api.as_("client"), "Content-Type": JSON}
    for first, again in ((api.http, without_lane), (without_lane, api.http)):
        body = json.dumps({"template": template, "record_id": record, "request_id": uuid.uuid4().hex}).encode()
        started = await first.post("/processes", headers=client, content=body)
        assert started.status_code == 201, started.text
        assert started.headers["content-type"] == JSON
        assert set(started.json()) == {"workflow_id", "template", "version", "record_id", "owner_id",
                                       "temporal_ui_url"}
        retried = await again.post("/processes", headers=client, content=body)
        assert retried.status_code == 200, retried.text
        assert retried.content == started.content
        assert retried.headers["content-type"] == started.headers["content-type"]
    assert handed_on == [], "the lane took both of its starts"
