"""The whole stack for end-to-end tests: dev server, a worker, the API over real HTTP, a real SMTP server."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from api.app import create_app
from api.auth import create_key
from crm.models import ApiRole
from renderer.pool import shared_pool
from settings import Settings
from tests.serving import free_port, serving
from tests.workflows.helpers import running_worker


@dataclass
class MailCatcher:
    """An aiosmtpd handler keeping every message it accepted."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="session")
def smtp() -> Iterator[tuple[MailCatcher, int]]:
    catcher = MailCatcher()
    port = free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port)
    controller.start()
    yield catcher, port
    controller.stop()


@dataclass
class Stack:
    http: httpx.AsyncClient
    keys: dict[str, str]
    mail: MailCatcher
    settings: Settings

    def as_(self, role: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[role]}


@pytest.fixture
async def stack(request: pytest.FixtureRequest, dev_env: Any, sessions: Any, smtp: tuple[MailCatcher, int],
                task_queue: str, database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """The stack, in the office's language `request.param` (a LOCALE: `parametrize("stack", ["it"], indirect=True)`),
    else English."""
    catcher, smtp_port = smtp
    port = free_port()
    locale = getattr(request, "param", "en")
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, smtp_host="127.0.0.1",
                        smtp_port=smtp_port, smtp_from="processes@agency.example", api_port=port,
                        temporal_ui_url="http://127.0.0.1:8233", data_dir=tmp_path, locale=locale)
    keys = {}
    async with sessions() as session:
        for role in ApiRole:
            _, keys[role.value] = await create_key(session, f"e2e {role.value}", role)
    async with serving(create_app(settings, temporal=dev_env.client, renderer=shared_pool()), port), \
            running_worker(dev_env.client, sessions, task_queue, smtp_host="127.0.0.1", smtp_port=smtp_port,
                           smtp_from="processes@agency.example", data_dir=tmp_path, locale=locale), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        yield Stack(http=http, keys=keys, mail=catcher, settings=settings)
