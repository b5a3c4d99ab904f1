"""OpenTelemetry: one trace from `POST /processes` through the workflow to the step's SMTP hand-over, exported
over OTLP/HTTP to a collector served in this process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import tracing
from settings import Settings
from tests.deployment.served import served
from tests.deployment.test_metrics import TEMPLATE, completed
from tests.e2e.conftest import MailCatcher
from tests.polling import eventually
from tests.serving import free_port, serving


class Collector:
    """An OTLP/HTTP trace receiver keeping every span it is sent: (trace id, span name, resource's service)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []
        self.app = Starlette(routes=[Route("/v1/traces", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        export = ExportTraceServiceRequest.FromString(await request.body())
        for resource_spans in export.resource_spans:
            service = next(a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name")
            for scope_spans in resource_spans.scope_spans:
                self.spans += [(s.trace_id.hex(), s.name, service) for s in scope_spans.spans]
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")


@pytest.fixture
async def collector() -> AsyncIterator[tuple[Collector, str]]:
    receiver, port = Collector(), free_port()
    async with serving(receiver.app, port):
        yield receiver, f"http://127.0.0.1:{port}"
        await asyncio.to_thread(tracing.disable)  # flushes over HTTP to the receiver served by this loop


async def test_one_trace_goes_from_the_request_through_the_workflow_to_the_smtp_server(
        dev_env: Any, sessions: Any, database_url: str, smtp: tuple[MailCatcher, int], task_queue: str,
        collector: tuple[Collector, str]) -> None:
    receiver, endpoint = collector
    tracing.enable(endpoint, "stagecoach-test")
    # the client connects with the tracing interceptor, for the API and the worker alike
    async with served(dev_env, sessions, database_url, smtp, task_queue) as stack:
        _, workflow_id, email = await stack.start(TEMPLATE, "Traced")
        await eventually(lambda: completed(stack, workflow_id), what="the process completes")  # its spans ended
        assert stack.mail.to(email)
        await asyncio.to_thread(tracing.disable)  # export what is left

    start = next(t for t, name, _ in receiver.spans if name == "POST /processes")
    names = {name for t, name, _ in receiver.spans if t == start}
    assert {"POST /processes", "StartWorkflow:ProcessWorkflow", "RunWorkflow:ProcessWorkflow",
            "StartActivity:send_email", "RunActivity:send_email", "smtp send"} <= names, names
    assert {service for _, _, service in receiver.spans} == {"stagecoach-test"}


def test_tracing_is_off_by_default() -> None:
    assert Settings().otel_exporter_otlp_endpoint is None
    assert tracing.provider() is None and tracing.temporal_interceptors() == []
