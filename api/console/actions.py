"""What staff do from the console: staff requests to a process, and completing a task.

Each goes through the API's own function (`staff_request`, `complete_task`) as the signed-in user, so
it is checked, applied and recorded as the same request over the API would be. Every form carries an
`Idempotency-Key` made when the page was shown: a form sent twice (a double click, a reload) applies
once. A refusal shows the API's message on the page, next to the form that caused it.
"""

from __future__ import annotations

import re
from typing import Any

from babel.numbers import format_decimal
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from api.console.decisions_read import Read, phase_reads, said_reads
from api.console.i18n import translator
from api.console.process_pages import render_process
from api.console.task_pages import render_tasks
from api.console.today import render_today
from api.console.refusals import field_error, said_in
from api.console.web import SignedInDep, form, principal, redirect, text, with_param
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.fields import digits
from api.routers.processes import staff_request
from api.routers.tasks import CompleteTaskBody, complete_task, get_task
from crm.models import TaskKind
from processes.decision_answers import NotANumber, as_read
from processes.errors import StagecoachError
from workflows.staff_requests import ABORT, CHANGE_OWNER, COMPLETE_PHASE, RESOLVE_INCIDENT, SKIP_PHASE, \
    StaffRequestKind

router = APIRouter(prefix="/console", include_in_schema=False)
KINDS = {kind.route: kind for kind in (SKIP_PHASE, ABORT, COMPLETE_PHASE, CHANGE_OWNER, RESOLVE_INCIDENT)}
# a number as a number is written: no leading zero (0212345678, 00184, 007 are phone numbers, postcodes, codes: text),
# a decimal point, at most 15 digits on either side (exact in JSON); anything else (1.250,50, +39..., 1e5) is text
_NUMBER = re.compile(r"^-?(0|[1-9]\d{0,14})(\.\d{1,15})?$", re.ASCII)


