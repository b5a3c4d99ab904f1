"""The API's `/metrics` and the worker's Prometheus endpoint, scraped over HTTP after a process ran, and
parsed with Prometheus' text format parser."""

from __future__ import annotations

import asyncio
import json
import math
import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from api.metrics import COUNT_SECONDS, count_processes
from metrics import INCIDENTS_OPEN
from tests.deployment.served import Served, served
from tests.e2e.conftest import MailCatcher
from tests.polling import eventually
from tests.serving import free_port
from worker import metrics_runtime

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# counted only when something this test does not wait for happens, and checked where it does happen
EXPORTED_ELSEWHERE = {"stagecoach_phases_overdue"}  # test_overdue_metric.py: a deadline passes
TEMPLATE = """
key: {key}
name: Say hello
controller_email: controller@agency.example
record_kind: lead
phases:
  - key: hello
    name: Hello
    responsible: record_owner
    actions:
      - send_email: {{to: record_contact, subject: "Hello {{{{ record.title }}}}", body: "Dear {{{{ record.title }}}}"}}
"""


async def completed(stack: Served, workflow_id: str) -> bool:
    return await stack.status(workflow_id) == "completed"


def metric_names(page: str) -> set[str]:
    """The metrics a page exports (with or without samples yet), by base name."""
    return {base_name(family.name) for family in text_string_to_metric_families(page)}


def base_name(name: str) -> str:
    return re.sub(r"_(total|bucket|count|sum)$", "", name)


def referenced(text: str) -> set[str]:
    return {base_name(name) for name in re.findall(r"\b(?:stagecoach|temporal)_[a-z_]+", text)}


def samples(page: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(page) for s in family.samples]


def value(page: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    found = [v for n, ls, v in page if n == name and labels.items() <= ls.items()]
    assert found, f"no {name} {labels}"
    return sum(found)


async def test_metrics_are_scraped_and_parsed_after_a_process_ran(
        dev_env: Any, sessions: Any, database_url: str, smtp: tuple[MailCatcher, int], task_queue: str) -> None:
    worker_port = free_port()
    async with served(dev_env, sessions, database_url, smtp, task_queue,
                      {"runtime": metrics_runtime(f"127.0.0.1:{worker_port}")}) as stack:
        key, workflow_id, email = await stack.start(TEMPLATE, "Metrics", stack.staff)
        await eventually(lambda: completed(stack, workflow_id), what="the process completes")
        assert (await stack.http.get("/processes/process-nobody-0-1", headers=stack.staff)).status_code == 404
        assert stack.mail.to(email)

        scraped = await stack.http.get("/metrics")
        assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
        api = samples(scraped.text)
        async with httpx.AsyncClient(timeout=30) as plain:
            worker_page = (await plain.get(f"http://127.0.0.1:{worker_port}/metrics")).text
        worker = samples(worker_page)

    # what the dashboard and the alert rules of deploy/ use is what the API and the worker export
    exported = metric_names(scraped.text) | metric_names(worker_page) | EXPORTED_ELSEWHERE
    dashboard = json.loads((DEPLOY / "grafana" / "stagecoach.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    rules = [r for g in yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"] for r in g["rules"]]
    assert all(r["alert"] and r["expr"] and r["annotations"]["summary"] for r in rules)
    used = referenced(" ".join(expressions + [r["expr"] for r in rules]))
    assert used and used <= exported, f"not exported: {used - exported}"
    assert {"stagecoach_incidents_open", "temporal_workflow_task_schedule_to_start_latency",
            "temporal_activity_schedule_to_start_latency"} <= referenced(" ".join(r["expr"] for r in rules))

    # the API: requests by route template (never the concrete path) and status, with their latency
    assert value(api, "stagecoach_http_requests_total", method="POST", route="/processes", status="201") >= 1
    assert value(api, "stagecoach_http_requests_total", route="/processes/{workflow_id}", status="404") >= 1
    assert not any(workflow_id in labels.get("route", "") or "nobody" in labels.get("route", "")
                   for _, labels, _ in api)
    buckets = [(ls["le"], v) for n, ls, v in api if n == "stagecoach_http_request_duration_seconds_bucket"
               and ls["route"] == "/processes" and ls["method"] == "POST"]
    assert buckets[-1][0] == "+Inf" and buckets[-1][1] == value(
        api, "stagecoach_http_request_duration_seconds_count", route="/processes", method="POST")
    assert value(api, "stagecoach_processes_started_total", template=key) == 1
    assert value(api, "stagecoach_processes", status="completed") >= 1
    assert value(api, "stagecoach_incidents_open") >= 0

    # the worker: Stagecoach's own, recorded on the SDK's meter, beside the SDK's
    assert value(worker, "stagecoach_processes_ended_total", status="completed", template=key) == 1
    assert value(worker, "stagecoach_emails_sent_total") == 1
    assert value(worker, "stagecoach_render_duration_seconds_count") == 2  # the subject and the body
    assert value(worker, "temporal_workflow_completed_total", workflow_type="ProcessWorkflow") >= 1
    assert value(worker, "temporal_activity_schedule_to_start_latency_count") >= 1
    assert value(worker, "temporal_workflow_task_schedule_to_start_latency_count") >= 1
    assert value(worker, "temporal_worker_task_slots_used", worker_type="ActivityWorker") >= 0


async def test_a_temporal_that_hangs_leaves_the_process_gauges_out_within_seconds() -> None:
    """A Temporal frontend that takes the connection and never answers (a stopped server) held a scrape for 38 s,
    past Prometheus' 10 s scrape timeout: the whole API target was lost. Now the counts give up after COUNT_SECONDS."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepted, never answered

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = await Client.connect(f"127.0.0.1:{port}", lazy=True)
        await asyncio.wait_for(count_processes(client), COUNT_SECONDS + 5)
    finally:
        server.close()
        for writer in held:
            writer.close()
    assert math.isnan(INCIDENTS_OPEN._value.get())
