"""Binds the workflow id, activity and step key to every log line an activity writes."""

from __future__ import annotations

import logging
from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

log = logging.getLogger("stagecoach.activity")


def _step_key(args: Any) -> str | None:
    for arg in args:
        step = getattr(arg, "step", None)
        key = getattr(step, "step_key", None) or getattr(arg, "step_key", None)
        if key:
            return str(key)
    return None


class _BindLogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        context = {"workflow_id": info.workflow_id, "activity": info.activity_type, "attempt": info.attempt,
                   "step_key": _step_key(input.args)}
        with structlog.contextvars.bound_contextvars(**context):
            try:
                result = await super().execute_activity(input)
            except Exception as exc:
                log.warning("activity failed: %s: %s", type(exc).__name__, exc)
                raise
            log.debug("activity done")
            return result


class LogContextInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindLogContext(next)
