"""The bookkeeping a process has decided but not written yet, until a step carries it.

History lines, tasks to close and the start of a phase (its responsible looked up) wait
here; the process's next step takes them (`take`) and, once that step has succeeded, they
are written (`settle`). A step that fails leaves them here for the next one. Before the
process waits for anything, the workflow flushes what is left, so nothing waits with it.
Deterministic: workflow code, run without the SDK's sandbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activities.bookkeeping import Bookkeeping, HistoryLine, PhaseStart, PhaseTaskOpening, RunEnd, TaskClosing
from crm.models import HistoryKind, TaskStatus
from processes.history_words import Said
from processes.template_basics import Responsible


class Ledger:
    def __init__(self, record_id: int, workflow_id: str, actor: str) -> None:
        self.record_id, self.workflow_id, self.actor = record_id, workflow_id, actor
        self.lines: list[HistoryLine] = []
        self.close_tasks: list[TaskClosing] = []
        self.start: PhaseStart | None = None
        self.end: RunEnd | None = None  # the process has ended: its end, for its run row
        self.queued = 0  # items ever added
        self.written = 0  # the items up to this one are in the database

    def line(self, step_key: str, kind: HistoryKind, said: Said, *, phase_key: str | None = None, actor: str = "",
             data: dict[str, Any] | None = None) -> int:
        """Add a history line; its number, which `written` reaches once it is in the database."""
        self.lines.append(HistoryLine.saying(said, step_key=step_key, kind=kind, phase_key=phase_key, actor=actor,
                                             data=data or {}))
        return self._queued()

    def close_task(self, task_id: int, status: TaskStatus, actor: str) -> int:
        self.close_tasks.append(TaskClosing(task_id=task_id, status=status, actor=actor))
        return self._queued()

    def begin_phase(self, responsible: Responsible, line: HistoryLine) -> int:
        """A phase starts: its responsible is looked up, and its line written, by its first step."""
        self.start = PhaseStart(responsible=responsible, line=line, position=len(self.lines))
        return self._queued()

    def soften_start(self) -> None:
        """Staff skipped the lookup of the responsible after it failed: nobody is responsible."""
        if self.start is not None:
            self.start = self.start.model_copy(update={"soft": True})

    def take(self, *, owner_id: int, after: Sequence[HistoryLine] = (), with_start: bool = True,
             soft_start: bool = False, open_task: PhaseTaskOpening | None = None) -> Bookkeeping | None:
        """What the next step carries (None: nothing). It stays here until `settle`."""
        start = self.start if with_start else None
        if start is not None and soft_start:
            start = start.model_copy(update={"soft": True})
        if not (self.lines or self.close_tasks or start or after or open_task or self.end):
            return None
        return Bookkeeping(record_id=self.record_id, workflow_id=self.workflow_id, owner_id=owner_id,
                           actor=self.actor, close_tasks=list(self.close_tasks), lines=list(self.lines),
                           start=start, open_task=open_task, after=list(after), end=self.end)

    def settle(self, books: Bookkeeping) -> None:
        """`books` is written: drop what it carried (by identity: a flush from a timer racing the phase may
        have written some of it already, and lines may have been added since it was taken)."""
        lines = {line.step_key for line in books.lines}
        closings = {(c.task_id, c.status) for c in books.close_tasks}
        self.lines = [line for line in self.lines if line.step_key not in lines]
        self.close_tasks = [c for c in self.close_tasks if (c.task_id, c.status) not in closings]
        if self.start is not None:
            if books.start is not None and books.start.line.step_key == self.start.line.step_key:
                self.start = None
            elif books.start is None:  # held back (its lookup failed): written when it is found, after what is left
                self.start = self.start.model_copy(update={"position": None})
        if books.end is not None:
            self.end = None
        if not (self.lines or self.close_tasks or self.start):
            self.written = self.queued

    def _queued(self) -> int:
        self.queued += 1
        return self.queued