class FormInvalid(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def name_value_lines(raw: str, unwritten: str, twice: str) -> dict[str, str]:
    """`name: value` lines as texts, by name (blank lines skipped); a line without its colon or name, or a name given
    twice, refused with `unwritten` or `twice` (translated; `{n}` the line, `{name}` the name): every such line at
    once (the first five), not one per try."""
    found: dict[str, str] = {}
    wrong: list[str] = []
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            wrong.append(unwritten.format(n=number))
        elif name.strip() in found:
            wrong.append(twice.format(n=number, name=name.strip()))
        else:
            found[name.strip()] = value.strip()
    if wrong:
        raise FormInvalid("; ".join(wrong[:5]))
    return found


def typed(value: str) -> Any:
    """A value as staff write it on a line: a number (as `_NUMBER` reads one), true or false as one, else text."""
    lowered = value.lower()
    number = _NUMBER.match(value)
    return (lowered == "true" if lowered in ("true", "false") else float(value) if number and "." in value
            else int(value) if number else value)


def answers(raw: str, _: Any, read: Read | None = None, without: bool = False, locale: str = "en") -> dict[str, Any]:
    """`name: value` lines; a number (as `_NUMBER` reads one), true or false is kept as one, anything else as text.
    `read`: what the decision after the phase reads (`decisions_read.py`): names and values written as it writes
    them, and none of them given refused unless staff said so (`without`)."""
    found: dict[str, Any] = {name: typed(value) for name, value in name_value_lines(
        raw, _("line {n}: write each answer as name: value"), _("line {n}: '{name}' is answered twice")).items()}
    if read:
        try:
            found = as_read(found, read, locale)
        except NotANumber as exc:
            raise FormInvalid(_("The decision compares '{name}' with numbers: write a number, such as {example}.")
                              .format(name=exc.name, example=format_decimal(1500.5, locale=locale))) from None
        if not without and not read.keys() & found.keys():
            raise FormInvalid(_("The decision after this phase reads {what}: answer it, or tick “{without}”.").format(
                what=said_reads(read, _), without=_("Complete without these answers")))
    return found


def _body(kind: StaffRequestKind, data: FormData, _: Any, read: Read | None = None, locale: str = "en") -> BaseModel:
    fields: dict[str, Any]
    if kind is SKIP_PHASE:
        fields = {"phase": text(data, "phase") or None, "reason": text(data, "reason")}
    elif kind is ABORT:
        fields = {"reason": text(data, "reason")}
    elif kind is COMPLETE_PHASE:
        fields = {"phase": text(data, "phase") or None,
                  "answers": answers(text(data, "answers"), _, read, bool(text(data, "without")), locale)}
    elif kind is CHANGE_OWNER:
        owner = text(data, "owner_id")
        if not digits(owner):
            raise FormInvalid(_("choose the new owner"))
        fields = {"owner_id": int(owner)}
    else:
        fields = {"action": text(data, "action")}
    wrong: list[str] = []
    try:
        body = kind.body.model_validate(fields)
    except ValidationError as exc:
        wrong.append(field_error(exc, _, {"phase": _("Phase"), "reason": _("Reason"), "owner_id": _("New owner"),
                                          "action": _("Action")}))
    if kind is ABORT and not text(data, "confirm"):  # with what is wrong with the reason, if anything: both at once
        wrong.append(_("tick the box to confirm the abort"))
    if wrong:
        raise FormInvalid("; ".join(wrong))
    return body


@router.post("/processes/{workflow_id}/{action}")
async def process_action(workflow_id: str, action: str, request: Request, session: SessionDep,
                         temporal: TemporalDep, settings: SettingsDep, signed: SignedInDep) -> Response:
    data = await form(request, signed)
    _ = translator(settings.locale)
    kind = KINDS.get(action)
    if kind is None or len(workflow_id) > 255:
        return await render_process(request, session, temporal, settings, signed, workflow_id[:255], 404,
                                    _("no such action"), action[:20])
    key = text(data, "idempotency_key")[:200] or None
    try:
        read = await phase_reads(session, workflow_id, text(data, "phase")) if kind is COMPLETE_PHASE else None
        await staff_request(kind, workflow_id, _body(kind, data, _, read, settings.locale), session, temporal, settings,
                            principal(signed), key)
    except (FormInvalid, StagecoachError) as exc:
        await session.rollback()  # the page is drawn from what is committed, not what was refused
        status = exc.status if isinstance(exc, StagecoachError) else 422
        posted = {name: text(data, name) for name in ("phase", "reason", "answers", "owner_id")}
        return await render_process(request, session, temporal, settings, signed, workflow_id, status,
                                    said_in(exc, settings.locale), kind.route, posted=posted)
    return redirect(f"/console/processes/{workflow_id}?done={kind.route}")


@router.post("/tasks/{task_id}/complete")
async def complete_task_action(task_id: int, request: Request, session: SessionDep, temporal: TemporalDep,
                               settings: SettingsDep, signed: SignedInDep) -> Response:
    data = await form(request, signed)
    _ = translator(settings.locale)
    back = text(data, "back")
    try:
        task = await get_task(task_id, session, principal(signed))  # 404 for a task they may not see
        read = await phase_reads(session, task.workflow_id, task.phase_key) if task.kind is TaskKind.phase else None
        body = CompleteTaskBody.model_validate({"answers": answers(text(data, "answers"), _, read,
                                                                   bool(text(data, "without")), settings.locale)})
        await complete_task(task_id, session, temporal, settings, principal(signed), body,
                            text(data, "idempotency_key")[:200] or None)  # sent twice: done once
    except (ValidationError, FormInvalid, StagecoachError) as exc:
        await session.rollback()  # the page is drawn from what is committed, not what was refused
        status = exc.status if isinstance(exc, StagecoachError) else 422
        message = field_error(exc, _) if isinstance(exc, ValidationError) else said_in(exc, settings.locale)
        if back.startswith("/console/tasks"):  # the page the form was on: its list, the message above it
            return await render_tasks(request, session, settings, signed, status, list_error=message)
        return await render_today(request, session, temporal, settings, signed, status, message, task_id,
                                  answers=text(data, "answers"))
    if not back.startswith("/console") or back.startswith("//"):
        back = "/console"
    return redirect(with_param(back, "done", "task"))
