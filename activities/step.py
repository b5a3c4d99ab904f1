"""The input every action activity gets, and the variables its text is rendered with."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.bookkeeping import (LOOK_UP, Begun, Bookkeeping, after, begin, start_responsible, write_step_end,
                                    writes_only_lines)
from activities.deps import Deps
from activities.errors import final
from activities.lookups import load_record, load_user
from crm.bound import Bound
from crm.idempotent import insert_new
from crm.models import HistoryEntry, Record, User
from crm.types import utcnow
from processes.display import Office
from processes.errors import RenderError, RenderInterrupted
from processes.plain_text import render_plain
from processes.rendering import attributes_used
from processes.variables import VARIABLES


class StepInput(BaseModel):
    """Identifies one side effect: `step_key` is `{workflow id}/{phase}/{action index}/{iteration}`."""

    step_key: str
    workflow_id: str
    record_id: int
    owner_id: int
    template_key: str
    template_name: str
    template_version: int
    controller_email: str
    process_started_at: datetime
    phase_key: str
    phase_name: str
    phase_started_at: datetime | None = None
    phase_deadline: datetime | None = None
    responsible_id: int | None = None
    books: Bookkeeping | None = None  # the engine's bookkeeping this step carries (activities/bookkeeping.py)
    locale: str | None = None  # the template's; None: the installation's LOCALE
    answers: dict[str, Any] = {}  # given when staff completed manual phases, for `answers` in text
    phases: dict[str, dict[str, Any]] = {}  # each phase's status, overdue and iteration, for `phases` in text


class ActionResult(BaseModel):
    """What an action did, in a line for the process timeline (no personal data)."""

    summary: str
    data: dict[str, Any] = {}
    responsible_id: int | None = None  # the phase's responsible, when the step looked it up (books.start)
    ended_at: datetime | None = None  # the step carried the process's end (books.ending) and wrote it at this time


StepMethod = TypeVar("StepMethod", bound=Callable[..., Awaitable[ActionResult]])


def step_activity(name: str) -> Callable[[StepMethod], StepMethod]:
    """`activity.defn(name=name)` for an action step (an `ActionResult` from an input with `step`): when the step
    carries the process's end (`books.ending`: the process ends with its success), the end is written once the step
    has succeeded, in a transaction of its own, unless the step wrote it in its own (`ended_at` set). A step is
    idempotent by its step key: a retry after a failed write of the end finds its effect done and writes the end."""
    def define(method: StepMethod) -> StepMethod:
        @functools.wraps(method)
        async def run(self: Any, input: Any) -> ActionResult:
            result = await method(self, input)
            books = input.step.books
            if books is None or books.ending is None or result.ended_at is not None:
                return result
            at = utcnow()
            async with self.deps.sessions() as session:
                await write_step_end(session, books, result.summary, at, result.responsible_id)
                await session.commit()
            return result.model_copy(update={"ended_at": at})

        return activity.defn(name=name)(run)  # type: ignore[return-value]

    return define


async def prepare_step(session: AsyncSession, step: StepInput) -> StepInput:
    """The step with the responsible of the phase it starts, looked up without writing: a step renders its
    text before it writes anything, so a slow render never holds a write lock (SQLite's is the database's)."""
    if step.books is None or step.books.start is None:
        return step
    return step.model_copy(update={"responsible_id": await start_responsible(session, step.books)})


async def begin_step(session: AsyncSession, step: StepInput, *, locale: str, prepared: bool = False,
                     confirm_later: bool = False) -> tuple[StepInput, Begun]:
    """Apply the `before` part of the step's bookkeeping in `session`, its lines in the language of `locale` (the
    office's, LOCALE); the step with its responsible (looked up here, unless `prepared`: `prepare_step` looked it
    up). `confirm_later`: see `bookkeeping.begin`."""
    begun = await begin(session, step.books, step.responsible_id if prepared else LOOK_UP, locale=locale,
                        confirm_later=confirm_later)
    if step.books is not None and step.books.start is not None:
        step = step.model_copy(update={"responsible_id": begun.responsible_id})
    return step, begun


class OnceStep:
    """An action step whose effect is recorded once (an email, a delivery): its responsible looked up first (no
    write), then the `before` part of its bookkeeping written in the transaction that records the effect."""

    def __init__(self, step: StepInput, locale: str) -> None:
        self.step, self.locale = step, locale  # the office's (LOCALE): its lines are written in its language

    @classmethod
    async def prepare(cls, deps: Deps, step: StepInput) -> OnceStep:
        async with deps.sessions() as session:
            return cls(await prepare_step(session, step), deps.settings.locale)

    async def before(self, session: AsyncSession) -> None:
        rows, started = await self.lines(session)
        await insert_new(session, HistoryEntry, rows, also=started)

    async def lines(self, session: AsyncSession) -> tuple[list[HistoryEntry], Bound | None]:
        """Apply the `before` part but for its history lines and the statement marking the run `running` (None when
        it is not the process's first step), which come back for the caller to send with its own."""
        self.step, begun = await begin_step(session, self.step, locale=self.locale, prepared=True,
                                            confirm_later=True)
        return begun.rows, begun.started

    def after(self) -> list[HistoryEntry]:
        """The `after` lines of its bookkeeping (`bookkeeping.after`)."""
        return after(self.step.books, self.locale)

    @property
    def only_lines(self) -> bool:
        """Whether `lines` writes nothing itself (`bookkeeping.writes_only_lines`)."""
        return writes_only_lines(self.step.books)


def person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "handle": user.handle, "name": user.name, "email": user.email,
            "phone": user.phone, "role": user.role}


