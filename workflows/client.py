"""Talking to Temporal from outside a workflow: connecting, starting a process, waking the dispatcher.

The API, the worker, the CLI and the activities that start or signal workflows (autostart, record
values) come here. This module imports no workflow class: it starts and signals workflows by their
type name and input type, so `activities/` never imports `workflows/process.py` or
`workflows/record_events.py`, and the workflows can import activities without a cycle.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import TLSConfig
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from processes.instance import ENGINE, AbortRequest, ClientRequestSubmitted, ProcessInput, ProcessState
from settings import Settings
from workflows import search_attributes as sa

PROCESS_WORKFLOW = "ProcessWorkflow"  # workflows/process.py
DISPATCHER_WORKFLOW = "RecordEventsWorkflow"  # workflows/record_events.py
DISPATCHER_SIGNAL = "events_recorded"
ABORT_UPDATE = "abort"  # ProcessWorkflow.abort (workflows/staff_requests.py)
DISPATCHER_ID = "record-events"
CLIENT_REQUEST_WORKFLOW = "ClientRequestWorkflow"  # workflows/client_requests.py
SUBMITTED_SIGNAL = "client_request_submitted"  # to it, and to the ProcessWorkflow whose phase waits
CLOSED_SIGNAL = "client_request_closed"  # to the ProcessWorkflow whose phase waits: cancelled or expired unanswered
DEFAULT_TASK_QUEUE: str = Settings.model_fields["temporal_task_queue"].default


def sdk_runtime(metrics: Any = None) -> Any:
    """A Temporal SDK runtime whose core (Rust) writes its lines (`gRPC call ... retried 5 times`) through Python's
    logging, as JSON like every other line, instead of coloured text on stderr; with `metrics` (a PrometheusConfig)
    it serves the SDK's metrics too."""
    import logging

    from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

    logs = LoggingConfig(filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                         forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")))
    return Runtime(telemetry=TelemetryConfig(logging=logs, metrics=metrics))


_default_runtime: list[Any] = []  # made once per process, on the first connection without a runtime of its own


async def connect(settings: Settings, **options: Any) -> Client:
    """A client with the pydantic data converter, the way every part of Stagecoach must connect."""
    import tracing  # not at import: workflow sandboxes import this module
    from workflows.codec import data_converter

    keys = settings.payload_encryption_keys
    options.setdefault("interceptors", tracing.temporal_interceptors())
    if options.get("runtime") is None:
        if not _default_runtime:
            _default_runtime.append(sdk_runtime())
        options["runtime"] = _default_runtime[0]
    return await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace,
                                data_converter=data_converter(keys.get_secret_value() if keys else None),
                                **tls_options(settings), **options)


def tls_options(settings: Settings) -> dict[str, Any]:
    """`tls` and `api_key` for `Client.connect` (secured clusters, Temporal Cloud); plain for the dev server."""
    files = (settings.temporal_tls_server_ca_file, settings.temporal_tls_client_cert_file,
             settings.temporal_tls_client_key_file)
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    wanted = settings.temporal_tls if settings.temporal_tls is not None else bool(
        api_key or settings.temporal_tls_server_name or any(files))
    if not wanted:
        return {"tls": False, "api_key": api_key}
    ca, cert, key = (path.read_bytes() if path else None for path in files)
    return {"tls": TLSConfig(server_root_ca_cert=ca, client_cert=cert, client_private_key=key,
                             domain=settings.temporal_tls_server_name), "api_key": api_key}


async def temporal_unready(client: Client, within: float) -> str | None:
    """Why Temporal's frontend is not ready (`None` when it serves). A failed health check is asked again, 0.1 s
    later then twice as long each time, for up to `within` seconds: one dropped call on a busy machine does not
    count. The reason is the last failure's gRPC status, not its message (`/readyz` answers without a key)."""
    loop = asyncio.get_running_loop()
    deadline, pause = loop.time() + within, 0.1
    while True:
        left = max(deadline - loop.time(), 0.05)
        try:
            async with asyncio.timeout(left + 0.5):  # the RPC's own timeout, and a connection that never comes
                serving = await client.service_client.check_health(timeout=timedelta(seconds=left))
            return None if serving else "not serving"
        except TimeoutError:
            why = f"no answer in {within:g}s"
        except RPCError as exc:  # (the SDK says CANCELLED for its own timeout)
            silent = exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED)
            why = f"no answer in {within:g}s" if silent else exc.status.name
        except Exception as exc:  # not an RPC's failure (a client that could not connect at all): its kind
            why = type(exc).__name__
        if loop.time() + pause >= deadline:
            return why
        await asyncio.sleep(pause)
        pause *= 2


async def start_process(client: Client, input: ProcessInput, *, workflow_id: str,
                        task_queue: str) -> WorkflowHandle[Any, ProcessState]:
    """Start a `ProcessWorkflow`: its id, search attributes and Temporal UI summary, and the engine's generation
    (`ENGINE`: the run takes the workflow changes made up to it without patch markers), in one place."""
    template = input.template
    if input.engine != ENGINE:
        input = input.model_copy(update={"engine": ENGINE})
    handle = await client.start_workflow(
        PROCESS_WORKFLOW,
        input,
        id=workflow_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=sa.initial(template.key, input.record_id, input.owner_id, template.phases[0].key,
                                     (input.stage.pipeline, input.stage.status) if input.stage else None),
        static_summary=input.summary(),
        static_details=input.details(),
        result_type=ProcessState,
    )
    from metrics import process_started  # not at import: workflow sandboxes import this module

    process_started(template.key)
    return handle


class StartNotConfirmed(Exception):
    """A start failed, or was not answered, and Temporal does not show the workflow (or could not be asked):
    it has not started, or its start may still land. Starting again with the same workflow id settles it."""


