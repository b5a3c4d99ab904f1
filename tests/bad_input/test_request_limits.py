"""Who calls is checked before a body is read; bodies, strings, integers and lists are bounded, and the schema says so."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.bounds import MAX_INT
from api.paging import next_link
from tests.bad_input.conftest import Api
from tests.figures import Figures
from tests.serving import api_process

PROBLEM_JSON = "application/problem+json"
MAX_BODY_BYTES = 1_000_000  # MAX_BODY_BYTES's default
MB = 1024 * 1024


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_request_with_two_keys_is_refused_whichever_comes_first(api: Api) -> None:
    """Two different keys in X-API-Key headers (or in bearer ones): the last one counted, so a guessed key followed
    by the admin's was an admin's request; now 401 saying to send one"""
    admin, staff = api.as_("admin")["X-API-Key"], api.as_("staff")["X-API-Key"]
    for headers in ([("X-API-Key", "sc_bogus"), ("X-API-Key", admin)], [("X-API-Key", staff), ("X-API-Key", admin)],
                    [("Authorization", f"Bearer {staff}"), ("Authorization", f"Bearer {admin}")]):
        response = await api.http.get("/api-keys", headers=headers)
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["detail"] == "2 API keys sent: send one (X-API-Key header or Authorization: Bearer)"
    assert (await api.http.get("/api-keys", headers=[("X-API-Key", admin)])).status_code == 200
    twice = [("X-API-Key", admin), ("X-API-Key", admin)]  # the same key twice is one key
    assert (await api.http.get("/api-keys", headers=twice)).status_code == 200
    first = [("X-API-Key", staff), ("Authorization", f"Bearer {admin}")]  # X-API-Key counts before a bearer
    assert (await api.http.get("/api-keys", headers=first)).status_code == 403


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_caller_is_checked_before_the_request(api: Api) -> None:
    """No key: 401 whatever the body or the ids; a key below the route's role: 403 before the body is looked at"""
    huge_id = "9" * 30
    cases = [
        ("GET", f"/records/{huge_id}", {}, None, 401),
        ("GET", "/records", {}, {"offset": huge_id}, 401),
        ("POST", "/processes", {}, None, 401),
        ("PATCH", f"/users/{huge_id}", api.as_("staff"), None, 403),
        ("POST", "/users", api.as_("client"), None, 403),
        ("GET", "/records", {"X-API-Key": "sc_guessed"}, {"offset": huge_id}, 401),
        ("GET", "/records", {"Authorization": "Bearer sc_guessed"}, None, 401),
    ]
    wrong = []
    for method, path, headers, params, status in cases:
        body = b'{"record_id": ' + huge_id.encode() + b', "title": null' + b"}"
        response = await api.http.request(method, path, headers={**headers, "Content-Type": "application/json"},
                                          params=params, content=body if method != "GET" else None)
        if response.status_code != status or not response.headers["content-type"].startswith(PROBLEM_JSON):
            wrong.append(f"{method} {path} {headers}: {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)
    # with a key, the same out-of-range id is a 422 naming it
    response = await api.http.get(f"/records/{huge_id}", headers=api.as_("staff"))
    assert response.status_code == 422 and response.json()["errors"][0]["path"] == "path.record_id"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_bodies_and_free_fields_are_bounded(api: Api) -> None:
    """A body over MAX_BODY_BYTES is a problem+json 413, declared or streamed; free fields are bounded; nothing is stored"""
    staff = {**api.as_("staff"), "Content-Type": "application/json"}
    title = f"Bounded {uuid.uuid4().hex[:8]}"
    big = json.dumps({"kind": "lead", "title": title, "fields": {"notes": "x" * MAX_BODY_BYTES}}).encode()

    declared = await api.http.post("/records", headers=staff, content=big)

    async def streamed_body() -> Any:
        for start in range(0, len(big), 64 * 1024):
            yield big[start:start + 64 * 1024]

    streamed = await api.http.post("/records", headers=staff, content=streamed_body())
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert response.json()["type"] == "PayloadTooLarge"
        assert f"{MAX_BODY_BYTES:,} bytes" in response.json()["detail"]

    too_many = {"kind": "lead", "title": title, "fields": {f"f{n}": n for n in range(101)}}
    too_long = {"kind": "lead", "title": title, "fields": {"notes": "x" * 40_000}}
    long_name = {"kind": "lead", "title": title, "fields": {"n" * 65: 1}}
    # nested past the bound: stored, it made every read of the record a 500 (its answer could not be serialised)
    too_deep = {"kind": "lead", "title": title, "fields": {"d": json.loads("[" * 300 + "]" * 300)}}
    for body, path in ((too_many, "body.fields"), (too_long, "body.fields"), (long_name, "body.fields."),
                       (too_deep, "body.fields")):
        response = await api.http.post("/records", headers=staff, json=body)
        assert response.status_code == 422 and response.json()["errors"][0]["path"].startswith(path), \
            response.text[:300]
    not_json = f'{{"kind": "lead", "title": "{title}", "fields": {{"price": NaN, "big": 1e999}}}}'
    response = await api.http.post("/records", headers=staff, content=not_json.encode())
    assert response.status_code == 422 and "NaN" in response.json()["errors"][0]["message"], response.text

    record = (await api.http.post("/records", headers=staff, json={
        "kind": "lead", "title": title, "fields": {"notes": "x" * 20_000}})).json()
    grown = await api.http.patch(f"/records/{record['id']}", headers=staff, json={"fields": {"more": "y" * 20_000}})
    assert grown.status_code == 422 and grown.json()["errors"][0]["path"] == "body.fields", grown.text
    deeper = await api.http.patch(f"/records/{record['id']}", headers=staff,
                                  json={"fields": {"d": json.loads("[" * 33 + "]" * 33)}})
    assert deeper.status_code == 422 and deeper.json()["errors"][0]["path"] == "body.fields", deeper.text[:300]
    listed = (await api.http.get("/records", headers=staff, params={"q": title})).json()
    assert [r["id"] for r in listed] == [record["id"]] and "more" not in listed[0]["fields"]
    # a field given null is removed (it was kept as null, so a record at 100 fields could never take another)
    full = (await api.http.post("/records", headers=staff, json={
        "kind": "lead", "title": title, "fields": {f"f{n}": n for n in range(100)}})).json()
    one_more = await api.http.patch(f"/records/{full['id']}", headers=staff, json={"fields": {"new": 1}})
    assert one_more.status_code == 422 and "would have 101 free fields" in one_more.json()["errors"][0]["message"]
    swapped = await api.http.patch(f"/records/{full['id']}", headers=staff, json={"fields": {"f0": None, "new": 1}})
    assert swapped.status_code == 200, swapped.text
    assert "f0" not in swapped.json()["fields"] and swapped.json()["fields"]["new"] == 1
    assert len(swapped.json()["fields"]) == 100


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_lists_come_in_pages(api: Api) -> None:
    """A full page links to the next one (Link: rel="next"); the pages together are the whole list"""
    admin = api.as_("admin")
    tag = uuid.uuid4().hex[:8]
    for n in range(3):
        created = await api.http.post("/users", headers=admin, json={
            "handle": f"page{n}{tag}", "name": f"Page {n}", "email": f"page{n}{tag}@agency.example"})
        assert created.status_code == 201, created.text
    everyone = [u["id"] for u in (await api.http.get("/users", headers=admin, params={"limit": 500})).json()]
    seen, url, pages = [], "/users?limit=2", 0
    while url:
        response = await api.http.get(url, headers=admin)
        assert response.status_code == 200 and len(response.json()) <= 2
        seen += [u["id"] for u in response.json()]
        url, pages = next_link(response), pages + 1
        assert url is None or url.startswith("/users?")  # relative: not built from the Host header sent
    assert seen == everyone and pages >= 2
    # newest first: the next page starts after the last item read, so a case made meanwhile repeats none
    names = [f"Pratica {n} {tag}" for n in range(3)]
    for name in names:
        assert (await api.http.post("/cases", headers=admin, json={"name": name})).status_code == 201
    first = await api.http.get("/cases", headers=admin, params={"q": tag, "limit": 2})
    assert [c["name"] for c in first.json()] == names[:0:-1] and "before_id=" in (next_link(first) or "")
    assert (await api.http.post("/cases", headers=admin, json={"name": f"Pratica 3 {tag}"})).status_code == 201
    second = await api.http.get(next_link(first) or "", headers=admin)
    assert [c["name"] for c in second.json()] == names[:1], second.text


def _integer_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The integers a schema takes (one constant is bounded already)."""
    found = [schema] if schema.get("type") == "integer" and "const" not in schema else []
    for alternative in schema.get("anyOf", []):
        found += _integer_schemas(alternative)
    return found + (_integer_schemas(schema["items"]) if isinstance(schema.get("items"), dict) else [])


def _strings_unbounded(schema: dict[str, Any], components: dict[str, Any], where: str,
                       seen: set[str]) -> list[str]:
    """Strings without maxLength, arrays without maxItems, open objects without maxProperties."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen or name in ("ProcessTemplate", "Pipeline"):  # documents: bounded by the body limit, checked
            return []                                                # on save with their paths
        return _strings_unbounded(components[name], components, where, seen | {name})
    found = []
    kind = schema.get("type")
    if kind == "string" and "maxLength" not in schema and "enum" not in schema and "format" not in schema:
        found.append(where)
    if kind == "array" and "maxItems" not in schema:
        found.append(where)
    if kind == "object" and schema.get("additionalProperties") not in (None, False) and "maxProperties" not in schema:
        found.append(where)
    for name, prop in schema.get("properties", {}).items():
        found += _strings_unbounded(prop, components, f"{where}.{name}", seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _strings_unbounded(schema[key], components, f"{where}[]", seen)
    for alternative in schema.get("anyOf", []):
        found += _strings_unbounded(alternative, components, where, seen)
    return found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def _unread_bounds(node: Any, where: str = "") -> list[tuple[str, set[str]]]:
    if isinstance(node, list):
        return [found for n, item in enumerate(node) for found in _unread_bounds(item, f"{where}[{n}]")]
    if not isinstance(node, dict):
        return []
    here = [(where, keys)] if (keys := {"ge", "le", "gt", "lt"} & set(node)) and "type" in node else []
    return here + [found for key, value in node.items() for found in _unread_bounds(value, f"{where}.{key}")]


async def test_the_schema_declares_every_bound(api: Api, figures: Figures) -> None:
    """The OpenAPI schema bounds every integer, every string and list a client sends, and pages every list"""
    document = (await api.http.get("/openapi.json")).json()
    components = document["components"]["schemas"]
    unbounded, unpaged, integers = [], [], 0
    # a bound pydantic could not turn into JSON Schema is left under its own name (ge, le), which no client reads:
    # what a validator wrapped around `int` did to every bound on it
    unbounded += [f"{name}: {sorted(keys)}" for name, keys in _unread_bounds(components)]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            parameters = {p["name"]: p for p in operation.get("parameters", [])}
            for parameter in parameters.values():
                for schema in _integer_schemas(parameter["schema"]):
                    integers += 1
                    if not (-MAX_INT <= schema.get("minimum", -MAX_INT - 1) and schema.get("maximum", MAX_INT + 1) <= MAX_INT):
                        unbounded.append(f"{where} {parameter['name']}: {schema}")
                unbounded += _strings_unbounded(parameter["schema"], components, f"{where} {parameter['name']}", set())
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                unbounded += _strings_unbounded(body, components, f"{where} body", set())
                for name, prop in components.get(body.get("$ref", "").rsplit("/", 1)[-1], {}) \
                        .get("properties", {}).items():
                    for schema in _integer_schemas(prop):
                        integers += 1
                        if schema.get("maximum", MAX_INT + 1) > MAX_INT:
                            unbounded.append(f"{where} body.{name}: {schema}")
            answer = operation["responses"].get("200", {}).get("content", {}).get("application/json", {}) \
                .get("schema", {})
            if method == "get" and (answer.get("type") == "array" or "items" in components.get(
                    answer.get("$ref", "").rsplit("/", 1)[-1], {}).get("properties", {})):
                limit = parameters.get("limit", {}).get("schema", {})
                if not (limit.get("default") and limit.get("maximum")):
                    unpaged.append(where)
    figures["integers bounded in the schema"] = integers
    assert not unbounded, "unbounded in the schema:\n" + "\n".join(unbounded)
    assert not unpaged, "lists without a default page size:\n" + "\n".join(unpaged)


async def _send_body(port: int, path: str, size: int, headers: dict[str, str], chunked: bool) -> tuple[str, int]:
    """POST `size` bytes of a JSON body in 64 KB pieces; stop when the server answers or hangs up.

    Returns the status line (empty if none came) and the bytes sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json",
             "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}",
             *(f"{k}: {v}" for k, v in headers.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    status = asyncio.create_task(reader.readline())
    prefix = b'{"kind": "lead", "title": "'
    sent, piece = 0, b"x" * (64 * 1024)
    try:
        while sent < size and not status.done():
            data = prefix if sent == 0 else piece[:size - sent]
            writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data)
            await writer.drain()
            sent += len(data)
        if chunked and not status.done():
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (ConnectionError, OSError):
        pass  # the server answered and closed: what is left is not read
    try:
        line = await asyncio.wait_for(status, 60)
    except (ConnectionError, OSError):
        line = b""
    writer.close()
    return line.decode(errors="replace").strip(), sent


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_huge_body_without_a_key_costs_the_api_nothing(dev_env: Any, database_url: str, sessions: Any,
                                                               tmp_path: Path, figures: Figures) -> None:
    """29 MB bodies with no key, four at once, against uvicorn over HTTP: refused unread, memory flat, /livez answers"""
    from api.auth import create_key
    from crm.models import ApiRole

    async with sessions() as session:
        _, key = await create_key(session, "limits staff", ApiRole.staff)
    env = {"DATABASE_URL": database_url, "TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
           "LOG_LEVEL": "WARNING"}
    async with api_process(env, tmp_path / "api.log") as served, \
            httpx.AsyncClient(base_url=served.base_url, timeout=30) as http:
        for _ in range(3):  # warm: imports, connection pools
            assert (await http.get("/records", headers={"X-API-Key": key})).status_code == 200
        before = served.rss_bytes()
        latencies: list[float] = []
        attack_over = asyncio.Event()

        async def probe() -> None:
            while not attack_over.is_set():
                started = time.monotonic()
                assert (await http.get("/livez")).status_code == 200
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(0.05)

        prober = asyncio.create_task(probe())
        size = 29 * MB
        results = await asyncio.gather(
            *(_send_body(served.port, "/records", size, {}, chunked=False) for _ in range(4)),
            _send_body(served.port, "/records", size, {}, chunked=True),
            _send_body(served.port, "/templates", size, {"X-API-Key": key}, chunked=True))
        attack_over.set()
        await prober
        after = served.rss_bytes()
        statuses = [status.split(" ")[1] if status else "closed" for status, _ in results]
        figures["bodies sent"] = "4 of 29 MB declared and 1 chunked without a key, 1 chunked with a staff key"
        figures["answers"] = ", ".join(statuses)
        figures["API memory before (MB)"] = round(before / MB, 1)
        figures["API memory after (MB)"] = round(after / MB, 1)
        figures["/livez slowest answer during them (s)"] = round(max(latencies), 3)
        assert statuses[:5] == ["401"] * 5, results
        assert statuses[5] == "403", results  # a staff key may not save templates: refused unread too
        assert after - before < 20 * MB, f"the API grew by {(after - before) / MB:.0f} MB"
        # with the role, the streamed body is counted and refused past the limit
        async with sessions() as session:
            _, admin = await create_key(session, "limits admin", ApiRole.admin)
        status, sent = await _send_body(served.port, "/templates", size, {"X-API-Key": admin}, chunked=True)
        assert status.startswith("HTTP/1.1 413"), status
        assert served.rss_bytes() - before < 20 * MB
        figures["chunked body with an admin key"] = f"413 after {sent / MB:.1f} MB sent"
        # a request line longer than the HTTP parser reads never reaches the app: the server's own 400 is a problem too
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(f"GET /records?q={'x' * 100_000} HTTP/1.1\r\nHost: x\r\nX-API-Key: {key}\r\n\r\n".encode())
        head, _, body = (await asyncio.wait_for(reader.read(), 30)).partition(b"\r\n\r\n")  # it closes
        writer.close()
        assert head.startswith(b"HTTP/1.1 400") and b"content-type: application/problem+json" in head, head
        assert "64 KB" in json.loads(body)["detail"]
        # headers: one of 30 MB, or 100,000 small ones, were read whole and answered; refused past 64 KB as they come
        for headers in (b"X-Big: " + b"b" * 30 * MB + b"\r\n", b"".join(b"X-%d: v\r\n" % n for n in range(100_000))):
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
            try:
                for start in range(0, len(headers), 64 * 1024):
                    writer.write(headers[start:start + 64 * 1024])
                    await writer.drain()
                writer.write(b"\r\n")
                await writer.drain()
            except ConnectionError:  # refused and closed while the rest was being sent
                pass
            head, _, body = (await asyncio.wait_for(reader.read(), 30)).partition(b"\r\n\r\n")
            writer.close()
            assert head.startswith(b"HTTP/1.1 400"), head
            assert json.loads(body)["detail"].startswith("the request's line and headers are longer than 64 KB")
        figures["a header of 30 MB, or 100,000 headers"] = "400 once the head passed 64 KB"
        assert served.rss_bytes() - before < 20 * MB
        assert (await http.get("/livez")).status_code == 200
