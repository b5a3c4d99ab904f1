"""The engine's own writes, carried by the step that follows them instead of activities of their own.

A phase's history lines ("phase started", "phase done", "process ended"...), the phase's
task opened or closed, and the lookup of its responsible user are bookkeeping: a
hand-written workflow would not spend an activity on each. The workflow collects them
(`workflows.ledger.Ledger`) and hands them to its next step, which applies them in its own
transaction: `before` its effect (tasks closed, lines, the phase started with its
responsible, a phase task opened) and `after` it (what its success means: the phase done,
the process ended). Before the process waits for anything (a timer, staff, a task) it
flushes what is left with `record_bookkeeping`. Every row carries a step key and is
inserted once, so a retried step writes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.errors import final_message
from activities.responsible import resolve_user_id
from crm.bound import Bound
from crm.idempotent import insert_new
from crm.models import HistoryEntry, HistoryKind, Task, TaskKind, TaskStatus
from crm.process_runs import ProcessRun, RunStatus, end_update, mark_started, started_update, write_end
from crm.types import utcnow
from processes.history_words import ENGLISH, Said, history_text
from processes.instance import ProcessState, ProcessStatus
from processes.stage_templates import is_stage
from processes.template_basics import Responsible


class HistoryLine(BaseModel):
    """A line the engine writes in the record's history: its `words` (a key of `processes/history_words.py`) with
    their `values`, written in the office's language (LOCALE) by the activity that writes it; `text` says it in
    English (a line from a run before `words` has only its `text`, written as it is)."""

    step_key: str
    kind: HistoryKind
    text: str
    phase_key: str | None = None
    actor: str = ""
    data: dict[str, Any] = {}
    words: str | None = None
    values: dict[str, Any] = {}

    @classmethod
    def saying(cls, said: Said, **fields: Any) -> HistoryLine:
        """The line of `said` (its English `text`, its words and values), with its other fields."""
        return cls(text=said.english, words=said.key, values=said.values, **fields)

    def text_in(self, locale: str) -> str:
        """The line's text in the language of `locale`."""
        return _in_language(locale, self.words, self.values, self.text)


def _in_language(locale: str, words: str | None, values: dict[str, Any], english: str) -> str:
    """A line workflow code built, in the language of `locale`: its `words` with their `values`; one without words
    (from a run started before them) as its `english` text."""
    return history_text(locale, words, **values) if words is not None else english


class PhaseStart(BaseModel):
    """A phase begins: its responsible user is looked up and its "phase started" line names them."""

    responsible: Responsible
    line: HistoryLine
    position: int | None = 0  # the line goes after this many of `Bookkeeping.lines` (the ones written before it
    # began); None: after all of them (its lookup needed staff, so it is written when its responsible is found)
    soft: bool = False  # staff skipped the lookup after it failed: nobody is responsible, not an error


class TaskClosing(BaseModel):
    task_id: int
    status: TaskStatus
    actor: str = ""


class PhaseTaskOpening(BaseModel):
    """The task of a manual phase, in its responsible user's list."""

    step_key: str
    phase_key: str
    title: str  # in English when `title_words` is given: its words and values, as the line's
    title_words: str | None = None
    title_values: dict[str, Any] = {}
    line: str  # its history line, in English; `words` and `values`: as a `HistoryLine`'s
    words: str | None = None
    values: dict[str, Any] = {}
    due_at: datetime | None = None
    assignee_id: int | None = None  # when the phase started earlier; else its responsible, looked up now


def task_line(said: Said) -> dict[str, Any]:
    """A `PhaseTaskOpening`'s line: `said` in English, its words and values."""
    return {"line": said.english, "words": said.key, "values": said.values}


def task_title(said: Said) -> dict[str, Any]:
    """A `PhaseTaskOpening`'s title when the engine words it: `said` in English, its words and values."""
    return {"title": said.english, "title_words": said.key, "title_values": said.values}


class RunEnd(BaseModel):
    """The process has ended: its end is written to its run (`crm/process_runs.py`), where the process list and
    `GET /processes/{id}` read it at any age; a process aborted or cancelled closes its open tasks."""

    status: ProcessStatus
    ended_at: datetime
    ended_by: str | None = None
    end_reason: str | None = None
    state: ProcessState


class StepEnd(BaseModel):
    """The process ends with the success of the step that carries this: its end, for its run row, written by that
    step (`write_step_end`) once its summary and time are known, instead of by an activity of its own after it.
    `end` is the end as the workflow will have it, but for the step's own outcome (the last of its phase's
    `actions`, its summary empty) and the times, which `completed` fills in."""

    end: RunEnd
    phase_key: str
    starts_phase: bool = False  # the step also starts its phase: it looks up the phase's responsible

    def completed(self, summary: str, at: datetime, responsible_id: int | None) -> RunEnd:
        """The end once the step succeeded at `at`, saying `summary` (and, if it started the phase, having found its
        responsible): the workflow takes the same from the step's result, and writes its end again only if its own
        differs from this (staff or a timer changed the process while the step ran)."""
        state = self.end.state.model_copy(deep=True, update={"ended_at": at})
        phase = state.phase(self.phase_key)
        assert phase is not None and phase.actions
        phase.finished_at = at
        if self.starts_phase:
            phase.responsible_id = responsible_id
        phase.actions[-1] = phase.actions[-1].model_copy(update={"summary": summary, "at": at})
        return self.end.model_copy(update={"ended_at": at, "state": state})


