"""Fuzzing the API from its own OpenAPI schema (schemathesis): no 5xx, every error problem+json, as documented."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from schemathesis.core.failures import FailureGroup

from api.admission import api_routes, required_role
from api.app import create_app
from api.routers.processes import _page_token, _page_token_text
from crm.models import ApiRole
from settings import Settings
from tests.bad_input.conftest import Api
from tests.figures import Figures

PROBLEM_JSON = "application/problem+json"
KEY_EXAMPLES = 10  # per operation and generation mode (valid and invalid data: 20 an operation), for each key
# per operation and generation mode, for a key whose role is below the one the operation needs: the admission refuses
# it (403) before reading a byte of its body, whatever the body (most of the fuzzing's time is drawing bodies)
REFUSED_EXAMPLES = 2
ANONYMOUS_EXAMPLES = 3  # per operation, without a key
SEED = 20261123


@dataclass
class Findings:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    not_problems: list[str] = field(default_factory=list)
    nonconforming: list[str] = field(default_factory=list)
    answered: set[str] = field(default_factory=set)  # operations that answered 2xx
    not_refused: list[str] = field(default_factory=list)  # operations above the key's role that did not answer 403
    no_worker: list[str] = field(default_factory=list)  # a running process of another test, its worker gone


def _no_worker(response: Any) -> bool:
    """The API's answer for a process no worker answers (api/temporal_errors.py): the fuzzing runs none, and
    other tests' processes stay running in its database after their workers have stopped."""
    if response.status_code != 503:
        return False
    try:
        problem = response.json()
    except ValueError:
        return False
    return problem.get("type") == "ServiceUnavailable" and "is the worker running?" in problem.get("detail", "")


def _checks() -> list[Any]:
    """schemathesis's checks of every answer, `not_a_server_error` first."""
    return [CHECKS.get_one(name) for name in
            ("not_a_server_error", "status_code_conformance", "content_type_conformance",
             "response_schema_conformance")]


def above(role: ApiRole | None) -> set[str]:
    """The operations a key of `role` may not call ("POST /pipelines"); none without a key (every one is refused)."""
    if role is None:
        return set()
    return {f"{method} {path}" for path, route in api_routes(create_app(Settings())) for method in route.methods
            if (needed := required_role(route)) is not None and needed.rank > role.rank}


def _fuzz(schema: Any, base_url: str, headers: dict[str, str], examples: int, modes: list[GenerationMode],
          protected_key_id: int | None, refused: set[str], findings: Findings) -> list[str]:
    """Run every operation in a blocking thread: requests to the server the test's event loop serves."""
    session = requests.Session()
    checks = _checks()
    fuzzed = []
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        fuzzed.append(name)
        for mode in modes:
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            @hypothesis.settings(max_examples=REFUSED_EXAMPLES if name in refused else examples, derandomize=True,
                                 database=None, deadline=None, phases=[Phase.explicit, Phase.generate],
                                 print_blob=False, suppress_health_check=list(HealthCheck))
            @hypothesis.seed(SEED)
            def check(case: Any) -> None:
                if protected_key_id is not None and "key_id" in (case.path_parameters or {}) \
                        and case.path_parameters["key_id"] == protected_key_id:
                    case.path_parameters["key_id"] = protected_key_id + 10**6  # never revoke the fuzzer's key
                response = case.call(base_url=base_url, headers=headers, session=session, timeout=30)
                findings.requests += 1
                findings.statuses[response.status_code] += 1
                if response.status_code < 300:
                    findings.answered.add(name)
                label = f"{case.method} {case.formatted_path} -> {response.status_code}"
                if name in refused and response.status_code != 403:
                    findings.not_refused.append(f"{label}: {response.text[:300]}")
                if _no_worker(response):
                    findings.no_worker.append(label)
                elif response.status_code >= 500:
                    findings.server_errors.append(f"{label}: {response.text[:300]} (body {case.body!r:.200})")
                if response.status_code >= 400:
                    content_type = (response.headers.get("content-type") or [""])[0]
                    try:
                        problem_type = response.json().get("type")
                    except (ValueError, AttributeError):
                        problem_type = None
                    if not content_type.startswith(PROBLEM_JSON) or not isinstance(problem_type, str):
                        findings.not_problems.append(f"{label}: {content_type} {response.text[:300]}")
                try:  # the answer of a process no worker answers is a 5xx as it must be, checked otherwise
                    case.validate_response(response, checks=checks[1:] if _no_worker(response) else checks)
                except FailureGroup as exc:  # record it, go on with the next case
                    findings.nonconforming.append(f"{label}: {str(exc)[:800]}")

            try:
                check()
            except hypothesis.errors.Unsatisfiable:  # no invalid request exists (no parameters, no body)
                assert mode is GenerationMode.NEGATIVE
    return fuzzed


