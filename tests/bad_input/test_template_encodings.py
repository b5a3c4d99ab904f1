"""A template file's encoding: its declared charset is honoured; bytes that are not text are refused, never replaced."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import select

from crm.template_models import ProcessTemplateVersion
from tests.bad_input.conftest import Api

TEMPLATE = """key: {key}
name: Visita è già fissata, perché?
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: visit
    name: Città
    actions:
      - add_history: {{text: "Caffè con {{{{ record }}}} à Zürich"}}
"""


def _body(key: str, encoding: str) -> bytes:
    return TEMPLATE.format(key=key).encode(encoding)


async def _versions(sessions: Any) -> int:
    async with sessions() as session:
        return (await session.exec(select(func.count()).select_from(ProcessTemplateVersion))).one()


async def test_the_declared_charset_is_honoured(api: Api) -> None:
    for key, encoding, declared in [("enc-cp1252", "windows-1252", "windows-1252"), ("enc-latin1", "latin-1", "ISO-8859-1"),
                                    ("enc-utf16", "utf-16", "utf-16"), ("enc-utf8", "utf-8", "UTF-8")]:
        response = await api.http.post("/templates", content=_body(key, encoding), headers={
            **api.as_("admin"), "Content-Type": f'application/yaml; charset="{declared}"'})
        assert response.status_code == 201, (key, response.text)
        saved = response.json()["definition"]
        assert saved["phases"][0]["name"] == "Città"
        assert saved["phases"][0]["actions"][0]["add_history"]["text"] == "Caffè con {{ record }} à Zürich"
        assert "\ufffd" not in response.text


async def test_bytes_that_are_not_utf8_are_refused_naming_the_offset(api: Api, sessions: Any) -> None:
    before = await _versions(sessions)
    body = _body("enc-undeclared", "windows-1252")
    offset = body.index("è".encode("windows-1252"))
    for endpoint in ("/templates", "/templates/validate"):
        response = await api.http.post(endpoint, content=body,
                                       headers={**api.as_("admin"), "Content-Type": "application/yaml"})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"] == [{"path": "", "message": (
            f"the request body is not valid UTF-8: byte offset {offset} (0xe8); if the file is in another "
            "encoding, name it: Content-Type: application/yaml; charset=windows-1252")}]
    assert await _versions(sessions) == before


async def test_a_replacement_character_is_never_stored(api: Api, sessions: Any) -> None:
    before = await _versions(sessions)
    damaged = _body("enc-damaged", "windows-1252").decode("utf-8", errors="replace").encode()
    response = await api.http.post("/templates", content=damaged,
                                   headers={**api.as_("admin"), "Content-Type": "application/yaml"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("the request body holds U+FFFD (the replacement character, text "
                                                "lost to a wrong encoding) at line 2, column 14")
    undecodable = _body("enc-bad-cp1252", "windows-1252") + b"\x81"  # a byte windows-1252 does not define
    response = await api.http.post("/templates", content=undecodable, headers={
        **api.as_("admin"), "Content-Type": "application/yaml; charset=windows-1252"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == (f"the request body is not valid windows-1252: byte offset "
                                         f"{len(undecodable) - 1} (0x81)")
    response = await api.http.post("/templates", content=_body("enc-unknown", "utf-8"), headers={
        **api.as_("admin"), "Content-Type": "application/yaml; charset=klingon"})
    assert response.status_code == 415, response.text
    assert response.json()["type"] == "UnsupportedCharset"
    assert await _versions(sessions) == before


async def test_a_pipeline_or_request_template_not_in_its_charset_is_refused_as_its_own_kind(api: Api) -> None:
    """The problem's type names the document sent, as an API client branches on it (it had said TemplateInvalid)"""
    body = "name: Perché\n".encode("windows-1252")
    for endpoint, kind in [("/pipelines", "PipelineInvalid"), ("/pipelines/validate", "PipelineInvalid"),
                           ("/client-request-templates", "RequestTemplateInvalid"),
                           ("/client-request-templates/validate", "RequestTemplateInvalid")]:
        response = await api.http.post(endpoint, content=body,
                                       headers={**api.as_("admin"), "Content-Type": "application/yaml"})
        assert response.status_code == 422, (endpoint, response.text)
        assert response.json()["type"] == kind, endpoint
        assert response.json()["detail"].startswith("the request body is not valid UTF-8: byte offset 11 (0xe9)")