class Bookkeeping(BaseModel):
    record_id: int
    workflow_id: str
    owner_id: int
    actor: str  # "process {template}"
    close_tasks: list[TaskClosing] = []
    lines: list[HistoryLine] = []
    start: PhaseStart | None = None
    open_task: PhaseTaskOpening | None = None
    after: list[HistoryLine] = []
    end: RunEnd | None = None
    ending: StepEnd | None = None  # the step's success ends the process: it writes the end, after its effect


class BookkeepingResult(BaseModel):
    responsible_id: int | None = None
    task_id: int | None = None


@dataclass
class Begun:
    """What applying the `before` part gave: the responsible looked up, the task opened, the lines to insert."""

    responsible_id: int | None = None
    task_id: int | None = None
    rows: list[HistoryEntry] = field(default_factory=list)
    started: Bound | None = None  # with `confirm_later`: the UPDATE marking the process's run `running`, to send with
    # the rows


def _row(books: Bookkeeping, line: HistoryLine, locale: str) -> HistoryEntry:
    # without the ORM's instrumentation (`model_construct`: a third of the cost): the engine's lines are only read by
    # `crm.idempotent.insert_new` and `new_rows`, never added to a session
    return HistoryEntry.model_construct(record_id=books.record_id, step_key=line.step_key, kind=line.kind,
                                        text=line.text_in(locale), workflow_id=books.workflow_id,
                                        phase_key=line.phase_key, actor=line.actor or books.actor, data=line.data)


async def _responsible(session: AsyncSession, books: Bookkeeping, start: PhaseStart) -> int | None:
    if start.responsible.kind == "process_owner":
        # checked when it was set (a start or a change of owner over the API, a follow-up's preparation), and
        # users are never deleted: no read needed (the old path's `resolve_responsible` still reads it)
        return books.owner_id
    try:
        return await resolve_user_id(session, start.responsible, books.record_id, books.owner_id)
    except ApplicationError as exc:
        if start.soft:
            return None
        phase = start.line.phase_key
        raise final_message("ResponsibleNotFound", f"responsible of phase '{phase}': {exc.message}") from None


async def start_responsible(session: AsyncSession, books: Bookkeeping | None) -> int | None:
    """The responsible of the phase the step starts (a read), when it starts one; None otherwise."""
    return await _responsible(session, books, books.start) if books is not None and books.start is not None \
        else None


class _LookUp:
    """The responsible is to be looked up (`begin`'s default)."""


LOOK_UP = _LookUp()


async def begin(session: AsyncSession, books: Bookkeeping | None,
                responsible_id: int | None | _LookUp = LOOK_UP, *, locale: str, confirm_later: bool = False) -> Begun:
    """Apply the `before` part in `session` (no commit): close tasks, look up the responsible (unless given:
    the step looked it up to render first), open the phase task. The history lines come back in `Begun.rows`
    (in the language of `locale`: the office's, LOCALE), for the caller to insert with its own; with
    `confirm_later`, so does the statement marking the process's run `running` ("process started" among the lines:
    `Begun.started`, for `insert_new`'s `also`)."""
    if books is None:
        return Begun()
    if books.end is not None:  # first: the tasks it closes say why
        await _write_end(session, books.workflow_id, books.end, locale)
    for closing in books.close_tasks:  # a task already closed (a retry, or by hand) stays as it is
        await session.exec(update(Task).where(col(Task.id) == closing.task_id,  # type: ignore[call-overload]
                                              col(Task.status) == TaskStatus.open)
                           .values(status=closing.status, completed_at=utcnow(), completed_by=closing.actor or None))
    begun = Begun()
    lines = list(books.lines)
    if books.start is not None:
        start = books.start
        begun.responsible_id = await _responsible(session, books, start) if isinstance(responsible_id, _LookUp) \
            else responsible_id
        started = start.line.model_copy(update={"data": {"responsible_id": begun.responsible_id, **start.line.data}})
        lines.insert(len(lines) if start.position is None else min(start.position, len(lines)), started)
    begun.rows = [_row(books, line, locale) for line in lines]
    if confirm_later and any(line.kind is HistoryKind.process_started for line in lines):
        begun.started = started_update(books.workflow_id)
        lines = [line for line in lines if line.kind is not HistoryKind.process_started]
    await _follow_runs(session, books, lines)
    if books.open_task is not None:
        opening = books.open_task
        assignee = begun.responsible_id if books.start is not None else opening.assignee_id
        task = Task(step_key=opening.step_key, kind=TaskKind.phase, workflow_id=books.workflow_id,
                    phase_key=opening.phase_key, record_id=books.record_id, assignee_id=assignee,
                    title=_in_language(locale, opening.title_words, opening.title_values, opening.title),
                    due_at=opening.due_at)
        begun.task_id = (await insert_new(session, Task, [task])).get(opening.step_key) or (await session.exec(
            select(Task.id).where(Task.step_key == opening.step_key))).one()
        begun.rows.append(HistoryEntry(record_id=books.record_id, step_key=opening.step_key,
                                       kind=HistoryKind.task_created,
                                       text=_in_language(locale, opening.words, opening.values, opening.line),
                                       workflow_id=books.workflow_id, phase_key=opening.phase_key,
                                       actor=books.actor, data={"assignee_id": assignee}))
    return begun


