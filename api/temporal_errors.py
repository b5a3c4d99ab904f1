"""Turning Temporal's answers into the errors callers see (never branching on message text)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from processes.errors import ERROR_TYPES, ProcessFinished, ProcessNotFound, ServiceUnavailable, StagecoachError


@asynccontextmanager
async def temporal_errors(workflow_id: str) -> AsyncIterator[None]:
    """Map update refusals, a missing workflow and an unreachable server to our errors."""
    try:
        yield
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in ERROR_TYPES:
            error = ERROR_TYPES[cause.type](cause.message)
            error.wording = _wording(cause.details)
            raise error from None
        raise StagecoachError(f"process {workflow_id} refused the request: {cause}") from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:  # sent, but not confirmed before the RPC's deadline
        raise _may_still_apply(workflow_id) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ProcessNotFound.worded("no running process {process}", process=workflow_id) from None
        if exc.status == RPCStatusCode.CANCELLED:  # a query no worker answered before the server gave up on it
            raise _no_answer(workflow_id) from None
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise ServiceUnavailable.worded("Temporal is not reachable ({code}); nothing was done",
                                            code=exc.status.name) from None
        raise


def _wording(details: Sequence[Any]) -> tuple[str, dict[str, str]] | None:
    """A refusal's text and values, as `workflows.staff_requests._refuse` sends them (None from a process that ran
    code written before it)."""
    sent = details[0] if details else None
    if isinstance(sent, dict) and isinstance(sent.get("text"), str) and isinstance(sent.get("values"), dict):
        return sent["text"], {str(name): str(value) for name, value in sent["values"].items()}
    return None


def _may_still_apply(workflow_id: str) -> ServiceUnavailable:
    return ServiceUnavailable.worded("process {process} did not answer in time (is the worker running?); the request "
                                     "may still apply: send it again with the same Idempotency-Key to learn its "
                                     "outcome", process=workflow_id)


def _no_answer(workflow_id: str) -> ServiceUnavailable:
    return ServiceUnavailable.worded("process {process} did not answer in time: no worker took its request (is the "
                                     "worker running?); nothing was changed", process=workflow_id)


async def query_state(handle: WorkflowHandle, query: Any, within: float) -> Any:  # type: ignore[type-arg]
    """A running process's answer to `query`, waited for at most `within` seconds: a worker must take it. (No RPC
    deadline of the same length, whose DEADLINE_EXCEEDED would read as Temporal unreachable.)"""
    try:
        async with asyncio.timeout(within), temporal_errors(handle.id):
            return await handle.query(query)
    except TimeoutError:
        raise _no_answer(handle.id) from None
    except WorkflowQueryFailedError:  # the workflow code failed while answering (replaying the process)
        raise _failing(handle.id) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.FAILED_PRECONDITION:  # its workflow task failed (a bug, or code replayed wrong)
            raise _failing(handle.id) from None
        raise


def _failing(workflow_id: str) -> ServiceUnavailable:
    return ServiceUnavailable.worded("process {process} cannot answer now: its workflow task is failing (an engineer "
                                     "sees why in the Temporal UI); nothing was changed", process=workflow_id)


async def ensure_running(handle: WorkflowHandle) -> None:  # type: ignore[type-arg]
    """Refuse a staff request to a process that has ended (409), or that never was (404)."""
    async with temporal_errors(handle.id):
        description = await handle.describe()
    if description.status != WorkflowExecutionStatus.RUNNING:
        raise ProcessFinished.worded("process {process} has ended; it takes no more requests", process=handle.id)


# A request the run saw in a workflow task that then failed on the server (not in our code: "unexpected workflow
# task failure", FAILED_PRECONDITION) was not applied: it is sent again, with the same ID, after these pauses
RESEND_PAUSES = (0.1, 0.3, 0.6)


async def send_update(handle: WorkflowHandle, update: Any, request: Any, *,  # type: ignore[type-arg]
                      within: float, update_id: str | None = None) -> Any:
    """A staff request to a process: refused with 409 once it has ended, 404 if it never was.

    The update goes first and the process's status is read only when it is refused: an update whose ID
    the run has already seen gets that update's outcome from the server, even after the run has ended.
    A retry with the same Idempotency-Key, or one of several sent at once, so learns what the first did,
    instead of a 409 because that first request ended the process.

    The server drops an update whose workflow task failed on its side (seen under load, e.g. a second abort
    right behind the first while the run closes); nothing was done, so it is sent again (`RESEND_PAUSES`)
    before the caller is told 503.

    A worker must take the update for the run to accept it: it is waited for `within` seconds at most (sendings
    included), then 503. Sent, it may still apply once a worker takes it; the same ID learns its outcome."""
    update_id = update_id or str(uuid.uuid4())  # one ID for every sending: the run applies it at most once
    try:
        async with asyncio.timeout(within):
            return await _sent(handle, update, request, update_id)
    except TimeoutError:  # cancelled in a pause (the SDK turns its own cancelling into the error above)
        raise _may_still_apply(handle.id) from None


async def _sent(handle: WorkflowHandle, update: Any, request: Any, update_id: str) -> Any:  # type: ignore[type-arg]
    for pause in (*RESEND_PAUSES, None):
        try:
            async with temporal_errors(handle.id):
                return await handle.execute_update(update, request, id=update_id)
        except ProcessNotFound:
            await ensure_running(handle)  # it has ended (409), or never was (404)
            raise
        except RPCError as exc:
            if exc.status != RPCStatusCode.FAILED_PRECONDITION:
                raise
        await ensure_running(handle)  # 409 if it has ended meanwhile
        if pause is not None:
            await asyncio.sleep(pause)
    raise ServiceUnavailable(f"process {handle.id} could not take the request just now; nothing was done: send "
                             "it again (with the same Idempotency-Key)")
