"""Moving records through their pipeline: a move (or a substate opened or closed), and where a record may move.

Every move goes through `crm/pipeline_moves.py`: the record type's sequence is checked (409 `MoveRefused`
naming the statuses allowed next), racing moves are serialised (the loser gets 409 with the record's
current status), and one history line and the record event are written with the move. The entered status's
automation is allocated with the move and started once it is committed (`activities/stage_starts.py`), or the
event is dispatched at once; what fails is left to the dispatcher. A move to another status while client
requests would move the record when answered is refused (409) until it says what becomes of them
(`crm/client_requests/pending.py`).
"""

from __future__ import annotations

from fastapi import APIRouter

from activities.stage_starts import prepare_enter
from api.deps import SessionDep, SettingsDep, StaffDep, TemporalDep
from api.routers.records import events_recorded, get_record_or_404, public_record
from crm import pipeline_store
from crm.models import RecordPublic
from crm.pipeline_models import AllowedMoves, MoveBody
from crm.client_requests.pending import settle_pending
from crm.pipeline_moves import Move, allowed_next, move_record
from processes.errors import ErrorDetail, StagecoachError
from workflows.request_delivery import requests_cancelled

router = APIRouter(prefix="/records", tags=["records"])


class MoveInvalid(StagecoachError):
    status = 422


@router.post("/{record_id}/move", response_model=RecordPublic)
async def move(record_id: int, body: MoveBody, session: SessionDep, temporal: TemporalDep, settings: SettingsDep,
               principal: StaffDep) -> RecordPublic:
    """Move the record `to` a status, or open or close a substate of its status (one of the three), with a reason."""
    given = [name for name in ("to", "open_substate", "close_substate") if getattr(body, name) is not None]
    if len(given) != 1:
        raise MoveInvalid("give one of to, open_substate or close_substate",
                          details=[ErrorDetail(f"body.{name}", "give only one") for name in given]
                          or [ErrorDetail("body", "give one of to, open_substate or close_substate")])
    record = await get_record_or_404(session, record_id, principal)
    cancelled = await settle_pending(session, record, body.to, body.pending_requests, principal.actor,
                                       settings.locale) \
        if body.to is not None else []
    moved = await move_record(session, record_id, Move(
        to=body.to, open_substate=body.open_substate, close_substate=body.close_substate, reason=body.reason,
        actor=principal.actor, actor_user_id=principal.user_id, expected_status=body.expected_status,
        locale=settings.locale))
    prepared = await prepare_enter(session, moved, settings)  # the entered status's automation, with the move
    await session.commit()
    await events_recorded(temporal, settings, record_id, session, moved.events, prepared)
    await requests_cancelled(temporal, settings, cancelled)
    return await public_record(session, moved.record)


@router.get("/{record_id}/allowed-moves", response_model=AllowedMoves)
async def allowed_moves(record_id: int, session: SessionDep, principal: StaffDep) -> AllowedMoves:
    """Where the record may move next, its status's substates and the ones open."""
    record = await get_record_or_404(session, record_id, principal)
    pipeline = await pipeline_store.governing(session, record.kind, record.type)
    status = pipeline.status(record.status) if pipeline is not None else None
    allowed = allowed_next(pipeline, record)
    return AllowedMoves(record_id=record_id, status=record.status, governed=pipeline is not None,
                        pipeline=pipeline.key if pipeline else None, allowed_next=allowed or [],
                        substates=[s.name for s in status.substates] if status else [],
                        open_substates=list(record.substates or {}))
