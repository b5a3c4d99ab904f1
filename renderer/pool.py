"""The render pool: user text rendered, and templates checked, in child processes (`renderer.child`).

Each request goes to an idle child over a pipe and is awaited, so the event loop (a worker's
steps and heartbeats, the API's requests) never runs user code. A child that has not answered
within the kill time is SIGKILLed, and one whose render ran out of memory exits: either way the
request is refused with a clear message and the next request gets a fresh child. Children start
when first needed and are kept.

Requests go down one of three lanes, so that a text that hits its bounds again and again cannot
make others wait behind it: texts that rendered quickly before (`fast`, the pool's size in
children), texts not seen yet (`new`, one child) and texts that hit a bound or took long
(`slow`, one child at idle priority). A new text gets a trial of `SLOW_SECONDS` of processor
time: past it, it stops there and is rendered again, from the start and with its whole budget,
in the slow lane; so new texts wait behind a slow one for its trial at most. Text without `{` is
its own rendering and never leaves the caller.

The slow lane's child is `SCHED_IDLE` from its first import on: it runs only on processor time
nothing else wants, and any other process that wakes up takes its processor at once, so harmless
steps on the same machine run as if it were not there (at a nice value it still held a processor
for its slice, and the other processes squeezed onto the rest). Its kill time then counts the
processor time it used: past the wall-clock time, it is killed as stuck once it has used a
render's kill time of processor time; one that a busy machine gave no processor time goes back to
its nice value (where RLIMIT_NICE allows), and after `STARVED_SECONDS` is stopped and tried again.
After each render the slow lane rests as long as it was busy (`SLOW_REST`): however many such texts
come, they keep at most half a processor busy.
"""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from processes.display import Office
from processes.errors import ErrorDetail, PipelineInvalid, RenderError, RenderInterrupted, TemplateInvalid
from processes.pipeline import Pipeline
from processes.rendering import RENDER_SECONDS
from processes.template import ProcessTemplate
from processes.template_basics import RecordKind
from renderer import channel
from renderer.channel import Child, Died, Starved, Stopped, idle_priority

ROOT = Path(__file__).resolve().parent.parent
KILL_GRACE = 2.0  # past the render's own time budget, a child still busy is stuck in one long call: killed
RENDER_KILL_SECONDS = RENDER_SECONDS + KILL_GRACE
# the slow lane's child runs at a lower priority: on a busy machine its second of processor time takes longer
SLOW_KILL_SECONDS = 3 * RENDER_KILL_SECONDS
# a template check parses a document of up to 1 MB and tries its constant parts (2 s of processor time): its kill
# time grows with the document, so that the largest checks on a busy machine (a few seconds when it is quiet)
CHECK_KILL_SECONDS = 15.0
CHECK_KILL_SECONDS_PER_MB = 60.0
SLOW_SECONDS = 0.25  # processor time past which a text is slow: a new text's trial, then the slow lane
SLOW_QUEUE_SECONDS = 30.0  # how long a slow text may wait for the slow lane before it is retried later
# HTML made a PDF (renderer/pdf.py) in a lane of its own: a page takes milliseconds, 200 pages a few seconds
PDF_KILL_SECONDS = 60.0
START_SECONDS = 30.0
START_IDLE_SECONDS = 3.0  # a slow lane's child not started by then (a busy machine) starts at its nice value
REMEMBERED = 4096  # texts whose lane is remembered
# after each of its renders (its child's start included) the slow lane rests as long again: texts that went over their
# bounds, however many, keep at most half a processor busy, and the machine's other work has the rest
SLOW_REST = 1.0


class CheckedTemplate(NamedTuple):
    """A template that validated, and the paths of the texts whose constant parts it had no time left to try."""

    template: ProcessTemplate
    untried: list[str]


