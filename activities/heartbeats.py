"""Heartbeats for every activity scheduled with a heartbeat timeout, while it runs.

The heartbeat says "this worker is alive", not "this step made progress": when a worker
dies in the middle of a step (an email half sent), Temporal notices after the heartbeat
timeout and retries the step on another worker, instead of after its whole
start-to-close timeout. The first heartbeat goes out a third of the timeout after the
start, so a step that takes less (most do) costs the server no heartbeat at all. The step
itself is keyed by its step key, so the retry finds what the dead attempt recorded (the
same outbox row, the same Message-ID).
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor


class _Heartbeat(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        timeout = activity.info().heartbeat_timeout
        if not timeout or not timeout.total_seconds():
            return await super().execute_activity(input)
        interval = max(timeout.total_seconds() / 3, 0.1)
        loop = asyncio.get_running_loop()

        def beat() -> None:  # a callback, not a task: most steps end before the first one is due
            nonlocal pending
            activity.heartbeat()
            pending = loop.call_later(interval, beat)

        pending = loop.call_later(interval, beat)
        try:
            return await super().execute_activity(input)
        finally:
            pending.cancel()


class HeartbeatInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Heartbeat(next)
