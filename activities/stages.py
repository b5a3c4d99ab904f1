"""A status's automations, started from the record events of moves (crm/pipeline_moves.py).

A record entering a status (or opening a substate) starts the process of its automations that apply to the
record's channel (`processes/stage_templates.py`), once per entry: its run's request id is
`stage:{record}:{visit}:enter`, the visit being the move that entered. Leaving it aborts that process if it
still runs (what is scheduled does not happen) and starts the process of the on-exit actions, once
(`stage:{record}:{visit}:exit`). A status with no automation for the record starts nothing: records
sitting in stages cost Temporal nothing. A move out of a status closes its open substates first (their
scheduled actions are dropped, their on-close actions run). A pipeline's save that removes a status moves its
records (`status_remapped`): what the status and its substates scheduled is dropped, and nothing runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from activities.deps import Deps
from activities.starting import start_run
from crm import pipeline_store
from crm.idempotent import insert_once
from crm.models import HistoryEntry, HistoryKind, Record, RecordEventKind
from crm.process_runs import ProcessOrigin, by_request_id
from processes.history_words import history_text
from processes.instance import AbortRequest, StageRef
from processes.pipeline import Pipeline
from processes.stage_templates import When, stage_template
from workflows.client import abort_process

STAGE_EVENTS = (RecordEventKind.status_changed, RecordEventKind.substate_opened, RecordEventKind.substate_closed,
                RecordEventKind.status_remapped)


@dataclass(frozen=True)
class StageEvent:
    id: int
    kind: RecordEventKind
    status: str | None
    previous_status: str | None
    previous_visit: int | None
    visit: int | None
    substate: str | None
    actor_user_id: int | None
    previous_substates: dict[str, int] | None = None


async def dispatch_stage(deps: Deps, session: AsyncSession, event: StageEvent, record: Record) -> list[str]:
    """Start and abort what the move means for the automations; the workflow ids started."""
    created = event.kind is RecordEventKind.created
    if not created and (event.kind not in STAGE_EVENTS or event.visit is None or event.status is None):
        return []
    row = await pipeline_store.governing_version(session, record.kind, record.type)
    if row is None:
        return []
    pipeline, version = pipeline_store.load(row), row.version
    started: list[str] = []
    if created:  # a new record enters its initial status (the events after this one say where it went since)
        started += await _enter(deps, session, pipeline, version, event, record, event.status or record.status, None,
                                event.visit or 0)
    elif event.kind is RecordEventKind.status_remapped:  # the pipeline's move: what was scheduled stops, nothing runs
        for name, visit in (event.previous_substates or {}).items():
            await _abort_entered(deps, session, pipeline, record, event.previous_status or "", name, visit)
        if event.previous_visit is not None:
            await _abort_entered(deps, session, pipeline, record, event.previous_status or "", None,
                                 event.previous_visit)
    elif event.kind is RecordEventKind.status_changed:
        if event.previous_status is not None and event.previous_visit is not None:
            for name, visit in (event.previous_substates or {}).items():  # closed by the move: closed first
                started += await _leave(deps, session, pipeline, version, event, record, event.previous_status, name,
                                        visit)
            started += await _leave(deps, session, pipeline, version, event, record, event.previous_status, None,
                                    event.previous_visit)
        started += await _enter(deps, session, pipeline, version, event, record, event.status, None, event.visit)
    elif event.kind is RecordEventKind.substate_opened:
        started += await _enter(deps, session, pipeline, version, event, record, event.status, event.substate,
                                event.visit)
    else:
        started += await _leave(deps, session, pipeline, version, event, record, event.status, event.substate,
                                event.visit)
    return started


async def _leave(deps: Deps, session: AsyncSession, pipeline: Pipeline, version: int, event: StageEvent,
                 record: Record, status: str, substate: str | None, visit: int) -> list[str]:
    await _abort_entered(deps, session, pipeline, record, status, substate, visit)
    return await _start(deps, session, pipeline, version, event, record, status, substate, visit, "exit")


async def _abort_entered(deps: Deps, session: AsyncSession, pipeline: Pipeline, record: Record, status: str,
                         substate: str | None, visit: int) -> None:
    """Abort the process of the automations the entry (`visit`) started, if it still runs."""
    run = await by_request_id(session, _request_id(record, visit, "enter"))
    if run is not None and deps.temporal is not None:
        label = f"{status} › {substate}" if substate else status
        await abort_process(deps.temporal, run.workflow_id, AbortRequest(  # the reason as the history says it
            reason=history_text(deps.settings.locale, "record_left_stage", record=record.id, label=label),
            actor=f"pipeline {pipeline.key}"))


async def _enter(deps: Deps, session: AsyncSession, pipeline: Pipeline, version: int, event: StageEvent,
                 record: Record, status: str, substate: str | None, visit: int) -> list[str]:
    return await _start(deps, session, pipeline, version, event, record, status, substate, visit, "enter")


def _request_id(record: Record, visit: int, when: When) -> str:
    return f"stage:{record.id}:{visit}:{when}"


def enter_request_id(record_id: int, visit: int) -> str:
    """The request id of the run of a status's on-enter automations, for the move (its visit) that entered it."""
    return f"stage:{record_id}:{visit}:enter"


async def _start(deps: Deps, session: AsyncSession, pipeline: Pipeline, version: int, event: StageEvent,
                 record: Record, status: str, substate: str | None, visit: int, when: When) -> list[str]:
    built = stage_template(pipeline, status, substate, when, record.channel, locale=deps.settings.locale)
    if built is None:
        return []
    assert record.id is not None
    request_id = _request_id(record, visit, when)
    owner_id = record.owner_id or event.actor_user_id
    if owner_id is None:
        record_id = record.id

        async def note() -> list[HistoryEntry]:
            return [HistoryEntry(record_id=record_id, step_key=request_id, kind=HistoryKind.note, actor="pipeline",
                                 text=history_text(deps.settings.locale, "automations_skipped",
                                                   template=built.template.name),
                                 data={"pipeline": pipeline.key, "event_id": event.id})]

        await insert_once(session, HistoryEntry, request_id, note)
        return []
    label = f"{status} › {substate}" if substate else status
    workflow_id = await start_run(deps, session, built.template, version, record_id=record.id, owner_id=owner_id,
                                  request_id=request_id, origin=ProcessOrigin.autostart,
                                  started_by=f"pipeline {pipeline.key}", triggered_by_user_id=event.actor_user_id,
                                  stage=StageRef(pipeline=pipeline.key, status=label))
    return [workflow_id]