class _Lane:
    def __init__(self, spawn: Any, size: int, nice: int, rest: float = 0.0) -> None:
        self.spawn, self.nice, self.rest = spawn, nice, rest
        self.slots = asyncio.Semaphore(size)
        self.idle: list[Child] = []
        self.children: set[Child] = set()

    async def acquire(self, wait: float | None = None) -> Child:
        if wait is None:
            await self.slots.acquire()
        else:
            async with asyncio.timeout(wait):
                await self.slots.acquire()
        since = asyncio.get_running_loop().time()
        while self.idle:
            child = self.idle.pop()
            if child.running:
                child.since = since
                return child
            self.children.discard(child)
        try:
            child = await self.spawn(self.nice)
        except BaseException:
            self.slots.release()
            raise
        self.children.add(child)
        child.since = since
        return child

    def release(self, child: Child) -> None:
        """The child back, and its slot once the lane has rested `rest` times as long as the child was held."""
        if child.alive:
            self.idle.append(child)
        else:
            self.children.discard(child)
        loop = asyncio.get_running_loop()
        if self.rest:
            loop.call_later(self.rest * (loop.time() - child.since), self.slots.release)
        else:
            self.slots.release()


class RenderPool:
    """Renders and template checks in child processes; one per worker and one per API process."""

    def __init__(self, processes: int = 2, memory_mb: int = 256, *, render_kill: float = RENDER_KILL_SECONDS,
                 slow_kill: float = SLOW_KILL_SECONDS, check_kill: float = CHECK_KILL_SECONDS) -> None:
        self.processes, self.memory_mb = processes, memory_mb
        self.render_kill, self.slow_kill, self.check_kill = render_kill, slow_kill, check_kill
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lanes: dict[str, _Lane] = {}
        self._fast: OrderedDict[int, None] = OrderedDict()
        self._slow: OrderedDict[int, None] = OrderedDict()

    # --- what callers use ------------------------------------------------------------------

    async def render(self, source: str, variables: Mapping[str, Any], *, where: str, office: Office) -> str:
        """`source` rendered with `variables`; `RenderError` (the text's fault), `RenderInterrupted` (retry)."""
        if "{" not in source:
            from processes.rendering import render_text

            return render_text(source, {}, where=where)  # no Jinja2 syntax: the text is its own rendering
        answer = await self._call([source], {"op": "render", "source": source, "variables": dict(variables),
                                             "where": where, **_office(office)}, where)
        return answer["ok"]  # type: ignore[no-any-return]

    async def pdf(self, html: str, *, where: str, title: str = "", author: str = "") -> bytes:
        """The PDF of `html` (`renderer/pdf.py`), made in a child of its own lane; `RenderError` when the HTML cannot
        be made a PDF (the template's fault), `RenderInterrupted` (retry)."""
        answer = await self._call(None, {"op": "pdf", "html": html, "title": title, "author": author, "where": where},
                                  where, lane="pdf", timeout=PDF_KILL_SECONDS)
        return base64.b64decode(answer["ok"])

    async def decide(self, conditions: list[tuple[str, str]], variables: Mapping[str, Any], *,
                     office: Office) -> int | None:
        """The index of the first condition (`(where, source)`) that holds, or None."""
        for b, (where, source) in enumerate(conditions):
            answer = await self._call([source], {"op": "decide", "conditions": [(where, source)],
                                                 "variables": dict(variables), **_office(office)}, where)
            if answer["ok"] is not None:
                return b
        return None

    async def validate(self, text: str, *, source: str = "body", known_users: Iterable[str] | None = None,
                       known_templates: Mapping[str, RecordKind] | None = None,
                       known_endpoints: Iterable[str] | None = None, known_requests: Iterable[str] | None = None,
                       known_signers: Iterable[str] | None = None) -> ProcessTemplate:
        """Parse and validate a template document in a child; `TemplateInvalid` with every error otherwise."""
        checked = await self.check(text, source=source, known_users=known_users, known_templates=known_templates,
                                   known_endpoints=known_endpoints, known_requests=known_requests,
                                   known_signers=known_signers)
        return checked.template

    async def check(self, text: str, *, source: str = "body", known_users: Iterable[str] | None = None,
                    known_templates: Mapping[str, RecordKind] | None = None,
                    known_endpoints: Iterable[str] | None = None, known_requests: Iterable[str] | None = None,
                    known_signers: Iterable[str] | None = None) -> CheckedTemplate:
        """`validate`, and the paths of the texts the check had no time left to try (`processes.trials`)."""
        request = {"op": "validate", "text": text, "source": source,
                   "known_requests": None if known_requests is None else set(known_requests),
                   "known_signers": None if known_signers is None else set(known_signers),
                   "known_endpoints": None if known_endpoints is None else set(known_endpoints),
                   "known_users": None if known_users is None else _users(known_users),
                   "known_templates": None if known_templates is None else
                   {key: kind.value for key, kind in known_templates.items()}}
        answer = await self._call(None, request, "", lane="check", timeout=self.check_timeout(text))
        if "invalid" in answer:
            raise TemplateInvalid([ErrorDetail(path, message) for path, message in answer["invalid"]])
        return CheckedTemplate(ProcessTemplate.model_validate(answer["ok"]), answer["untried"])

    def check_timeout(self, text: str) -> float:
        """The kill time of a template's check: the pool's, and more for each megabyte of the document."""
        return round(self.check_kill * (1 + CHECK_KILL_SECONDS_PER_MB / CHECK_KILL_SECONDS
                                        * len(text.encode()) / 1_000_000), 2)

    async def validate_pipeline(self, text: str, *, source: str, known_users: Iterable[str],
                                known_templates: Mapping[str, RecordKind],
                                known_endpoints: Iterable[str] | None = None,
                                known_requests: Iterable[str] | None = None,
                                known_signers: Iterable[str] | None = None) -> tuple[Pipeline, dict[str, str]]:
        """Parse and validate a pipeline document in a child: the pipeline and its `remap` (statuses removed, and
        where their records go); `PipelineInvalid` with every error otherwise."""
        request = {"op": "validate_pipeline", "text": text, "source": source, "known_users": _users(known_users),
                   "known_endpoints": None if known_endpoints is None else set(known_endpoints),
                   "known_requests": None if known_requests is None else set(known_requests),
                   "known_signers": None if known_signers is None else set(known_signers),
                   "known_templates": {key: kind.value for key, kind in known_templates.items()}}
        answer = await self._call(None, request, "", lane="check", timeout=self.check_timeout(text))
        if "invalid" in answer:
            raise PipelineInvalid([ErrorDetail(path, message) for path, message in answer["invalid"]])
        return Pipeline.model_validate(answer["ok"]), answer["remap"]

    async def close(self) -> None:
        """Stop every child (a worker stopping, the API shutting down)."""
        lanes, self._lanes = self._lanes, {}
        for lane in lanes.values():
            for child in lane.children:
                child.kill()

    def pids(self) -> list[int]:
        """The children's process ids (the benchmarks read their memory)."""
        return [child.pid for lane in self._lanes.values() for child in lane.children if child.running]

    # --- how ------------------------------------------------------------------------------

    def _lane(self, name: str) -> _Lane:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a lane's semaphore belongs to one loop: another loop gets lanes of its own
            for lane in self._lanes.values():
                for child in lane.idle:  # (a busy one ends when its pipes are closed, with its old lane)
                    child.kill()
            self._lanes, self._loop = {}, loop
        if name not in self._lanes:
            size = {"fast": self.processes, "check": self.processes}.get(name, 1)
            self._lanes[name] = _Lane(self._spawn, size, nice=10 if name == "slow" else 0,
                                      rest=SLOW_REST if name == "slow" else 0.0)
        return self._lanes[name]

    def _lane_for(self, keys: list[int]) -> str:
        if any(key in self._slow for key in keys):
            return "slow"
        return "fast" if all(key in self._fast for key in keys) else "new"

    def _remember(self, keys: list[int], slow: bool) -> None:
        mark, clear = (self._slow, self._fast) if slow else (self._fast, self._slow)
        for key in keys:
            clear.pop(key, None)
            mark[key] = None
            mark.move_to_end(key)
            while len(mark) > REMEMBERED:
                mark.popitem(last=False)

    async def _call(self, sources: list[str] | None, request: dict[str, Any], where: str, *,
                    lane: str | None = None, timeout: float | None = None) -> dict[str, Any]:
        keys = [hash(source) for source in sources or ()]
        name = lane or self._lane_for(keys)
        if name == "new":
            trial = min(SLOW_SECONDS + KILL_GRACE, self.render_kill)
            answer = await self._attempt(keys, "new", {**request, "seconds": SLOW_SECONDS}, where, trial)
            if answer is not None:
                return answer
            name = "slow"  # slow: rendered again from the start, with its whole budget, where it delays no one
        answer = await self._attempt(keys, name, request, where,
                                     timeout or (self.slow_kill if name == "slow" else self.render_kill))
        assert answer is not None
        return answer

    async def _attempt(self, keys: list[int], name: str, request: dict[str, Any], where: str,
                       timeout: float) -> dict[str, Any] | None:
        """The answer of one child of lane `name`; None when a new text turned out slow (in its trial, or while
        it waited for the new lane)."""
        prefix = f"{where}: " if where else ""
        trial = name == "new"
        try:
            child = await self._lane(name).acquire(SLOW_QUEUE_SECONDS if name == "slow" else None)
        except TimeoutError:
            raise RenderInterrupted(f"{prefix}this text went over its bounds before, and other such texts are "
                                    "waiting: it will be tried again") from None
        lanes = self._lanes
        try:
            if trial and self._lane_for(keys) == "slow":  # another render of it found it slow meanwhile
                return None
            if name == "slow" and not child.idle:  # promoted while a busy machine starved its last render
                child.idle = idle_priority(child.pid)
            answer = await child.call(request, timeout, cpu=self.render_kill if name == "slow" else None)
        except Stopped:
            if name == "check":  # its own work is bounded within: the machine is busy, not the template wrong
                raise RenderInterrupted(f"checking the template took longer than {timeout:g}s (the time a template "
                                        "of its size may take) and was stopped: the server is busy, send it "
                                        "again") from None
            self._remember(keys, slow=True)
            if trial:
                return None
            raise RenderError(f"{prefix}refused: rendering took longer than {timeout:g}s and was stopped") from None
        except Starved:
            raise RenderInterrupted(f"{prefix}this text went over its bounds before, and was given no processor time "
                                    f"for {channel.STARVED_SECONDS:g}s (the machine is busy): it will be tried again") from None
        except Died as exc:
            raise RenderInterrupted(f"{prefix}the render stopped unexpectedly (exit code {exc.args[0]}); "
                                    "it will be tried again") from None
        finally:
            if self._lanes is lanes and name in lanes:
                lanes[name].release(child)
        self._remember(keys, slow=bool(answer.get("memory") or answer.get("slow"))
                       or answer.get("seconds", 0) > SLOW_SECONDS or "refused: " in answer.get("error", ""))
        if answer.get("slow"):
            return None
        if "error" in answer:
            message = answer["error"]
            raise RenderError(message if message.startswith(prefix) else prefix + message)
        if "failed" in answer:
            raise RenderInterrupted(f"{prefix}{answer['failed']}")
        return answer

    async def _spawn(self, nice: int) -> Child:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        proc = subprocess.Popen(
            [sys.executable, "-m", "renderer.child", "--memory-mb", str(self.memory_mb), "--nice", str(nice)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True, env=env)
        child = Child(proc)
        if nice:
            child.idle = idle_priority(proc.pid)
        ready = asyncio.ensure_future(child.read())
        try:
            async with asyncio.timeout(START_SECONDS):
                if child.idle and not (await asyncio.wait({ready}, timeout=START_IDLE_SECONDS))[0]:
                    child.promote()  # a busy machine left it no processor time to start
                await ready
        except (TimeoutError, Died) as exc:
            ready.cancel()
            child.kill()
            raise RenderInterrupted(f"a render process did not start (exit code {proc.returncode})") from exc
        return child


def _users(known_users: Iterable[str]) -> dict[str, str | None]:
    """The users a document may name: their handles, or a mapping of each handle to the user's role (then the roles
    a document names are checked too)."""
    if isinstance(known_users, Mapping):
        return dict(known_users)
    return dict.fromkeys(known_users)


def _office(office: Office) -> dict[str, str]:
    return {"locale": office.locale, "timezone": office.timezone}


_shared: RenderPool | None = None


def shared_pool() -> RenderPool:
    """The process's default pool (tests, and anything that does not make its own), started when first used."""
    global _shared
    if _shared is None:
        _shared = RenderPool()
    return _shared

