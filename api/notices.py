"""Telling chosen users by email about something staff did (a case created, an event added).

The messages are written to the outbox in the caller's transaction (`queue_notices`), then handed to a
`NoticesWorkflow` once it has committed (`send_notices`; its id is unique: a record id can come back
in SQLite once its record is deleted, and the outbox's step keys already make a delivery happen once). A start Temporal refuses leaves them
`pending` in the outbox, where staff see them; the request that caused them has succeeded.
"""

from __future__ import annotations

import logging
import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from activities.mailer import message_id_for
from api.auth import user_sees
from crm.models import OutboxMessage, User
from processes.errors import ErrorDetail, ReferenceNotFound, StagecoachError
from settings import Settings
from workflows.notices import NoticesInput, NoticesWorkflow

log = logging.getLogger("stagecoach.api")


async def queue_notices(session: AsyncSession, settings: Settings, *, key: str, record_id: int,
                        user_ids: list[int], subject: str, body: str) -> list[str]:
    """An outbox message to each user (no commit); their step keys. A user who does not exist is refused (422
    `body.notify_user_ids[n]`)."""
    wanted = list(dict.fromkeys(user_ids))
    users = {u.id: u for u in (await session.exec(select(User).where(col(User.id).in_(wanted)))).all()}
    if missing := [n for n, u in enumerate(user_ids) if u not in users]:
        raise ReferenceNotFound(f"no user {user_ids[missing[0]]}", details=[
            ErrorDetail(f"body.notify_user_ids[{n}]", f"no user {user_ids[n]}") for n in missing])
    blind = [n for n, u in enumerate(user_ids) if not await user_sees(session, users[u], record_id)]
    if blind:  # the notice would tell them what the record keeps from them (a restricted case's name, a note)
        raise NoticeInvalid(f"user {users[user_ids[blind[0]]].handle} does not see record {record_id}", details=[
            ErrorDetail(f"body.notify_user_ids[{n}]", f"{users[user_ids[n]].handle} does not see record {record_id} "
                        "(restricted): add them to its access list first, or tell someone who sees it")
            for n in blind])
    keys = []
    for user_id in wanted:
        step_key = f"{key}/notify/{user_id}"
        session.add(OutboxMessage(step_key=step_key, message_id=message_id_for(step_key, settings.smtp_from),
                                  record_id=record_id, to_address=users[user_id].email, subject=subject[:1000],
                                  body=body))
        keys.append(step_key)
    return keys


class NoticeInvalid(StagecoachError):
    status = 422


async def send_notices(temporal: Client, settings: Settings, key: str, step_keys: list[str]) -> None:
    """Start the delivery of committed notices; a failure is logged (the messages stay pending in the outbox)."""
    if not step_keys:
        return
    try:
        await temporal.start_workflow(NoticesWorkflow.run, NoticesInput(step_keys=step_keys),
                                      id=f"notices-{key.replace('/', '-')}-{uuid.uuid4().hex[:12]}",
                                      task_queue=settings.temporal_task_queue,
                                      static_summary=f"{len(step_keys)} notice(s) for {key}")
    except Exception:
        log.warning("could not start the delivery of notices; they stay pending in the outbox",
                    exc_info=True, extra={"key": key})