async def _run(api: Api, role: ApiRole | None, examples: int, modes: list[GenerationMode],
               protected_key_id: int | None, figures: Figures, record_id: int | None = None) -> Findings:
    document = (await api.http.get("/openapi.json")).json()
    if record_id is not None:  # a record every role sees, drawn often: the other ids may be other tests' hidden ones
        document["paths"]["/records/{record_id}"]["patch"]["parameters"][0]["example"] = record_id
    schema = schemathesis.openapi.from_dict(document)
    findings = Findings()
    headers = api.as_(role.value) if role is not None else {}
    refused = above(role)
    fuzzed = await asyncio.to_thread(_fuzz, schema, api.base_url, headers, examples, modes, protected_key_id,
                                     refused, findings)
    figures["operations fuzzed"] = len(fuzzed)
    figures[f"requests"] = findings.requests
    figures[f"status codes"] = ", ".join(f"{code}: {n}" for code, n in sorted(findings.statuses.items()))
    figures[f"5xx"] = len(findings.server_errors)
    figures["503 of a process no worker answers (none runs)"] = len(findings.no_worker)
    figures[f"errors not problem+json"] = len(findings.not_problems)
    figures[f"responses not as documented"] = len(findings.nonconforming)
    if role is not None:  # without a key every operation is refused (401): none is above a role
        figures["operations above the key's role (fuzzed less: refused unread)"] = len(refused & set(fuzzed))
        figures["of them not refused with 403"] = len({line.split(" -> ")[0] for line in findings.not_refused})
    return findings


def _assert_clean(findings: Findings) -> None:
    report = [*findings.server_errors, *findings.not_problems, *findings.nonconforming, *findings.not_refused]
    assert not report, f"{len(report)} findings:\n" + "\n".join(dict.fromkeys(report))


# Fuzzing is the slowest part of the suite: with a key on PostgreSQL (the production database, whose
# integer columns are the narrower), without one on SQLite.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("role", ["admin", "staff", "client"])
@pytest.mark.timeout(600)  # every operation, 20 cases each: near 3 minutes already on a busy machine
async def test_fuzzing_with_each_role(served_api: Api, role: str, figures: Figures) -> None:
    """Fuzzing every operation with an admin, a staff and a client key: no 5xx, every error problem+json, responses as documented"""
    created = await served_api.http.post("/records", headers=served_api.as_("admin"),
                                         json={"kind": "lead", "title": "Fuzzed lead"})
    assert created.status_code == 201, created.text
    findings = await _run(served_api, ApiRole(role), KEY_EXAMPLES,
                          [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], served_api.key_ids[role], figures,
                          record_id=created.json()["id"])
    _assert_clean(findings)
    figures["operations that answered 2xx"] = len(findings.answered)
    # its cases reach the success paths (which ids a PATCH finds visible depends on the other tests' records)
    assert "POST /records" in findings.answered or role == "client"
    patched = await served_api.http.patch(f"/records/{created.json()['id']}", headers=served_api.as_(role),
                                          json={"title": "Fuzzed, then edited"})
    assert patched.status_code == (403 if role == "client" else 200), patched.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_fuzzing_without_a_key(served_api: Api, figures: Figures) -> None:
    """Fuzzing every operation without a key: refused with a problem+json 401, never a 422 or a 5xx"""
    findings = await _run(served_api, None, ANONYMOUS_EXAMPLES, [GenerationMode.POSITIVE], None, figures)
    _assert_clean(findings)
    assert findings.answered <= {"GET /livez", "GET /readyz"}
    assert set(findings.statuses) <= {200, 401}  # the key is checked first: never a 422 before it


