"""A move's on-enter automation, allocated in the move's own transaction and started as soon as it is committed: how
`POST /records/{id}/move` starts a status's automations without the dispatcher's round trips.

Taken only when entering the status is all the move means: its record has no older event undispatched, no
autostart template matches the move, and leaving the previous status has nothing to do (no substate open, no
automation of its entry still to abort, no on-exit automation). The run row (request id
`stage:{record}:{visit}:enter`, as `activities/stages.py` makes it) commits with the move, the loop guard counted;
the move's event stays undispatched until the process is started. So whatever the API does not finish (it stopped
after the commit, Temporal did not answer) the dispatcher does, finding the run by its request id: the process
starts once, and never is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.autostart import _Candidate, _event, _Record, autostart_templates, matches
from activities.deps import Deps
from activities.stages import enter_request_id
from crm.db import each_statement_alone
from crm.models import RecordEvent, RecordEventKind
from crm.pipeline_moves import Moved
from crm.process_runs import ProcessOrigin, ProcessRun, RunStatus, process_workflow_id
from crm.template_models import ProcessTemplateVersion
from crm.types import utcnow
from processes.instance import ProcessInput, StageRef
from processes.stage_templates import stage_template
from processes.template_basics import RecordKind
from settings import Settings
from workflows.client import start_process

log = logging.getLogger("stagecoach.stages")


@dataclass(frozen=True)
class PreparedStart:
    """A status's automation whose run commits with the move: started by `start_prepared` once it has."""

    workflow_id: str
    input: ProcessInput
    event_id: int


async def prepare_enter(session: AsyncSession, moved: Moved, settings: Settings) -> PreparedStart | None:
    """In the move's transaction (its record locked by the move): the run of the entered status's automation, when
    that is all the move means; None otherwise (the move's event is then dispatched as any other)."""
    record, pipeline, version = moved.record, moved.pipeline, moved.pipeline_version
    if len(moved.events) != 1 or pipeline is None or version is None or record.id is None:
        return None
    row = moved.events[0]
    await session.flush()  # the event's id
    event = _event(row)
    if row.kind is not RecordEventKind.status_changed or row.previous_substates or row.previous_visit is None \
            or row.previous_status is None or row.visit is None or row.id is None:
        return None
    owner_id = record.owner_id or row.actor_user_id
    built = stage_template(pipeline, record.status, None, "enter", record.channel, locale=settings.locale)
    if built is None or owner_id is None or stage_template(pipeline, row.previous_status, None, "exit",
                                                           record.channel) is not None:
        return None
    # one statement: an older event undispatched, a run of the left status's entry (to abort), this template's
    # last run number on the record, its runs today (the loop guard's count, with this one), and which versions
    # of templates on records of this kind are saved (the autostart triggers to check are kept by it)
    template = built.template
    today = datetime.combine(utcnow().astimezone(settings.zone).date(), time(0), tzinfo=settings.zone)
    runs = select(ProcessRun.id).where(ProcessRun.template_key == template.key, ProcessRun.record_id == record.id)
    versions = select(ProcessTemplateVersion.id).where(ProcessTemplateVersion.record_kind == record.kind)
    older, entered, last, earlier, saved, newest = (await session.exec(select(
        select(RecordEvent.id).where(RecordEvent.record_id == record.id, col(RecordEvent.id) < row.id,
                                     col(RecordEvent.dispatched_at).is_(None)).limit(1).scalar_subquery(),
        select(ProcessRun.id).where(ProcessRun.request_id == enter_request_id(record.id, row.previous_visit))
        .scalar_subquery(),
        select(func.max(ProcessRun.sequence)).where(ProcessRun.template_key == template.key,
                                                    ProcessRun.record_id == record.id).scalar_subquery(),
        select(func.count()).select_from(runs.where(
            col(ProcessRun.status) != RunStatus.not_started, col(ProcessRun.created_at) >= today,
            col(ProcessRun.created_at) < today + timedelta(days=1)).subquery()).scalar_subquery(),
        select(func.count()).select_from(versions.subquery()).scalar_subquery(),
        select(func.max(ProcessTemplateVersion.id)).where(ProcessTemplateVersion.record_kind == record.kind)
        .scalar_subquery()))).one()
    if older is not None or entered is not None:
        return None
    candidate = _Record(id=record.id, kind=record.kind, type=record.type, owner_id=record.owner_id)
    if any(matches(t, event, candidate) for c in await _autostart(session, record.kind, (saved, newest))
           for t in c.template.autostart):
        return None
    sequence = (last or 0) + 1
    run = ProcessRun(workflow_id=process_workflow_id(template.key, record.id, sequence), template_key=template.key,
                     template_version=version, record_id=record.id, sequence=sequence, owner_id=owner_id,
                     started_by=f"pipeline {pipeline.key}", request_id=enter_request_id(record.id, row.visit),
                     origin=ProcessOrigin.autostart, triggered_by_user_id=row.actor_user_id)
    session.add(run)  # inserted when the move commits
    starts = earlier + 1
    return PreparedStart(workflow_id=run.workflow_id, event_id=row.id, input=ProcessInput(
        template=template, template_version=version, record_id=record.id, owner_id=owner_id,
        started_by=run.started_by, origin=ProcessOrigin.autostart.value, triggered_by_user_id=row.actor_user_id,
        stage=StageRef(pipeline=pipeline.key, status=record.status),
        loop_guard_passed=starts <= settings.loop_guard_limit))


# the autostart templates on records of a kind, by database, kind, and how many template versions of that kind are
# saved and the newest one's id: versions are never changed nor deleted, so a new one changes the key
_AUTOSTART: dict[tuple[str, RecordKind, int, int | None], list[_Candidate]] = {}


async def _autostart(session: AsyncSession, kind: RecordKind, saved: tuple[int, int | None]) -> list[_Candidate]:
    """`autostart_templates`, read again only when a template version of `kind` was saved since it was last read."""
    key = (session.get_bind().url.render_as_string(hide_password=True), kind, *saved)
    if (candidates := _AUTOSTART.get(key)) is None:
        candidates = await autostart_templates(session, kind)
        if len(_AUTOSTART) >= 64:
            _AUTOSTART.clear()
        _AUTOSTART[key] = candidates
    return candidates


async def start_prepared(deps: Deps, prepared: PreparedStart) -> bool:
    """Start the committed run's process, then mark its move's event dispatched; False when Temporal could not be
    asked (the event stays for the dispatcher, which starts the run it finds)."""
    assert deps.temporal is not None
    try:
        await start_process(deps.temporal, prepared.input, workflow_id=prepared.workflow_id,
                            task_queue=deps.settings.temporal_task_queue)
    except WorkflowAlreadyStartedError:
        pass  # the dispatcher was quicker
    except Exception:
        log.warning("could not start a status's automation; the dispatcher will", exc_info=True,
                    extra={"workflow_id": prepared.workflow_id})
        return False
    # the run turns `running` with the process's first step (its "process started" line), or the sweep's: marked
    # here too, its row's lock would hold that step up until this commits
    async with deps.sessions() as session:
        await each_statement_alone(session)  # one statement: no BEGIN and COMMIT round trips on PostgreSQL
        dispatched = update(RecordEvent).where(col(RecordEvent.id) == prepared.event_id,
                                               col(RecordEvent.dispatched_at).is_(None))
        await session.exec(dispatched.values(dispatched_at=utcnow()))  # type: ignore[call-overload]
        await session.commit()
    return True
