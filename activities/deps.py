"""What activities share: settings, the database sessions, the mailer, the Temporal client and the render pool,
built once per worker."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.mailer import Mailer
from renderer.pool import RenderPool, shared_pool
from settings import Settings


@dataclass(frozen=True)
class Deps:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    mailer: Mailer
    temporal: Client | None = None  # signals the record-events dispatcher and starts autostarted processes
    renderer: RenderPool = field(default_factory=shared_pool)  # where user text is rendered (renderer/)