ODD_REQUESTS: list[tuple[str, str, bytes | None, str | None, int, str | None]] = [
    # method, path, body, content type, expected status, expected path of the first error
    ("GET", "/nonexistent", None, None, 404, None),
    ("DELETE", "/templates", None, None, 405, None),
    ("POST", "/records", b"{not json", "application/json", 422, "body"),
    ("POST", "/records", b"[" * 100_000 + b"]" * 100_000, "application/json", 422, "body"),
    ("POST", "/templates", b"[" * 100_000 + b"]" * 100_000, "application/json", 422, ""),
    ("POST", "/templates", b"- " * 200_000 + b"x", "application/yaml", 422, ""),  # libyaml's composer recursed
    ("POST", "/templates", b"a: &a [*a]", "application/yaml", 422, "a[0]"),
    ("POST", "/templates", b"x" * 1_100_000, "application/yaml", 413, None),
    ("POST", "/templates", b"\xff\xfe\x00", "application/yaml", 422, ""),
    ("GET", "/records/99999999999999999999999", None, None, 422, "path.record_id"),
    ("GET", "/records?offset=99999999999999999999", None, None, 422, "query.offset"),
    ("POST", "/records", b'{"kind": "lead", "title": "x", "owner_id": 99999999999}', "application/json", 422,
     "body.owner_id"),
    ("POST", "/processes", b'{"template": "t", "record_id": 99999999999}', "application/json", 422, "body.record_id"),
    ("GET", "/processes?page_token=%%%", None, None, 422, "query.page_token"),
    ("GET", "/processes?page_token=bm90IGEgdG9rZW4=", None, None, 422, "query.page_token"),
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_requests_outside_the_schema(api: Api, figures: Figures) -> None:
    """Requests no schema describes (bad JSON, deep nesting, YAML alias loops, huge numbers) get a problem+json"""
    wrong = []
    for method, path, body, content_type, status, where in ODD_REQUESTS:
        headers = {**api.as_("admin"), **({"Content-Type": content_type} if content_type else {})}
        response = await api.http.request(method, path, content=body, headers=headers)
        problem = response.json() if response.headers["content-type"].startswith(PROBLEM_JSON) else {}
        first = (problem.get("errors") or [{"path": None}])[0]["path"]
        if response.status_code != status or not isinstance(problem.get("type"), str) or first != where:
            wrong.append(f"{method} {path[:60]}: {response.status_code} {response.text[:300]}")
    response = await api.http.get("/records", headers={"X-API-Key": "sc_not-a-key"})
    assert response.status_code == 401 and response.headers["content-type"].startswith(PROBLEM_JSON)
    assert not wrong, "\n".join(wrong)
    # the page tokens the API gives still work (they carry a checksum now)
    assert _page_token(_page_token_text(b'{"token": 1}')) == b'{"token": 1}'
    page = await api.http.get("/processes?limit=1", headers=api.as_("admin"))
    assert page.status_code == 200, page.text
    if token := page.json()["next_page_token"]:
        following = await api.http.get("/processes", params={"limit": 1, "page_token": token}, headers=api.as_("admin"))
        assert following.status_code == 200, following.text
    figures["odd requests"] = len(ODD_REQUESTS) + 1
    figures["answered with problem+json"] = len(ODD_REQUESTS) + 1 - len(wrong)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_method_a_path_does_not_answer_gets_405_naming_every_method_it_does(api: Api, figures: Figures) -> None:
    """A 405 names in `Allow` every method the path answers (RFC 9110), not only its first route's (found by
    schemathesis's allow-header check against make run)"""
    document = (await api.http.get("/openapi.json")).json()
    wrong = []
    for path, operations in document["paths"].items():
        documented = {method.upper() for method in operations if method in ("get", "post", "put", "patch", "delete")}
        parameters = {p["name"]: p["schema"] for o in operations.values() for p in o.get("parameters", ())
                      if p["in"] == "path"}
        schemas = {name: document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema
                   else schema for name, schema in parameters.items()}
        concrete = path.format(**{name: str(schema.get("enum", [1])[0]) for name, schema in schemas.items()})
        response = await api.http.request("OPTIONS", concrete, headers=api.as_("admin"))
        allowed = {method.strip() for method in response.headers.get("allow", "").split(",")} - {"HEAD"}
        if response.status_code != 405 or allowed != documented \
                or not response.headers["content-type"].startswith(PROBLEM_JSON):
            wrong.append(f"OPTIONS {concrete}: {response.status_code}, Allow {response.headers.get('allow')!r}, "
                         f"documented {sorted(documented)}")
    figures["paths asked with OPTIONS"] = len(document["paths"])
    assert not wrong, "\n".join(wrong)
