"""A request template's version keeps the text it was saved from, on both databases: `Accept: application/yaml` on
the version gives it back as it was sent, comments and all; a change of comments alone is no new version and the
version keeps its first text; a version with no text (saved before texts were kept) is 406, its JSON still there."""

from __future__ import annotations

import json
import uuid

from crm.client_requests import store
from crm.client_requests.questions import RequestTemplate
from tests.client_requests.conftest import Env

PROBLEM = "application/problem+json"
YAML = """\

# Chiesto ai clienti a febbraio: la CU e poco altro.
key: {key}
language: it
title: Documenti 730   # il titolo del modulo

message: |
  Gentile cliente, ci servono questi documenti.

questions:
  # prima il file, poi i numeri
  - key: cu
    type: file
    label: Certificazione Unica
    required: true
  - {{key: dependants, type: number, label: Familiari a carico}}
# fine
"""


def _sent(key: str) -> str:
    return YAML.format(key=key)


async def test_a_template_saved_as_yaml_reads_back_as_it_was_sent(env: Env) -> None:
    key = f"cu-{uuid.uuid4().hex[:8]}"
    admin = {**env.as_("admin"), "Content-Type": "application/yaml"}
    staff, as_yaml = env.as_("staff"), {**env.as_("staff"), "Accept": "application/yaml"}
    sent = _sent(key)
    saved = await env.http.post("/client-request-templates", headers=admin, content=sent.encode())
    assert saved.status_code == 201, saved.text
    version = f"/client-request-templates/{key}/versions/1"
    assert (await env.http.get(version, headers=staff)).json()["title"] == "Documenti 730"
    text = await env.http.get(version, headers=as_yaml)
    assert text.status_code == 200 and text.headers["content-type"].startswith("application/yaml")
    assert text.text == sent

    # comments and layout alone changed: the same template, nothing saved, the first text kept
    recommented = sent.replace("# fine", "# fine, rivisto").replace("   # il titolo del modulo", "")
    again = await env.http.post("/client-request-templates", headers=admin, content=recommented.encode())
    assert again.status_code == 200 and again.json()["version"] == 1
    assert (await env.http.get(version, headers=as_yaml)).text == sent

    # with a change of the template, the new version keeps its own text
    changed = recommented.replace("title: Documenti 730", "title: Documenti 730 (2026)")
    assert (await env.http.post("/client-request-templates", headers=admin,
                                content=changed.encode())).json()["version"] == 2
    assert (await env.http.get(f"/client-request-templates/{key}/versions/2", headers=as_yaml)).text == changed
    assert (await env.http.get(version, headers=as_yaml)).text == sent


async def test_a_template_saved_as_json_or_before_texts_were_kept(env: Env) -> None:
    key = f"cu-{uuid.uuid4().hex[:8]}"
    data = {"key": key, "title": "Documenti 730", "questions": [{"key": "cu", "type": "file", "label": "CU"}]}
    staff, as_yaml = env.as_("staff"), {**env.as_("staff"), "Accept": "application/yaml"}
    assert (await env.http.post("/client-request-templates", headers=env.as_("admin"), json=data)).status_code == 201
    first = await env.http.get(f"/client-request-templates/{key}/versions/1", headers=as_yaml)
    assert first.status_code == 200 and json.loads(first.text) == data  # the JSON it was sent as (YAML too)

    async with env.sessions() as session:  # saved as before migration 0020: no text
        row, created = await store.save_template(
            session, RequestTemplate.model_validate({**data, "title": "Documenti (prima)"}), "test")
    assert created and row.version == 2 and row.source_text is None
    refused = await env.http.get(f"/client-request-templates/{key}/versions/2", headers=as_yaml)
    assert refused.status_code == 406 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["type"] == "NoSourceText" and "keeps no text" in refused.json()["detail"]
    assert (await env.http.get(f"/client-request-templates/{key}/versions/2", headers=staff)).json()["version"] == 2


async def test_the_version_route_documents_its_yaml(env: Env) -> None:
    route = (await env.http.get("/openapi.json")).json()["paths"]["/client-request-templates/{key}/versions/{version}"]
    answers = route["get"]["responses"]
    assert set(answers["200"]["content"]) == {"application/json", "application/yaml"}
    assert "406" in answers
