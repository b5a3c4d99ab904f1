"""Waiting for something outside the test to happen: a row written, a process visible, a server up."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 60.0, what: str = "") -> Any:
    """Poll `check` until it returns something truthy (an external condition: no workflow time passes)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not so within {timeout:.0f}s: {what or check}; last result {result!r}")
        await asyncio.sleep(0.05)
