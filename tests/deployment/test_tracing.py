"""OpenTelemetry: one trace from `POST /processes` through the workflow to the step's SMTP hand-over, exported
over OTLP/HTTP to a collector served in this process."""

from __future__ import annotations

import asyncio
import uuid
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
from api.app import create_app
from api.auth import create_key
from crm.models import ApiRole
from settings import Settings
from tests.deployment.test_metrics import TEMPLATE
from tests.e2e.conftest import MailCatcher
from tests.polling import eventually
from tests.serving import free_port, serving
from tests.workflows.helpers import running_worker
from workflows.client import connect


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
    catcher, smtp_port = smtp
    tracing.enable(endpoint, "stagecoach-test")
    port = free_port()
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, api_port=port,
                        temporal_address=dev_env.client.service_client.config.target_host)
    client = await connect(settings)  # with the tracing interceptor, for the API and the worker alike
    async with sessions() as session:
        _, admin_key = await create_key(session, "tracing admin", ApiRole.admin)
    admin = {"X-API-Key": admin_key}
    key = f"traced-{uuid.uuid4().hex[:6]}"
    async with serving(create_app(settings, temporal=client), port), \
            running_worker(client, sessions, task_queue, smtp_host="127.0.0.1", smtp_port=smtp_port,
                           smtp_from="processes@agency.example"), \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        handle = f"t{uuid.uuid4().hex[:6]}"
        owner = (await http.post("/users", headers=admin, json={
            "handle": handle, "name": "Tea", "email": f"{handle}@agency.example"})).json()
        record = (await http.post("/records", headers=admin, json={
            "kind": "lead", "title": "Traced", "email": f"client-{handle}@example.org",
            "owner_id": owner["id"]})).json()
        saved = await http.post("/templates", headers={**admin, "Content-Type": "application/yaml"},
                                content=TEMPLATE.format(key=key))
        assert saved.status_code == 201, saved.text
        started = await http.post("/processes", headers=admin, json={"template": key, "record_id": record["id"]})
        assert started.status_code == 201, started.text
        workflow_id = started.json()["workflow_id"]

        async def completed() -> bool:
            return (await http.get(f"/processes/{workflow_id}", headers=admin)).json()["status"] == "completed"
        await eventually(completed, what="the process completes")  # its step's spans have ended
        assert catcher.to(f"client-{handle}@example.org")
        await asyncio.to_thread(tracing.disable)  # export what is left

    start = next(t for t, name, _ in receiver.spans if name == "POST /processes")
    names = {name for t, name, _ in receiver.spans if t == start}
    assert {"POST /processes", "StartWorkflow:ProcessWorkflow", "RunWorkflow:ProcessWorkflow",
            "StartActivity:send_email", "RunActivity:send_email", "smtp send"} <= names, names
    assert {service for _, _, service in receiver.spans} == {"stagecoach-test"}


def test_tracing_is_off_by_default() -> None:
    assert Settings().otel_exporter_otlp_endpoint is None
    assert tracing.provider() is None and tracing.temporal_interceptors() == []
