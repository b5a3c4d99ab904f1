"""Shared fixtures: databases (SQLite, and PostgreSQL where reachable), Temporal servers, data."""

from __future__ import annotations

import gc
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from crm.db import make_engine, make_sessionmaker
from crm.migrate import upgrade_database
from tests.factories import Factory
from tests.figures import FIGURES_ENV, Figures
from tests.figures import write as write_figures
from tests.time_skipping import start_test_server
from tests.workflows.helpers import new_task_queue
from workflows import search_attributes

BIN = Path(sys.executable).parent
POSTGRES_ADMIN_URL = os.environ.get("STAGECOACH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FREEZE_EVERY = 25  # tests


def _postgres_reachable() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for the session: SQLite, then PostgreSQL (never skipped on CI)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'stagecoach.db'}"
        upgrade_database(url)
        yield url
        return
    if not _postgres_reachable():
        if ON_CI:
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}, and CI must test it")
        pytest.skip("PostgreSQL is not reachable")
    name = f"stagecoach_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{base}/{name}"
    upgrade_database(url)
    yield url
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def factory(sessions: async_sessionmaker[AsyncSession]) -> Factory:
    return Factory(sessions)


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of the test's own (it starts in about 0.1 s), with the search attributes.

    One server per test: time skips for the whole server, so a process another test left
    waiting would otherwise wake up, find no worker, and stop time for everyone after.
    """
    env = await start_test_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (as `make run` starts it), with the search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), data_converter=pydantic_data_converter,
        search_attributes=list(search_attributes.ALL))
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return new_task_queue()


# the reliability report (tests/figures.py): every test's outcome, title and figures
_FIGURES = pytest.StashKey[Figures]()
_RESULTS: list[dict[str, object]] = []


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """What this test measured, for docs/reliability.md (`make reliability`)."""
    return request.node.stash.setdefault(_FIGURES, Figures())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if os.environ.get(FIGURES_ENV) and (report.when == "call" or (report.when == "setup" and not report.passed)):
        doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip()
        title = doc.splitlines()[0] if doc else item.name
        _RESULTS.append({"nodeid": item.nodeid, "title": title, "outcome": report.outcome,
                         "figures": item.stash.get(_FIGURES, Figures()).values})
    return report


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Every `FREEZE_EVERY` tests, what this process still holds is collected, then frozen (`gc.freeze`): later
    collections walk only what came since. A test process comes to hold millions of objects (modules, caches,
    session-wide servers and engines), and a full collection over all of them took up to 6 s of processor time,
    inside whichever test was running: 30 to 45 s a process over the suite."""
    _torn_down[0] += 1
    if _torn_down[0] % FREEZE_EVERY == 0:
        gc.collect()
        gc.freeze()


_torn_down = [0]


def _database(item: pytest.Item) -> object:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("database_url") if callspec else None


def pytest_itemcollected(item: pytest.Item) -> None:
    """`make test` runs the suite in two processes (pytest-xdist, `--dist loadgroup`). The tests on the session's
    dev server run in one group per database, in one process, in order: the `runs_last` test of that database
    comes after all of them, and finds every history its server holds and every row its database holds, as in
    one process. Every other test goes to whichever process is free."""
    if "dev_env" in getattr(item, "fixturenames", ()) or item.get_closest_marker("runs_last"):
        item.add_marker(pytest.mark.xdist_group(f"dev-server-{_database(item) or 'postgresql'}"))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `runs_last` inspect what the others left (every history, every row): each runs
    after the last other test on its database, so that database is still the one they used."""
    last = [item for item in items if item.get_closest_marker("runs_last")]
    items[:] = [item for item in items if not item.get_closest_marker("runs_last")]
    for item in last:
        same = [i for i, other in enumerate(items) if _database(other) == _database(item)]
        items.insert(same[-1] + 1 if same else len(items), item)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if path := os.environ.get(FIGURES_ENV):
        write_figures(Path(path), _RESULTS, command=" ".join(["pytest", *session.config.invocation_params.args]))
