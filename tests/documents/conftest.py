"""The API served over HTTP (uvicorn) with its data folder in the test's temporary directory and a small
document limit, for the documents suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from renderer.pool import shared_pool
from settings import Settings
from tests.bad_input.conftest import _keys
from tests.serving import free_port, serving

MAX_DOCUMENT_BYTES = 200_000


@dataclass
class Served:
    http: httpx.AsyncClient
    keys: dict[str, str]
    folder: Path  # where the documents' files are kept

    def as_(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}

    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file())


@asynccontextmanager
async def serve(dev_env: Any, sessions: Any, database_url: str, task_queue: str, tmp_path: Path,
                **more: Any) -> AsyncIterator[Served]:
    """The API over HTTP with its data in `tmp_path` (and `more` settings)."""
    port = free_port()
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, data_dir=tmp_path,
                        api_port=port, max_document_bytes=MAX_DOCUMENT_BYTES, **more)
    keys, _ = await _keys(sessions)
    async with serving(create_app(settings, temporal=dev_env.client, renderer=shared_pool()), port), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        yield Served(http=http, keys=keys, folder=tmp_path / "documents")


@pytest.fixture
async def served(dev_env: Any, sessions: Any, database_url: str, task_queue: str,
                 tmp_path: Path) -> AsyncIterator[Served]:
    async with serve(dev_env, sessions, database_url, task_queue, tmp_path) as api:
        yield api
