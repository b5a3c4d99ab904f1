"""The API in process (ASGI) with its data folder in the test's temporary directory, for imports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from renderer.pool import shared_pool
from settings import Settings
from tests.bad_input.conftest import Api, _keys


@pytest.fixture
async def api(dev_env: Any, sessions: Any, database_url: str, task_queue: str, tmp_path: Path) -> AsyncIterator[Api]:
    app = create_app(Settings(database_url=database_url, temporal_task_queue=task_queue, data_dir=tmp_path),
                     temporal=dev_env.client, renderer=shared_pool())
    keys, ids = await _keys(sessions)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stagecoach", timeout=60) as http:
        yield Api(http=http, keys=keys, key_ids=ids, base_url="http://stagecoach")


from tests.e2e.conftest import smtp, stack  # noqa: E402,F401  (fixtures: the CLI test runs against the stack)