def record_vars(record: Record | None, owner: User | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "id": record.id, "kind": record.kind.value, "type": record.type, "status": record.status,
        "title": record.title, "email": record.email, "phone": record.phone, "channel": record.channel,
        "owner": person(owner), "fields": dict(record.fields or {}), "created_at": record.created_at,
    }


# the attributes of `record` and `process` a text can read without a database read: what the step knows
KNOWN_RECORD = frozenset({"id"})
KNOWN_PROCESS = frozenset({"id", "template", "template_name", "version", "started_at", "controller_email"})


def _reads_only(needs: dict[str, frozenset[str] | None], name: str, known: frozenset[str]) -> bool:
    attributes = needs.get(name, frozenset())
    return attributes is not None and attributes <= known


async def render_variables(session: AsyncSession, step: StepInput, now: datetime,
                           texts: list[str] | None = None) -> dict[str, Any]:
    """The variables listed in `processes.variables`, loaded fresh from the database.

    With `texts`, only what those texts use is loaded (the others are left out: a text that
    uses no variable reads nothing); without, all of them. A text that reads only the record's
    `id`, or only what the step knows of its process (not its `owner`), reads nothing for them.
    """
    needs: dict[str, frozenset[str] | None] = dict.fromkeys(VARIABLES) if texts is None else {}
    for text in texts or ():
        for name, attributes in attributes_used(text).items():
            before = needs.get(name, frozenset())
            needs[name] = None if attributes is None or before is None else before | attributes
    used = frozenset(needs)
    whole_record = "contact" in used or ("record" in used and not _reads_only(needs, "record", KNOWN_RECORD))
    record = await load_record(session, step.record_id) if whole_record else None
    record_owner = await session.get(User, record.owner_id) if record and record.owner_id and "record" in used \
        else None
    contact = await session.get(Record, record.contact_id) if record and record.contact_id and "contact" in used \
        else None
    contact_owner = await session.get(User, contact.owner_id) if contact and contact.owner_id else None
    owner = await session.get(User, step.owner_id) \
        if "owner" in used or ("process" in used and not _reads_only(needs, "process", KNOWN_PROCESS)) else None
    responsible = await session.get(User, step.responsible_id) if step.responsible_id and "responsible" in used \
        else None
    variables = {
        "record": record_vars(record, record_owner) if whole_record else {"id": step.record_id},
        "contact": record_vars(contact, contact_owner),
        "process": {
            "id": step.workflow_id, "template": step.template_key, "template_name": step.template_name,
            "version": step.template_version, "owner": person(owner), "started_at": step.process_started_at,
            "controller_email": step.controller_email,
        },
        "phase": {"key": step.phase_key, "name": step.phase_name, "started_at": step.phase_started_at,
                  "deadline": step.phase_deadline},
        "responsible": person(responsible),
        "owner": person(owner),
        "now": now,
        "answers": step.answers,
        "phases": step.phases,
    }
    return {name: value for name, value in variables.items() if name in used}


async def render(deps: Deps, step: StepInput, source: str, variables: dict[str, Any], where: str,
                 locale: str | None = None) -> str:
    """Render user text in the worker's render pool, in the office's language (the action's `locale`, else the
    template's, else the installation's) and time zone; text plain enough to run no user code (constant parts and
    values looked up by name: `processes.plain_text`) is rendered here; both count in the render time metric. A render
    failure is final (retrying renders the same text); a render process that died is retried."""
    office = Office(locale or step.locale or deps.settings.locale, deps.settings.timezone)
    from metrics import render_timer  # not at import: workflows import this module, and a sandbox has no metrics

    try:
        with render_timer():
            if (plain := render_plain(source, variables, office)) is not None:  # runs no user code: no trip to the pool
                return plain
            return await deps.renderer.render(source, variables, where=where, office=office)
    except RenderError as exc:
        raise final(exc) from None
    except RenderInterrupted as exc:
        raise ApplicationError(exc.message, type=exc.type) from None
