"""The API's confirmations of its starts, written together a moment after the starts were answered.

`POST /processes` commits its run (`starting`) before it asks Temporal, and answers once Temporal has the workflow.
Marking the run `running` is bookkeeping that nothing depends on for safety: a mark lost to a crash (of the API or
of the database: it is committed without waiting for the disk) leaves the run `starting`, and the process's first
step, the sweep of process runs (`activities/process_runs.py`, after its grace) or a retry with the same request id
marks it. So the marks of the starts answered within `WINDOW_SECONDS` of each other go in one statement on one
pooled connection (`crm.process_runs.confirm_starts`), not one statement and one checkout each: under load that was
a sixth of the API's CPU for a start. A run is `running` in the database at most about `WINDOW_SECONDS` after its
start was answered (`tests/e2e/test_start_over_http.py`); the console's start form, one start at a time, marks its
run before it answers. What is waiting is written when the API shuts down.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

from crm.db import direct_statement, statement_alone
from crm.process_runs import confirm_starts

log = logging.getLogger("stagecoach.api.start_confirmations")

WINDOW_SECONDS = 0.05  # how long a confirmation waits for others to go with it
BATCH = 500  # runs in one statement at most


class StartConfirmations:
    """Runs to mark `running`, gathered and written by one task at a time."""

    def __init__(self, engine: AsyncEngine, window: float = WINDOW_SECONDS) -> None:
        self._engine, self._window = engine, window
        self._waiting: list[str] = []
        self._writer: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()

    async def soon(self, workflow_id: str) -> None:
        """Mark the run of `workflow_id` `running` within the window (its workflow exists); returns at once."""
        self._waiting.append(workflow_id)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_waiting())

    async def now(self, workflow_id: str) -> None:
        """Mark it at once, on its own (a start that answers a person: the console's)."""
        await self._write([workflow_id])

    async def close(self) -> None:
        """Write what is waiting, without waiting for the window."""
        self._closing.set()
        if self._writer is not None:
            await self._writer

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                if not self._closing.is_set():
                    try:
                        await asyncio.wait_for(self._closing.wait(), self._window)
                    except TimeoutError:
                        pass
                batch, self._waiting = self._waiting[:BATCH], self._waiting[BATCH:]
                await self._write(batch)
        finally:
            self._writer = None

    async def _write(self, workflow_ids: list[str]) -> None:
        direct = self._engine.dialect.name == "postgresql"
        try:
            await (direct_statement if direct else statement_alone)(  # type: ignore[operator]
                self._engine, lambda c: confirm_starts(c, workflow_ids))
        except Exception:  # the database is away: the sweep marks them, as after a crash
            log.warning("could not mark %d started runs running; the sweep of process runs will", len(workflow_ids),
                        exc_info=True)
