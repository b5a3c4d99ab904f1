"""`GET /metrics` for Prometheus (metrics.py), and the middleware counting every request by route and status.

Not in the OpenAPI document and without a key, like `/readyz`: Prometheus scrapes it on the internal network;
the compose file's proxy does not pass it on (docs/observability.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from api.deps import TemporalDep
from metrics import HTTP_DURATION, HTTP_REQUESTS, INCIDENTS_OPEN, PROCESSES
from processes.instance import ProcessStatus
from workflows.client import PROCESS_WORKFLOW
from workflows.search_attributes import STATUS

COUNT_SECONDS = 3  # the process gauges' part of a scrape; Prometheus gives a scrape 10 s by default

router = APIRouter(tags=["health"])
log = logging.getLogger("stagecoach.api")


class RequestMetrics:
    """Counts and times each HTTP request under its route template (`/processes/{workflow_id}`), never its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_DURATION.labels(scope["method"], route).observe(time.perf_counter() - started)


async def count_processes(temporal: Client) -> None:
    """The process gauges, from Temporal's visibility store; left out of the page when Temporal does not answer
    within COUNT_SECONDS (a server that hangs held the scrape for half a minute: past Prometheus' scrape timeout,
    the whole target was lost, the API's own metrics with it)."""
    query = f"WorkflowType = '{PROCESS_WORKFLOW}' AND {STATUS.name} = "
    statuses = list(ProcessStatus)
    rpc = timedelta(seconds=COUNT_SECONDS)
    try:
        async with asyncio.timeout(COUNT_SECONDS):
            counts = await asyncio.gather(
                *(temporal.count_workflows(f"{query}'{s.value}'", rpc_timeout=rpc) for s in statuses),
                temporal.count_workflows(f"{query}'incident' AND ExecutionStatus = 'Running'", rpc_timeout=rpc))
    except Exception as exc:  # a scrape still answers with the other metrics
        log.warning("process counts unavailable: %s", type(exc).__name__)
        PROCESSES.clear()
        INCIDENTS_OPEN.set(float("nan"))
        return
    for status, count in zip(statuses, counts, strict=False):
        PROCESSES.labels(status=status.value).set(count.count)
    INCIDENTS_OPEN.set(counts[-1].count)


@router.get("/metrics", include_in_schema=False)
async def metrics_page(temporal: TemporalDep) -> Response:
    await count_processes(temporal)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def install(app: Any) -> None:
    app.add_middleware(RequestMetrics)
    app.include_router(router)
