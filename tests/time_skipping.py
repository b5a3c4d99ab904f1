"""The time-skipping test server as the tests start it: the search attributes added, and a sleep that waits.

The server holds its virtual clock while an activity runs or a workflow task is pending, so skipping days on
which timers fire lasts as long as the worker takes over what they start. The SDK's `env.sleep` sends that
skip with the client's default deadline of 30 s, which a busy machine can pass ("RPCError: Timeout expired"):
the sleep here gives it `SKIP_DEADLINE`, as `tests.polling.eventually` gives an outside condition its minute.
"""

from __future__ import annotations

import functools
import sys
from datetime import timedelta
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from workflows import search_attributes

SKIP_DEADLINE = timedelta(minutes=3)


async def start_test_server() -> WorkflowEnvironment:
    """A time-skipping server of its own (it starts in about 0.1 s), whose `sleep` waits up to `SKIP_DEADLINE`."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=pydantic_data_converter)
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=env.client.namespace,
        search_attributes={key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in search_attributes.ALL}))
    env.sleep = functools.partial(skip_time, env)  # type: ignore[method-assign]
    return env


async def skip_time(env: WorkflowEnvironment, duration: timedelta | float) -> None:
    """Move the server's clock on by `duration`, waiting for what the timers on the way start."""
    request = SleepRequest()
    request.duration.FromTimedelta(duration if isinstance(duration, timedelta) else timedelta(seconds=duration))
    await env.client.test_service.unlock_time_skipping_with_sleep(request, timeout=SKIP_DEADLINE)
