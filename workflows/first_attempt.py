"""A step's first attempt as a local activity; its retries, if any, as a regular activity.

Most steps (an email queued, a task made, a webhook answered at once) take milliseconds. Run as a regular activity,
each costs a round trip through Temporal: the activity is scheduled, matched to a worker, started and completed, and
the workflow takes another workflow task to read its result (six history events and two tasks for the server to
dispatch). Run as a local activity, the worker runs it inside the workflow task that decided it and records its
result as one marker event: the process moves on sooner and costs Temporal about half.

Only the first attempt runs so. When it fails with an error that may be retried, or times out, the step is scheduled
again as a regular activity, after the delay its retry policy (or the error's
own `next_retry_delay`, a webhook's `Retry-After`) asks for, with the attempts that policy has left. Its retries are
then what they were before: heartbeated (a worker that dies mid-step is noticed in `ACTION_HEARTBEAT`), visible in
the Temporal UI as a pending activity with its attempt count and last error, and retried on any worker.

A local attempt has the step's own timeout: it is not cut off sooner, since a step cut off is repeated (a slow
mail server would get each email twice). While it runs, the workflow task that started it stays open: a query or
staff request that arrives meanwhile is answered when the SDK extends that task (every 8 seconds, 80 % of its
10-second timeout) or when the steps running in it end. A staff request that ends the phase waited for its running
step before too. The kinds whose repeat is not harmless (`processes/retry_safety.py`: `at_most_once`), and those
that may well take long (a PDF rendered), make every attempt a regular activity (`REGULAR_ONLY`).

Nothing else changes for a step: it is keyed by its step key, so an attempt that finds what an earlier one recorded
(a delivery, a task, an outbox row) carries on from there, whether that attempt was local or not. A worker that dies
during a local attempt leaves its workflow task to time out; the next worker replays the process and makes the first
attempt again, as a regular retry would.

Runs of engine generation 2 (`processes.instance.ENGINE`) take this path; older runs schedule every attempt as a
regular activity, as their histories say.

Workflow code, run without the SDK's sandbox (see `interpreter.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError, RetryState

from processes.retry_safety import RETRY_SAFETY, RetrySafety

# A local attempt's own limit, shorter than its step's timeout: None but in tests that cut an attempt off.
LOCAL_LIMIT: timedelta | None = None
ONCE = RetryPolicy(maximum_attempts=1)
# Action kinds whose every attempt is a regular activity: a repeat that is not harmless, or a step that is often slow.
REGULAR_ONLY = frozenset({kind for kind, safety in RETRY_SAFETY.items() if safety is RetrySafety.at_most_once} |
                         {"letter", "report"})


def retried(cause: BaseException | None, policy: RetryPolicy) -> timedelta | None:
    """The delay before a first attempt that failed with `cause` is tried again as a regular activity, or None when
    it must not be: the error says it is final, or the policy allows no second attempt."""
    if isinstance(cause, CancelledError) or policy.maximum_attempts == 1:
        return None
    if isinstance(cause, ApplicationError):
        if cause.non_retryable or cause.type in (policy.non_retryable_error_types or ()):
            return None
        if cause.next_retry_delay is not None:
            return cause.next_retry_delay
    return policy.initial_interval


def after_first(policy: RetryPolicy) -> RetryPolicy:
    """The retry policy of the regular activity that takes over: the attempts `policy` has left, starting from its
    second interval (the first was waited for already)."""
    left = policy.maximum_attempts - 1 if policy.maximum_attempts else 0
    return RetryPolicy(initial_interval=policy.initial_interval * policy.backoff_coefficient,
                       backoff_coefficient=policy.backoff_coefficient, maximum_interval=policy.maximum_interval,
                       maximum_attempts=left, non_retryable_error_types=policy.non_retryable_error_types)


def _name(method: Callable[..., Any]) -> str:
    definition = getattr(method, "__temporal_activity_definition", None)
    return definition.name if definition is not None else getattr(method, "__name__", "activity")


async def run_step(local: bool, method: Callable[..., Any], arg: Any, *, start_to_close_timeout: timedelta,
                   retry_policy: RetryPolicy, summary: str, heartbeat_timeout: timedelta | None = None) -> Any:
    """`workflow.execute_activity_method(method, arg, ...)`, its first attempt local when `local`."""
    if local:
        limit = min(LOCAL_LIMIT, start_to_close_timeout) if LOCAL_LIMIT else start_to_close_timeout
        try:
            return await workflow.execute_local_activity_method(
                method, arg, start_to_close_timeout=limit, retry_policy=ONCE,
                summary=summary)
        except FailureError as err:
            # a local attempt's failure comes as an ActivityError, or as its cause alone (the activity's own error,
            # and a timeout when a history is replayed)
            cause = err.cause if isinstance(err, ActivityError) else err
            delay = retried(cause, retry_policy)
            if delay is None:
                if isinstance(err, ActivityError):
                    raise
                raise ActivityError("Local activity failed", scheduled_event_id=0, started_event_id=0, identity="",
                                    activity_type=_name(method), activity_id="",
                                    retry_state=RetryState.NON_RETRYABLE_FAILURE) from err
            workflow.logger.info("%s: first attempt failed (%s); retried as an activity", summary, cause)
        if delay > timedelta(0):
            await workflow.sleep(delay, summary=f"retry of {summary}")
        retry_policy = after_first(retry_policy)
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=start_to_close_timeout, heartbeat_timeout=heartbeat_timeout,
        retry_policy=retry_policy, summary=summary)
