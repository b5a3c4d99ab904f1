"""The Temporal SDK's own lines are JSON like every other line: its core (Rust) wrote coloured text to stderr
(`WARN temporalio_client::retry: gRPC call count_workflow_executions retried 5 times`) whenever Temporal went away,
a quarter of an API's log lines during an outage, which a log pipeline reading JSON cannot read."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.faults.conftest import DevServer

CALLER = """
import asyncio, os, sys
from datetime import timedelta
import logs
from settings import Settings
from workflows.client import connect

async def main() -> None:
    logs.configure_logging("INFO", True)
    client = await connect(Settings(temporal_address=sys.argv[1]))
    await client.count_workflows()
    print("counted", flush=True)
    sys.stdin.readline()  # the server is gone: the core retries (and says so) until the call's own timeout
    try:
        await client.count_workflows(rpc_timeout=timedelta(seconds=6))
    except Exception:
        pass
    sys.stderr.flush()
    os._exit(0)  # not waiting on the SDK's threads to wind down

asyncio.run(main())
"""


async def test_the_sdk_core_lines_are_json_when_temporal_goes_away(tmp_path: Path) -> None:
    server = DevServer(tmp_path)
    await server.start()
    caller = subprocess.Popen([sys.executable, "-c", CALLER, server.address], cwd=Path(__file__).resolve().parents[2],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert caller.stdout is not None
        first = caller.stdout.readline()  # blocking: nothing else runs meanwhile
        assert first.strip() == b"counted", first
        server.stop(signal.SIGKILL)
        _, err = caller.communicate(b"gone\n", 60)
    finally:
        if caller.poll() is None:
            caller.kill()
        if server.proc is not None and server.proc.poll() is None:
            server.stop(signal.SIGKILL)
    lines = [line for line in err.decode().splitlines() if line.strip()]
    said = [json.loads(line) for line in lines]  # each one JSON (json.loads raises on the coloured text)
    assert any("retried" in line.get("event", "") for line in said), lines