async def start_once(client: Client, input: ProcessInput, *, workflow_id: str, task_queue: str) -> bool:
    """Start the process `workflow_id` unless it has started: whether this call started it.

    A start Temporal did not answer (a timeout, a lost connection) may have been accepted all the same:
    Temporal is then asked whether the workflow exists, and a start it reports is a start (not when it could
    not be reached at all: asking would wait out the client's retries, and the sweep of process runs settles
    the rare start that got through as the connection broke). Raises `StartNotConfirmed` when it does not
    report one.
    """
    try:
        await start_process(client, input, workflow_id=workflow_id, task_queue=task_queue)
        return True
    except WorkflowAlreadyStartedError:
        return False  # an earlier try started it (the id is never reused: REJECT_DUPLICATE)
    except Exception as exc:
        unreachable = isinstance(exc, RPCError) and exc.status == RPCStatusCode.UNAVAILABLE
        if not unreachable and await _exists(client, workflow_id):
            return True  # accepted, though its answer was lost
        raise StartNotConfirmed(f"{type(exc).__name__}: {exc}") from exc


async def _exists(client: Client, workflow_id: str) -> bool:
    """Whether Temporal has a workflow `workflow_id` (False also when it cannot tell)."""
    try:
        await client.get_workflow_handle(workflow_id).describe(rpc_timeout=timedelta(seconds=3))
        return True
    except Exception:
        return False


class RecordEventsInput(BaseModel):
    """What the record-events dispatcher (`RecordEventsWorkflow`) starts with."""

    sweep_seconds: float = Field(60, gt=0, description="look for undispatched events this often")
    rounds_per_run: int = Field(500, ge=1, description="continue as new after this many dispatch rounds")
    batch_size: int = Field(100, ge=1, le=1000)
    signalled: bool = Field(False, description="a signal came that the previous run had not dispatched yet")


def dispatcher_id(task_queue: str) -> str:
    """`record-events`: one dispatcher per deployment, i.e. per task queue (its workers hold its database).

    A deployment on another task queue than the default (each test has its own) gets
    `record-events-{task queue}`, so two deployments sharing a namespace never share one.
    """
    return DISPATCHER_ID if task_queue == DEFAULT_TASK_QUEUE else f"{DISPATCHER_ID}-{task_queue}"


# A signal-with-start that meets the dispatcher as it continues as new can be told NOT_FOUND ("Completed workflow"):
# the run it found had closed, the new one was not there yet (seen on the time-skipping test server). It is sent again
# after these pauses.
NOTIFY_AGAIN_AFTER = (0.05, 0.2, 0.5)


async def notify_dispatcher(client: Client, settings: Settings) -> None:
    """Signal the dispatcher that record events were committed, starting it if it is not running."""
    task_queue = settings.temporal_task_queue
    for pause in (*NOTIFY_AGAIN_AFTER, None):
        try:
            await client.start_workflow(
                DISPATCHER_WORKFLOW, RecordEventsInput(sweep_seconds=settings.record_events_sweep_seconds),
                id=dispatcher_id(task_queue), task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING, start_signal=DISPATCHER_SIGNAL,
                static_summary="dispatches record events to autostart triggers", rpc_timeout=timedelta(seconds=10))
            return
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND or pause is None:
                raise
        await asyncio.sleep(pause)


async def abort_process(client: Client, workflow_id: str, request: AbortRequest) -> bool:
    """Abort a process through its `abort` update: whether it was running (an ended or unknown one is left be)."""
    try:
        await client.get_workflow_handle(workflow_id).execute_update(ABORT_UPDATE, request, result_type=ProcessState)
        return True
    except (WorkflowUpdateFailedError, RPCError) as exc:
        if isinstance(exc, RPCError) and exc.status not in (RPCStatusCode.NOT_FOUND,):
            raise
        return False


class ClientRequestInput(BaseModel):
    """What a client request's workflow (`ClientRequestWorkflow`) starts with: its reminders, if any."""

    request_id: int
    email_step_key: str | None = Field(None, description="the step key of the email a reminder sends again")
    every_days: int = Field(0, ge=0, le=90)
    count: int = Field(0, ge=0, le=20)
    wait_until: datetime | None = Field(None, description="after its reminders, wait for the answers until then (the "
                                                           "request's expiry): they move the record on at once")


def request_workflow_id(task_queue: str, request_id: int) -> str:
    """`client-request-{id}`; on another task queue than the default, `client-request-{task queue}-{id}` (as
    `dispatcher_id`: two deployments sharing a namespace never share one)."""
    scope = "" if task_queue == DEFAULT_TASK_QUEUE else f"{task_queue}-"
    return f"client-request-{scope}{request_id}"


async def start_request_workflow(client: Client, settings: Settings, input: ClientRequestInput,
                                 submitted: ClientRequestSubmitted | None = None) -> None:
    """Start the request's workflow (its reminders), or find it running; with `submitted`, signal it the client's
    answers (signal-with-start: it may have ended, or never started)."""
    task_queue = settings.temporal_task_queue
    signal = {"start_signal": SUBMITTED_SIGNAL, "start_signal_args": [submitted]} if submitted is not None else {}
    await client.start_workflow(
        CLIENT_REQUEST_WORKFLOW, input, id=request_workflow_id(task_queue, input.request_id), task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"client request {input.request_id}", rpc_timeout=timedelta(seconds=10), **signal)


async def signal_if_running(client: Client, workflow_id: str, signal: str, arg: Any) -> bool:
    """Signal a workflow; False when it is not running (ended, or unknown)."""
    try:
        await client.get_workflow_handle(workflow_id).signal(signal, arg, rpc_timeout=timedelta(seconds=10))
        return True
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
