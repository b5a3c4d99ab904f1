"""The invalid template corpus over the real API: every file refused with its path, nothing stored."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func
from sqlmodel import select

from crm.template_models import ProcessTemplateVersion
from processes.documents import _Loader
from settings import Settings
from tests.bad_input.conftest import Api, ensure_users
from tests.figures import Figures
from tests.processes.test_templates import INVALID, KNOWN_USERS

PROBLEM_JSON = "application/problem+json"
MAX_BODY_BYTES = Settings.model_fields["max_body_bytes"].default


def _normal(line: str) -> str:
    """An error line without its suggestions and the names there are (they depend on what the database holds) or
    the body's name."""
    line = re.sub(r" \((did you mean [^)]*|none is saved|the roles users have: [^)]*|there are [^)]*)\)", "", line)
    return line.replace("the request body ", "body ", 1)


def _bodies(path: Path) -> list[tuple[str, str]]:
    """The file as YAML, and as JSON when it parses (a YAML syntax error has no JSON form)."""
    text = path.read_text()
    bodies = [("application/yaml", text)]
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
        if not _text_keys(data):  # a date or a number as a key: only YAML can say that
            return bodies
        as_json = json.dumps(data, default=str)
    except (yaml.YAMLError, ValueError, RecursionError):  # not YAML, or aliases JSON cannot write (a cycle)
        return bodies
    # the YAML alias bomb expanded is over the size limit: its JSON form is refused with a 413 instead
    return [*bodies, ("application/json", as_json)] if len(as_json) <= MAX_BODY_BYTES else bodies


def _text_keys(data: Any, depth: int = 0) -> bool:
    if depth > 50:  # deeper documents are refused for their depth
        return True
    if isinstance(data, dict):
        return all(isinstance(k, str) and _text_keys(v, depth + 1) for k, v in data.items())
    return all(_text_keys(v, depth + 1) for v in data) if isinstance(data, list) else True


async def _stored(api: Api, sessions: Any) -> tuple[Any, int]:
    listed = await api.http.get("/templates", headers=api.as_("admin"))
    assert listed.status_code == 200, listed.text
    async with sessions() as session:
        rows = (await session.exec(select(func.count()).select_from(ProcessTemplateVersion))).one()
    return listed.json(), rows


async def test_every_invalid_template_is_refused_over_the_api(api: Api, sessions: Any, figures: Figures) -> None:
    """Every invalid template is refused by the API with its path, as JSON and YAML, and nothing is stored"""
    await ensure_users(sessions, *KNOWN_USERS, roles=KNOWN_USERS)
    listed_before, rows_before = await _stored(api, sessions)
    keys_before = {t["key"] for t in listed_before}
    wrong: list[str] = []
    sent = asyncio.Semaphore(8)  # a few at a time: the database round trips overlap

    async def submit(path: Path, expected: list[str], content_type: str, body: str, endpoint: str) -> bool:
        async with sent:
            response = await api.http.post(endpoint, content=body.encode(),
                                           headers={**api.as_("admin"), "Content-Type": content_type})
        where = f"{path.name} as {content_type} to {endpoint}"
        if response.status_code != 422 or not response.headers["content-type"].startswith(PROBLEM_JSON):
            wrong.append(f"{where}: {response.status_code} {response.headers['content-type']} {response.text}")
            return False
        problem = response.json()
        got = [_normal(f"{e['path']}: {e['message']}" if e["path"] else e["message"])
               for e in problem.get("errors", [])]
        if problem["type"] != "TemplateInvalid" or got != expected \
                or not _normal(problem["detail"]).startswith(expected[0]):
            wrong.append(f"{where}: expected {expected}, got {problem}")
            return False
        return True

    submissions = [submit(path, [_normal(line) for line in path.with_suffix(".error").read_text().splitlines()],
                          content_type, body, endpoint)
                   for path in INVALID for content_type, body in _bodies(path)
                   for endpoint in ("/templates", "/templates/validate")]
    requests = len(submissions)
    rejected = sum(await asyncio.gather(*submissions))
    listed_after, rows_after = await _stored(api, sessions)
    figures["corpus files"] = len(INVALID)
    figures["requests (POST /templates and /templates/validate, JSON and YAML)"] = requests
    figures["rejected with 422 problem+json and the path"] = rejected
    figures["stored"] = rows_after - rows_before
    assert not wrong, "\n".join(wrong)
    assert rejected == requests
    assert listed_after == listed_before and rows_after == rows_before
    for path in INVALID:  # none of their keys names a template now, nor a version of one
        try:
            data = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 (a SafeLoader)
        except (yaml.YAMLError, RecursionError):
            continue
        key = data.get("key") if isinstance(data, dict) else None
        if isinstance(key, str) and key not in keys_before and "/" not in key:
            response = await api.http.get(f"/templates/{key}/versions", headers=api.as_("admin"))
            assert response.status_code == 404 and response.headers["content-type"].startswith(PROBLEM_JSON)
