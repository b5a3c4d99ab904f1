"""The `send_client_request` action: open a client request from a request template, linked to the record, and email
its link to the client; once per step key.

The request row, its "sent" history line (which names the request) and the email are written in one transaction
keyed by the step key (`activities/outbox.py`): a retry finds the email recorded and the request opened, and sends
the same message again at most (same Message-ID), never a second request or a second link. The link's token is
only in that email (the request keeps its hash); a reminder sends the same email again (`client_requests.py`).

Who waits for the answers: in a process, the process's phase (`waiting_workflow_id`, `waiting_phase_key`); in a
status's automation (`stage` given), the status the record is in (`waiting_status`): the record moves on from it
when the client answers. With reminders, the request's workflow (`workflows/client_requests.py`) is started.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities import bookkeeping
from activities.deps import Deps
from activities.errors import final_message
from activities.outbox import send_once
from activities.send_email import resolve_recipient
from activities.step import ActionResult, OnceStep, StepInput, step_activity
from crm.client_requests import store
from crm.client_requests.errors import RequestTemplateNotFound
from crm.client_requests.emails import link_email
from crm.client_requests.models import AutoMove, ClientRequest
from crm.models import HistoryEntry, HistoryKind
from processes.action_kinds import SendClientRequest
from processes.history_words import english, history_text
from processes.instance import StageRef
from workflows.client import ClientRequestInput, start_request_workflow


class SendClientRequestInput(BaseModel):
    step: StepInput
    action: SendClientRequest
    where: str = "send_client_request"
    stage: StageRef | None = None  # a status's automation: the record moves on when the client answers


def stage_status(stage: StageRef) -> str:
    """The status a stage's automations belong to (`Status › substate` for a substate's)."""
    return stage.status.split(" › ", 1)[0]


async def _sent(session: AsyncSession, step_key: str) -> ClientRequest | None:
    """The request an earlier try of the step opened (its "sent" line names it)."""
    line = (await session.exec(select(HistoryEntry).where(HistoryEntry.step_key == step_key))).first()
    request_id = line.data.get("client_request_id") if line is not None else None
    return await session.get(ClientRequest, request_id) if request_id is not None else None


class SendClientRequestActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @step_activity("send_client_request")
    async def send_client_request(self, input: SendClientRequestInput) -> ActionResult:
        action, settings = input.action, self.deps.settings
        once = await OnceStep.prepare(self.deps, input.step)

        async def compose(session: AsyncSession) -> tuple[str, str, str]:
            step = once.step
            to = await resolve_recipient(session, step, action.to)
            try:
                request, token = await store.open_request(
                    session, template_key=action.template, record_id=step.record_id, actor=f"process "
                    f"{step.template_key}", auto_move=AutoMove.on if action.auto_move else AutoMove.off,
                    waiting_workflow_id=None if input.stage else step.workflow_id,
                    waiting_phase_key=None if input.stage else step.phase_key,
                    waiting_status=stage_status(input.stage) if input.stage else None,
                    expires_days=action.expires_days, language=action.language, contact_email=to,
                    settings=settings)
            except RequestTemplateNotFound as exc:
                raise final_message("RequestTemplateNotFound", f"{input.where}.template: {exc.message}") from None
            subject, body = link_email(settings, request, token)
            await once.before(session)
            session.add(HistoryEntry(
                record_id=step.record_id, step_key=step.step_key, kind=HistoryKind.client_request_sent,
                text=history_text(settings.locale, "client_request_sent", request=request.id, title=request.title,
                                  to=to) + (history_text(settings.locale, "request_moves_record")
                                            if action.auto_move and input.stage else
                                            history_text(settings.locale, "request_phase_waits")
                                            if action.auto_move else ""),
                workflow_id=step.workflow_id, phase_key=step.phase_key, actor=f"process {step.template_key}",
                data={"client_request_id": request.id, "auto_move": action.auto_move}))
            return to, subject, body

        message = await send_once(self.deps, step_key=once.step.step_key, workflow_id=once.step.workflow_id,
                                  record_id=None, compose=compose, before=None,
                                  after=once.after())
        async with self.deps.sessions() as session:  # opened now, or by an earlier try
            request = await _sent(session, once.step.step_key)
        if request is None or request.id is None:
            raise final_message("ClientRequestMissing", f"the email of step {once.step.step_key} was recorded but "
                                                        "its client request is not found")
        moves = action.auto_move and input.stage is not None  # its answers move the record on
        if (action.reminders is not None or moves) and self.deps.temporal is not None:
            reminders = action.reminders
            await start_request_workflow(self.deps.temporal, self.deps.settings, ClientRequestInput(
                request_id=request.id, email_step_key=once.step.step_key,
                every_days=reminders.every_days if reminders else 0, count=reminders.count if reminders else 0,
                wait_until=request.expires_at if moves else None))
        waits = action.auto_move and input.stage is None
        return ActionResult(summary=english("summary_client_request_waits" if waits else "summary_client_request",
                                            request=request.id, outcome=message.status.value, message=message.id,
                                            to=action.to),
                            data={"client_request_id": request.id, "auto_move": action.auto_move, "waits": waits},
                            responsible_id=once.step.responsible_id)
