"""The API in process (ASGI) with its data folder in the test's directory, a small file limit for client
requests, and a template and request factory."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from crm.client_requests import store
from crm.client_requests.models import ClientRequest
from crm.client_requests.questions import RequestTemplate
from renderer.pool import shared_pool
from settings import Settings
from tests.bad_input.conftest import _keys

MAX_FILE_BYTES = 50_000
QUESTIONS: list[dict[str, Any]] = [
    {"key": "cu", "type": "file", "label": "Certificazione Unica", "required": True,
     "accept": ["application/pdf", "image/png"]},
    {"key": "dependants", "type": "number", "label": "Familiari a carico", "required": True},
    {"key": "status", "type": "choice", "label": "Stato civile", "options": ["Celibe", "Coniugato"],
     "required": True},
    {"key": "expenses", "type": "multi_choice", "label": "Spese", "options": ["Mediche", "Mutuo", "Scuola"]},
    {"key": "moved", "type": "yes_no", "label": "Ha cambiato residenza?", "required": True},
    {"key": "moved_on", "type": "date", "label": "Quando"},
    {"key": "iban", "type": "text", "label": "IBAN", "help": "Per il rimborso"},
    {"key": "notes", "type": "long_text", "label": "Note"},
]


@dataclass
class Env:
    http: httpx.AsyncClient
    keys: dict[str, str]
    sessions: Any
    settings: Settings
    folder: Path

    def as_(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}

    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file())

    async def template(self, language: str = "it", questions: list[dict[str, Any]] | None = None) -> str:
        key = f"t-{uuid.uuid4().hex[:10]}"
        async with self.sessions() as session:
            await store.save_template(session, RequestTemplate.model_validate(
                {"key": key, "language": language, "title": "Documenti 730", "message": "Ci servono questi.",
                 "questions": questions or QUESTIONS}), "test")
        return key

    async def record(self, **values: Any) -> int:
        response = await self.http.post("/records", headers=self.as_("admin"), json={
            "kind": "job", "title": f"730 {uuid.uuid4().hex[:6]}", "email": "cliente@example.org", **values})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def request(self, record_id: int | None = None, language: str = "it", expires_days: int | None = None,
                      questions: list[dict[str, Any]] | None = None) -> tuple[ClientRequest, str]:
        key = await self.template(language, questions)
        async with self.sessions() as session:
            request, token = await store.open_request(session, template_key=key, record_id=record_id, actor="test",
                                                      expires_days=expires_days, settings=self.settings)
            await session.commit()
        return request, token


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


@asynccontextmanager
async def serve_env(app: Any, sessions: Any, settings: Settings, tmp_path: Path) -> AsyncIterator[Env]:
    keys, _ = await _keys(sessions)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stagecoach", timeout=30) as http:
        yield Env(http=http, keys=keys, sessions=sessions, settings=settings, folder=tmp_path / "documents")


@pytest.fixture
async def env(dev_env: Any, sessions: Any, database_url: str, task_queue: str, tmp_path: Path) -> AsyncIterator[Env]:
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, data_dir=tmp_path,
                        client_request_max_file_bytes=MAX_FILE_BYTES, client_form_guess_limit=5,
                        public_url="http://stagecoach")
    app = create_app(settings, temporal=dev_env.client, renderer=shared_pool())
    async with serve_env(app, sessions, settings, tmp_path) as env:
        yield env
