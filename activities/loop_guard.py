"""The loop guard: an automatic start beyond the daily limit of its template on its record is cancelled.

Every run of the template on the record that day counts, however it was started: by hand over the
API (a person's own start is never cancelled, but it counts), by autostart or by a follow-up. A run
whose start never happened (`not_started`) does not. So a chain started by hand runs ten times, and
its eleventh start is cancelled.

The cancellation stands whatever happens to its notices: the controller, the owner and the user whose
action led to the start are emailed (linked to the record, so its outbox shows them, and named after
the record and the process), and a notice the SMTP server refuses for good, or still cannot take after
`NOTICE_ATTEMPTS` tries, is written to the record's history as not sent and logged, never a failure of
the process.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta, tzinfo

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import Deps
from activities.engine_words import say
from activities.history import write_history_once
from activities.outbox import send_once
from crm.models import HistoryEntry, HistoryKind, Record, User
from crm.process_runs import ProcessRun, RunStatus
from crm.types import utcnow
from processes.history_words import english, history_text, said

log = logging.getLogger("stagecoach.loop_guard")

# A notice the SMTP server keeps deferring (4xx, down) is tried this many times (the guard's attempts), then
# written down as not sent: the cancellation does not wait for it.
NOTICE_ATTEMPTS = 5


class LoopGuardInput(BaseModel):
    workflow_id: str
    template_key: str
    template_name: str
    record_id: int
    owner_id: int
    controller_email: str
    triggered_by_user_id: int | None = None


class LoopGuardResult(BaseModel):
    cancelled: bool
    starts_today: int
    limit: int
    reason: str = ""
    notices_not_sent: list[str] = []  # "address: why"


async def starts_today(session: AsyncSession, zone: tzinfo, template_key: str, record_id: int, workflow_id: str,
                       created: datetime | None = None) -> int:
    """The runs of the template on the record today (in the guard's time zone), up to `workflow_id`'s (created
    at `created`, when the caller knows)."""
    today = datetime.combine(utcnow().astimezone(zone).date(), time(0), tzinfo=zone)
    if created is None:
        created = (await session.exec(select(ProcessRun.created_at).where(ProcessRun.workflow_id == workflow_id))
                   ).first()
    query = select(func.count()).select_from(ProcessRun).where(
        ProcessRun.template_key == template_key, ProcessRun.record_id == record_id,
        col(ProcessRun.status) != RunStatus.not_started,
        ProcessRun.created_at >= today, ProcessRun.created_at < today + timedelta(days=1),
        ProcessRun.created_at <= (created or utcnow()))
    return (await session.exec(query)).one()


class LoopGuardActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def _starts_today(self, session: AsyncSession, input: LoopGuardInput) -> int:
        return await starts_today(session, self.deps.settings.zone, input.template_key, input.record_id,
                                  input.workflow_id)

    @activity.defn(name="apply_loop_guard")
    async def apply_loop_guard(self, input: LoopGuardInput) -> LoopGuardResult:
        """Count this start among today's runs; past the limit, cancel it and tell everyone."""
        limit = self.deps.settings.loop_guard_limit
        async with self.deps.sessions() as session:
            starts = await self._starts_today(session, input)
            if starts <= limit:
                return LoopGuardResult(cancelled=False, starts_today=starts, limit=limit)
            record = await session.get(Record, input.record_id)
            title = record.title if record is not None else ""
            recipients = {input.controller_email}
            for user_id in (input.owner_id, input.triggered_by_user_id):
                user = await session.get(User, user_id) if user_id is not None else None
                if user is not None:
                    recipients.add(user.email)
        reason = english("reason_loop_guard_why", key=input.template_key, starts=starts, record_id=input.record_id,
                         limit=limit)
        # the cancellation is written first: it stands whatever happens to the notices
        await write_history_once(self.deps, HistoryEntry(
            record_id=input.record_id, step_key=f"{input.workflow_id}/loop-guard", kind=HistoryKind.loop_guard,
            text=history_text(self.deps.settings.locale, "loop_guard", template=input.template_name,
                              key=input.template_key, starts=starts, record_id=input.record_id, limit=limit),
            workflow_id=input.workflow_id,
            actor="loop guard", data={"starts_today": starts, "limit": limit}))
        text = say(self.deps.settings.locale)
        named = {"workflow_id": input.workflow_id, "template": input.template_name, "record_id": input.record_id}
        subject = text("loop_guard", **named, title=f": {title}" if title else "")
        body = text("loop_guard_text", **named, title=f" ({title})" if title else "", runs=starts - 1, limit=limit)
        not_sent = []
        for n, address in enumerate(sorted(recipients)):
            if (why := await self._notify(input, n, address, subject, body)) is not None:
                not_sent.append(f"{address}: {why}")
        return LoopGuardResult(cancelled=True, starts_today=starts, limit=limit, reason=reason,
                               notices_not_sent=not_sent)

    async def _notify(self, input: LoopGuardInput, n: int, address: str, subject: str, body: str) -> str | None:
        """Send one notice; why it was not sent, once that is final (a deferral is retried by the guard's
        next attempt, until `NOTICE_ATTEMPTS`)."""
        step_key = f"{input.workflow_id}/loop-guard/{n}"

        async def compose(_: AsyncSession) -> tuple[str, str, str]:
            return address, subject, body

        try:
            await send_once(self.deps, step_key=step_key, workflow_id=input.workflow_id, record_id=input.record_id,
                            compose=compose, history=said("loop_guard_notice_sent"), retry_failed=False)
            return None
        except ApplicationError as exc:
            if not exc.non_retryable and activity.info().attempt < NOTICE_ATTEMPTS:
                raise  # deferred: the guard runs again (what it wrote and sent stays done)
            why = exc.message
        log.warning("loop guard notice not sent", extra={"workflow_id": input.workflow_id, "step_key": step_key,
                                                          "error": why})
        await write_history_once(self.deps, HistoryEntry(
            record_id=input.record_id, step_key=f"{step_key}/not-sent", kind=HistoryKind.notice_not_sent,
            text=history_text(self.deps.settings.locale, "loop_guard_not_sent", address=address, why=why),
            workflow_id=input.workflow_id,
            actor="loop guard", data={"to": address}))
        return why
