"""Stagecoach's metrics, in Prometheus' format (docs/observability.md).

The API serves its own on `GET /metrics` with prometheus-client. The worker's go out through the Temporal
SDK's metric meter, beside the SDK's own `temporal_*` metrics, on the worker's Prometheus endpoint
(WORKER_METRICS_ADDRESS): a workflow replaying its history does not count again there, and one endpoint
per worker carries both. The helpers below pick the meter of where they run: an activity's, or this
process's registry (the API, the CLI).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram
from temporalio import activity

# Latencies from 5 ms to 10 s: an API answer, a render, an SMTP hand-over.
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("stagecoach_http_requests", "HTTP requests answered, by route template and status",
                        ["method", "route", "status"])
HTTP_DURATION = Histogram("stagecoach_http_request_duration_seconds", "Time to answer an HTTP request",
                          ["method", "route"], buckets=SECONDS_BUCKETS)
PROCESSES = Gauge("stagecoach_processes", "Processes Temporal holds, by Stagecoach status (finished ones as long "
                  "as the namespace's retention keeps them), counted when scraped", ["status"])
INCIDENTS_OPEN = Gauge("stagecoach_incidents_open", "Running processes stopped at a failed step, waiting for staff")
_STARTED = Counter("stagecoach_processes_started", "Processes started", ["template"])
_EMAILS_SENT = Counter("stagecoach_emails_sent", "Emails the SMTP server accepted")
_EMAILS_FAILED = Counter("stagecoach_emails_failed", "Emails the SMTP server refused or could not take", ["kind"])
_RENDER = Histogram("stagecoach_render_duration_seconds", "Time to render one template text", buckets=SECONDS_BUCKETS)


def process_started(template: str) -> None:
    if activity.in_activity():
        activity.metric_meter().create_counter(
            "stagecoach_processes_started", _STARTED._documentation).add(1, {"template": template})
    else:
        _STARTED.labels(template=template).inc()


def email_sent() -> None:
    if activity.in_activity():
        activity.metric_meter().create_counter("stagecoach_emails_sent", _EMAILS_SENT._documentation).add(1)
    else:
        _EMAILS_SENT.inc()


def email_failed(kind: str) -> None:
    """`kind`: permanent (the server refused it for good) or transient (it will be tried again)."""
    if activity.in_activity():
        activity.metric_meter().create_counter(
            "stagecoach_emails_failed", _EMAILS_FAILED._documentation).add(1, {"kind": kind})
    else:
        _EMAILS_FAILED.labels(kind=kind).inc()


@contextmanager
def render_timer() -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        if activity.in_activity():
            activity.metric_meter().create_histogram_float(
                "stagecoach_render_duration_seconds", _RENDER._documentation, "s").record(seconds)
        else:
            _RENDER.observe(seconds)