async def _write_end(session: AsyncSession, workflow_id: str, end: RunEnd, locale: str) -> None:
    """The run's end; the tasks the process left open are closed, when it was aborted or cancelled, by whoever
    ended it, saying why (in the language of `locale`, the office's). Not a status's automations': they are aborted
    when the record leaves the status, and the tasks its on-enter actions made are the office's work, kept as they are
    when nothing was scheduled after them (the process had ended then)."""
    if end.status is not ProcessStatus.completed and not is_stage(end.state.template_key):
        key = f"reason_process_{end.status.value}" + ("_why" if end.end_reason else "")
        reason = history_text(locale, key, reason=end.end_reason) if key in ENGLISH else \
            f"process {end.status.value}" + (f": {end.end_reason}" if end.end_reason else "")
        await session.exec(update(Task).where(  # type: ignore[call-overload]
            col(Task.workflow_id) == workflow_id, col(Task.status) == TaskStatus.open)
            .values(status=TaskStatus.cancelled, completed_at=utcnow(), completed_by=end.ended_by,
                    close_reason=reason[:1000]))
    await write_end(session, workflow_id, RunStatus(end.status.value), ended_at=end.ended_at,
                    ended_by=end.ended_by, end_reason=end.end_reason, state=end.state)


def step_end_update(books: Bookkeeping | None, summary: str, at: datetime, responsible_id: int | None) -> Bound | None:
    """The statement writing the process's end, when the step carries it (`books.ending`), with the step's `summary`,
    time and the responsible it found; None when it does not carry it."""
    if books is None or books.ending is None:
        return None
    end = books.ending.completed(summary, at, responsible_id)
    # unless an end is written already: by an earlier try of this step, or by the workflow after it (the step was
    # cancelled with its process, and finishes after the process wrote that it was aborted)
    return end_update(books.workflow_id, RunStatus(end.status.value), ended_at=end.ended_at, ended_by=end.ended_by,
                      end_reason=end.end_reason, state=end.state, unless_ended=True)


async def write_step_end(session: AsyncSession, books: Bookkeeping | None, summary: str, at: datetime,
                         responsible_id: int | None) -> bool:
    """The process's end, when the step carries it (`books.ending`), written in `session` (no commit) with the
    step's `summary`, time and the responsible it found; whether it did."""
    statement = step_end_update(books, summary, at, responsible_id)
    if statement is not None:
        await statement.run(session)
    return statement is not None


def writes_only_lines(books: Bookkeeping | None) -> bool:
    """Whether `begin` with `confirm_later` (and the responsible given) writes nothing itself: only history lines
    and the run marked running come back, for the caller to send with its own statement."""
    return books is None or (books.end is None and not books.close_tasks and books.open_task is None and not any(
        line.kind in (HistoryKind.follow_up_started, HistoryKind.follow_up_failed)
        for line in [*books.lines, *([books.start.line] if books.start is not None else [])]))


async def _follow_runs(session: AsyncSession, books: Bookkeeping, lines: list[HistoryLine]) -> None:
    """What the lines say about process runs: a process that wrote "started" runs (its start is confirmed, if
    its starter could not), a follow-up started runs, a follow-up whose start failed never started."""
    for line in lines:
        if line.kind is HistoryKind.process_started:
            await mark_started(session, books.workflow_id)
        elif line.kind is HistoryKind.follow_up_started and "workflow_id" in line.data:
            await mark_started(session, line.data["workflow_id"])
        elif line.kind is HistoryKind.follow_up_failed and "workflow_id" in line.data:
            await session.exec(update(ProcessRun).where(  # type: ignore[call-overload]
                col(ProcessRun.workflow_id) == line.data["workflow_id"], col(ProcessRun.status) == RunStatus.starting)
                .values(status=RunStatus.not_started))


def after(books: Bookkeeping | None, locale: str) -> list[HistoryEntry]:
    """The `after` lines, to insert once the step's effect is done, in the language of `locale`."""
    return [_row(books, line, locale) for line in books.after] if books is not None else []


class BookkeepingActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @activity.defn(name="record_bookkeeping")
    async def record_bookkeeping(self, books: Bookkeeping) -> BookkeepingResult:
        """Bookkeeping no step carried: flushed before the process waits, or as it ends."""
        async with self.deps.sessions() as session:
            locale = self.deps.settings.locale
            begun = await begin(session, books, locale=locale, confirm_later=True)
            await insert_new(session, HistoryEntry, [*begun.rows, *after(books, locale)], also=begun.started)
            await session.commit()
        return BookkeepingResult(responsible_id=begun.responsible_id, task_id=begun.task_id)
