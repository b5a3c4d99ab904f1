"""Deliver one outbound message per step (a webhook, an SMS), as its action kind's retry safety says.

The message is rendered once and recorded with the step's key (`crm/deliveries.py`) before anything
leaves, so every attempt sends the same body with the same id. Each attempt is marked `sending` (and
counted) before it starts and its outcome written after: delivered (with the receiver's status and a
capped body, a history line and the step's `after` lines), or a failure that is retried, final, or of
unknown outcome. An attempt found still `sending` died with its worker: a `repeatable` kind sends again,
an `at_most_once` kind never does by itself: the delivery becomes `unknown` and the step fails for good
with `DeliveryOutcomeUnknown`, an incident asking staff whether it was sent (skip: it was, or let it be;
retry: send it again).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import httpx

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.errors import final_message
from activities.public_address import AddressRefused, HostUnresolved, outbound_client, pin
from activities.step import OnceStep, StepInput
from crm.bound import Bound
from crm.db import each_statement_alone
from crm.deliveries import RESPONSE_BODY_CAP, Delivery, DeliveryStatus
from crm.idempotent import insert_new, insert_once, new_rows
from crm.models import HistoryEntry, HistoryKind
from crm.types import utcnow
from processes.retry_safety import RETRY_SAFETY, RetrySafety
from settings import Settings

DELIVERIES: sa.Table = Delivery.__table__  # type: ignore[attr-defined]
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # the request never left
# a delivery's row as recorded, and as its outcome is written: built once, the values as parameters
_DELIVERY_VALUES = {column.name: sa.bindparam(f"delivery_{column.name}", type_=column.type)
                    for column in DELIVERIES.columns if not column.primary_key}
_DELIVERED = sa.update(DELIVERIES).where(DELIVERIES.c.id == sa.bindparam("delivered_id")).values(
    {**{name: sa.bindparam(f"delivered_{name}", type_=DELIVERIES.c[name].type)
        for name in ("status", "sent_at", "response_status", "response_body", "provider_id")}, "last_error": None})


@dataclass(frozen=True)
class Planned:
    """What a delivery sends, decided once: to whom (an endpoint's name, a number) and what."""

    target: str
    body: str
    message_id: str
    check: Bound | None = None  # a scalar subquery read in the transaction that records the delivery (a webhook
    # endpoint's flag)
    checked: Callable[[Any], None] | None = None  # given the value of `check`, when this attempt recorded the delivery


@dataclass(frozen=True)
class Answered:
    """A delivery the receiver took (or, without a gateway, kept in the outbox: `held`)."""

    status: DeliveryStatus = DeliveryStatus.delivered
    response_status: int | None = None
    response_body: str | None = None
    provider_id: str | None = None


class DeliveryFailed(Exception):
    """An attempt that did not deliver. `outcome`: `retry` (surely not received, or harmless to repeat),
    `final` (refused for good) or `unknown` (may have been received)."""

    def __init__(self, message: str, *, outcome: Literal["retry", "final", "unknown"], error_type: str,
                 response_status: int | None = None, response_body: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message, self.outcome, self.error_type = message, outcome, error_type
        self.response_status, self.response_body, self.retry_after = response_status, response_body, retry_after


Compose = Callable[[AsyncSession], Awaitable[Planned]]
Before = Callable[[AsyncSession], Awaitable[None]]
Send = Callable[[Delivery], Awaitable[Answered]]
Describe = Callable[[Delivery], str]
Finish = Callable[[Delivery], Bound | None]  # a statement the outcome's transaction also makes (the process's end)


def capped(text: str | None) -> str | None:
    return None if text is None else text[:RESPONSE_BODY_CAP]


async def deliver_once(deps: Deps, step: StepInput, *, kind: str, compose: Compose, send: Send, before: Before,
                       after: Sequence[HistoryEntry], history_kind: HistoryKind, describe: Describe,
                       finish: Finish | None = None, once: OnceStep | None = None) -> Delivery:
    """Record the delivery (with what `before` adds to that transaction), send it, write its outcome (with the
    statement `finish` gives: the process's end, when the step ends it). With `once` (the step's `before` part as
    lines), a first attempt records it in one statement (`_record_first`)."""
    row, fresh = await _recorded(deps, step, kind, compose, before, once)
    if row.status in (DeliveryStatus.delivered, DeliveryStatus.held):
        return row
    if row.status is DeliveryStatus.sending and RETRY_SAFETY[kind] is RetrySafety.at_most_once:
        error = (f"the attempt to send delivery {row.id} ({kind} to {row.target}) stopped before its outcome was "
                 "known (the worker stopped, or the gateway did not answer): was it sent? Skip this step if it was; "
                 "retry it to send it again")
        await write_delivery(deps.sessions, row.id, status=DeliveryStatus.unknown, last_error=error)
        raise final_message("DeliveryOutcomeUnknown", error)
    if not fresh:  # a new row of a repeatable kind is recorded as its first attempt (`_recorded`)
        await write_delivery(deps.sessions, row.id, status=DeliveryStatus.sending,
                             attempts=Delivery.attempts + 1)
    try:
        answer = await send(row)
    except DeliveryFailed as exc:
        status = {"retry": DeliveryStatus.failed if _last_attempt() else DeliveryStatus.pending,
                  "final": DeliveryStatus.failed, "unknown": DeliveryStatus.unknown}[exc.outcome]
        await write_delivery(deps.sessions, row.id, status=status, last_error=exc.message,
                             response_status=exc.response_status, response_body=capped(exc.response_body))
        if exc.outcome == "retry":
            delay = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else None
            raise ApplicationError(exc.message, type=exc.error_type, next_retry_delay=delay) from None
        if exc.outcome == "unknown":
            raise final_message("DeliveryOutcomeUnknown", f"{exc.message}: was it sent? Skip this step if it was; "
                                                          "retry it to send it again") from None
        raise final_message(exc.error_type, exc.message) from None
    row.status, row.sent_at = answer.status, utcnow()
    row.response_status, row.response_body = answer.response_status, capped(answer.response_body)
    row.provider_id, row.last_error = answer.provider_id, None
    written = [Bound(_DELIVERED, {"delivered_id": row.id, **{f"delivered_{name}": getattr(row, name) for name in (
        "status", "sent_at", "response_status", "response_body", "provider_id")}})]
    if finish is not None and (end := finish(row)) is not None:
        written.append(end)
    # without the ORM's instrumentation, as `bookkeeping._row` builds the engine's lines: only insert_new reads it
    line = HistoryEntry.model_construct(record_id=step.record_id, step_key=step.step_key, kind=history_kind,
                                        text=describe(row), workflow_id=step.workflow_id, phase_key=step.phase_key,
                                        data={"delivery_id": row.id, "message_id": row.message_id})
    async with deps.sessions() as session:  # the outcome, its history line and the step's `after` lines, at once:
        await each_statement_alone(session)  # on PostgreSQL one statement (its own transaction), else in one
        await insert_new(session, HistoryEntry, [line, *after], also=written)
        await session.commit()
    activity.logger.info("%s %s", kind, row.status.value, extra={"step_key": step.step_key})
    return row


def _last_attempt() -> bool:
    """Whether Temporal will not try this activity again: its retry policy's last attempt, after which the process
    holds an incident (the delivery is then `failed`, not `pending` as if it were to be retried by itself; staff's
    retry sends it again). A local first attempt never is: the workflow retries it as an activity."""
    info = activity.info()
    policy = info.retry_policy
    return not info.is_local and policy is not None and 0 < policy.maximum_attempts <= info.attempt


async def _recorded(deps: Deps, step: StepInput, kind: str, compose: Compose, before: Before,
                    once: OnceStep | None = None) -> tuple[Delivery, bool]:
    """The step's delivery, and whether this attempt recorded it. A `repeatable` kind's new row is recorded as its
    first attempt (`sending`, counted) in the same transaction: one write fewer, and a repeat after a crash sends
    it again whatever it says; an `at_most_once` kind's is `pending` until its attempt is marked on its own."""
    early = RETRY_SAFETY[kind] is RetrySafety.repeatable
    if early and once is not None and activity.info().attempt == 1:
        first = await _record_first(deps, step, kind, compose, once)
        if first is not None:
            return first, True
    made: list[Delivery] = []
    async with deps.sessions() as session:
        async def make() -> list[Delivery]:
            planned = await compose(session)  # reads and renders: before anything is written
            await _check(session, planned)
            await before(session)  # the step's bookkeeping: committed with the delivery
            made.append(_delivery(step, kind, planned, early))
            return made

        row = await insert_once(session, Delivery, step.step_key, make)
        return row, early and bool(made) and row is made[0]


def _delivery(step: StepInput, kind: str, planned: Planned, early: bool) -> Delivery:
    return Delivery(step_key=step.step_key, kind=kind, message_id=planned.message_id, workflow_id=step.workflow_id,
                    record_id=step.record_id, target=planned.target, body=planned.body,
                    status=DeliveryStatus.sending if early else DeliveryStatus.pending, attempts=1 if early else 0)


async def _check(session: AsyncSession, planned: Planned) -> None:
    if planned.check is not None and planned.checked is not None:
        planned.checked((await read_scalar(planned.check).run(session)).scalar())


@functools.lru_cache(maxsize=16)
def _select(subquery: Any) -> Any:
    return sa.select(subquery)


def read_scalar(subquery: Bound) -> Bound:
    """The SELECT of a scalar subquery built once (`Planned.check`)."""
    return Bound(_select(subquery.statement), subquery.params)


@functools.lru_cache(maxsize=64)
def _first_statement(dialect: str, lines: Any, started: Any, check: Any) -> Any:
    """A first attempt's `INSERT .. ON CONFLICT (step_key) DO NOTHING RETURNING id` of its delivery, built once per
    shape (the values are parameters: `delivery_` and the column's name); on PostgreSQL with its history lines
    (`crm.idempotent.new_rows`'s statement), the run marked running and the `check` read, each when given."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(DELIVERIES).values(_DELIVERY_VALUES).on_conflict_do_nothing(index_elements=["step_key"])
    statement = statement.returning(DELIVERIES.c.id, *([check.label("checked")] if check is not None else []))
    if lines is not None:
        statement = statement.add_cte(lines.cte("lines"))
    if started is not None:
        statement = statement.add_cte(started.cte("also"))
    return statement


async def _record_first(deps: Deps, step: StepInput, kind: str, compose: Compose, once: OnceStep) -> Delivery | None:
    """A first attempt of a `repeatable` kind records its delivery (as its first attempt) without looking for it
    first: `INSERT .. ON CONFLICT (step_key) DO NOTHING`, on PostgreSQL in one statement with the step's history
    lines, its run marked running and its `check` (and, when the step writes nothing else before, with no
    transaction around it). None when a row was there already (a staff retry of the step: it sends the row as
    recorded, whose body and id do not change) or composing failed: the careful way (`insert_once`) then reads
    the row first, as on a later attempt. The lines written meanwhile are inserted once by step key."""
    async with deps.sessions() as session:
        postgres = session.sync_session.get_bind().dialect.name == "postgresql"
        if postgres and once.only_lines:
            await each_statement_alone(session)
        try:
            planned = await compose(session)
        except Exception:  # noqa: BLE001 - composed again the careful way, which says why (or finds the row)
            await session.rollback()
            return None
        rows, started = await once.lines(session)
        row = _delivery(step, kind, planned, early=True)
        params = {f"delivery_{name}": value for name, value in row.model_dump(exclude={"id"}).items()}
        checking = planned.check is not None and planned.checked is not None
        if postgres:
            lines, lines_params = new_rows("postgresql", HistoryEntry, rows) if rows else (None, {})
            check = planned.check if checking else None
            statement = _first_statement("postgresql", lines, started and started.statement, check and check.statement)
            params |= {**lines_params, **(started.params if started else {}), **(check.params if check else {})}
        else:
            await _check(session, planned)
            await insert_new(session, HistoryEntry, rows, also=started)
            statement = _first_statement("sqlite", None, None, None)
        recorded = (await session.exec(statement, params=params)).first()  # type: ignore[call-overload]
        if recorded is None:
            await session.rollback()
            return None
        await session.commit()
    if postgres and checking:
        planned.checked(recorded.checked)  # type: ignore[misc]
    row.id = recorded.id
    return row


async def write_delivery(sessions: async_sessionmaker[AsyncSession], row_id: int | None,
                         **values: object) -> None:
    """Set `values` on the delivery's row, in a transaction of its own."""
    async with sessions() as session:
        await session.exec(update(Delivery).where(col(Delivery.id) == row_id).values(**values))  # type: ignore[call-overload]
        await session.commit()


REASON_CHARS = 300  # of a refusal's answer, in the incident's message


async def post_at_most_once(settings: Settings, url: str, *, where: str, not_sent: str, refused: str,
                            **request: Any) -> httpx.Response:
    """POST to a gateway whose message must not go twice (an SMS, a signature envelope), through the address guard:
    its 2xx answer, or `DeliveryFailed` saying whether it may have been received. A refused connection, 429 and
    503 surely sent nothing (`retry`, typed `not_sent`); other 4xx are final (`refused`); any other 5xx, a timeout
    or a connection lost after the request left may have (`unknown`: staff decide)."""
    try:
        target = await pin(url, settings.outbound_allowed_hosts)
    except AddressRefused as exc:
        raise DeliveryFailed(f"{where}: {exc}", outcome="final", error_type="AddressRefused") from None
    except HostUnresolved as exc:
        raise DeliveryFailed(f"{where}: {exc}", outcome="retry", error_type=not_sent) from None
    headers = {**request.pop("headers", {}), **target.headers}
    try:
        async with outbound_client(settings.webhook_read_timeout_seconds,
                                   settings.webhook_connect_timeout_seconds) as http:
            response = await http.post(target.url, headers=headers, extensions=target.extensions, **request)
    except NOT_SENT as exc:
        raise DeliveryFailed(f"{where} unreachable: {type(exc).__name__}", outcome="retry",
                             error_type=not_sent) from None
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{where} did not answer ({type(exc).__name__}); it may have been received",
                             outcome="unknown", error_type="DeliveryOutcomeUnknown") from None
    code, body = response.status_code, response.text
    if 200 <= code < 300:
        return response
    said = f"{where} answered {code}"
    if code in (429, 503):
        raise DeliveryFailed(said, outcome="retry", error_type=not_sent, response_status=code, response_body=body)
    if code >= 500:
        raise DeliveryFailed(f"{said}; it may have been received", outcome="unknown",
                             error_type="DeliveryOutcomeUnknown", response_status=code, response_body=body)
    reason = " ".join(body.split())[:REASON_CHARS]  # the receiver's words on why (a number it does not serve)
    raise DeliveryFailed(f"{said}: {reason}" if reason else said, outcome="final", error_type=refused,
                         response_status=code, response_body=body)
