"""One render child (`renderer.child`) seen from its pool: its pipes, read and written without blocking the event
loop, the processor time it has used, its priority, and its end."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import struct
import subprocess
from collections.abc import Mapping
from typing import Any

HEADER = struct.Struct(">I")
# the slow lane's child runs only on processor time nothing else wants: past its kill time, it is killed if it has used
# the processor time of a render's kill time (stuck), else it waits for a processor, until this long in all
STARVED_SECONDS = 60.0
STARVED_CHECK = 0.5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Stopped(Exception):
    """The child was killed because it did not answer in time."""


class Starved(Exception):
    """The child was killed because, at idle priority on a busy machine, it got no processor time for too long."""


class Died(Exception):
    """The child ended without answering (killed by someone else, crashed)."""


class Child:
    """One child process and its two pipes, read and written through whichever event loop is running (a
    worker has one; tests and scripts may have several): nothing here is bound to a loop."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc, self.alive, self.idle = proc, True, False
        self.since = 0.0  # when its lane gave it its current request
        self._in, self._out = proc.stdin.fileno(), proc.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        self._buffer = bytearray()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.alive and self.proc.poll() is None

    async def _ready(self, fd: int, writing: bool) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        (loop.add_writer if writing else loop.add_reader)(fd, lambda: done.done() or done.set_result(None))
        try:
            await done
        finally:
            (loop.remove_writer if writing else loop.remove_reader)(fd)

    async def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._in, view):]
            except BlockingIOError:
                await self._ready(self._in, writing=True)
            except (BrokenPipeError, ConnectionError) as exc:
                raise Died(await self._exit_code()) from exc

    async def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            try:
                chunk = os.read(self._out, 1 << 16)
            except BlockingIOError:
                await self._ready(self._out, writing=False)
                continue
            if not chunk:
                raise Died(await self._exit_code())
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def read(self) -> dict[str, Any]:
        (size,) = HEADER.unpack(await self._read(HEADER.size))
        return json.loads(await self._read(size))  # type: ignore[no-any-return]

    async def _exit_code(self) -> int | None:
        self.alive = False
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 5)
        except TimeoutError:
            return None

    async def call(self, request: Mapping[str, Any], timeout: float, cpu: float | None = None) -> dict[str, Any]:
        """The child's answer; `Stopped` (it is killed) past `timeout` seconds. With `cpu`, a child at idle priority
        that has used less processor time than that on the request is waiting for a processor, not stuck: it is
        given until `STARVED_SECONDS` in all, then killed too (`Starved`)."""
        data = pickle.dumps(dict(request), protocol=pickle.HIGHEST_PROTOCOL)
        loop = asyncio.get_running_loop()
        started, spent = loop.time(), self.cpu_seconds()
        exchange = asyncio.ensure_future(self._exchange(HEADER.pack(len(data)) + data))
        try:
            deadline = started + timeout
            while not (await asyncio.wait({exchange}, timeout=max(0.0, deadline - loop.time())))[0]:
                if cpu is None or not self.cpu_seconds() - spent < cpu:  # (not known: stuck)
                    raise Stopped
                if loop.time() - started >= STARVED_SECONDS:
                    raise Starved
                self.promote()  # a busy machine leaves it no processor time: it gets its nice value's share
                deadline = min(started + STARVED_SECONDS, loop.time() + STARVED_CHECK)
            answer = exchange.result()
        except Died:
            raise
        except BaseException:  # past its time, or cancelled (the step was, the worker stops): its answer would be stale
            exchange.cancel()
            self.kill()
            raise
        if answer.get("memory") or answer.get("retire"):
            self.alive = False  # it exits by itself
        return answer

    async def _exchange(self, frame: bytes) -> dict[str, Any]:
        await self._write(frame)
        return await self.read()

    def promote(self) -> None:
        """From idle priority back to the normal class, at the child's nice value (where RLIMIT_NICE allows it)."""
        if self.idle:
            self.idle = False
            try:
                os.sched_setscheduler(self.pid, os.SCHED_OTHER, os.sched_param(0))
            except (AttributeError, OSError):
                pass  # not allowed: it stays idle, and is given up past STARVED_SECONDS

    def cpu_seconds(self) -> float:
        """The processor time the child has used (infinite when it cannot be read: a child past its time is stuck)."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return float("inf")

    def kill(self) -> None:
        self.alive = False
        if self.proc.poll() is None:
            try:
                self.proc.kill()
                self.proc.wait(timeout=0.1)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass  # reaped later, by the next Popen
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


def idle_priority(pid: int) -> bool:
    """The process runs only on processor time nothing else wants (`SCHED_IDLE`), from its first import on: whether
    it does."""
    try:
        os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        return False  # not Linux, or the child already gone: its own nice value still lowers it
    return True
