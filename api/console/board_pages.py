"""The pipeline board (statuses as columns, with their counts and a page of their records) and moving a record.

The board is the API's (`crm.pipeline_board.board`, as the signed-in user: restricted records they may not see are
neither counted nor shown); a move is the API's `POST /records/{id}/move` (`api.routers.moves.move`), so it is checked,
serialised and recorded the same way. A refused move (409: not allowed next, moved meanwhile) shows the API's
message next to the card or the form that sent it. Cards are moved by their form; `board.js` adds drag and drop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.i18n import translator
from api.console.process_pages import users_by_id
from api.console.record_pages import render_record
from api.console.refusals import field_error, refusal
from api.console.web import SignedInDep, form, offset_in, principal, redirect, render, text, with_param
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.fields import digits
from api.routers.moves import move
from crm.client_requests.pending import ClientRequestsPending
from crm import pipeline_store
from crm.pipeline_board import BoardFilter, board
from crm.pipeline_models import MoveBody
from processes.errors import StagecoachError

router = APIRouter(prefix="/console", include_in_schema=False)
PER_STATUS = 20


def _query(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name, "").strip()
    return value[:64] if value else None


async def render_board(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep,
                       params: Mapping[str, str], status: int = 200, error: str = "",
                       error_for: int | None = None) -> HTMLResponse:
    """The board as `params` (the page's query) filter it; `error` shown on the card of record `error_for`."""
    pipelines = await pipeline_store.summaries(session, None, limit=200, offset=0)
    if not pipelines:
        return render(request, settings, "board.html", status=status, section="/console/board", pipelines=[],
                      pipeline=None, error=error, error_for=error_for, error_elsewhere=bool(error))
    chosen = _query(params, "pipeline")
    summary = next((p for p in pipelines if p.key == chosen), pipelines[0])
    row = await pipeline_store.get_version(session, summary.key)
    pipeline = pipeline_store.load(row)
    type_name, channel, owner = _query(params, "type"), _query(params, "channel"), _query(params, "owner_id")
    if type_name is not None and pipeline.record_type(type_name) is None:
        type_name = None
    owner_id = int(owner) if owner is not None and digits(owner) and len(owner) < 10 else None
    skip = offset_in(params)
    found = await board(session, principal(signed), pipeline, row.version,
                        BoardFilter(type=type_name, owner_id=owner_id, channel=channel), limit=PER_STATUS, offset=skip)
    filters: dict[str, Any] = {"pipeline": summary.key, "type": type_name or "", "owner_id": owner_id or "",
                               "channel": channel or ""}
    back_url = "/console/board?" + urlencode({**filters, "offset": skip})
    moved = next(((r, c.status) for c in found.columns for r in c.records if str(r.id) == params.get("moved")), None)
    return render(request, settings, "board.html", status=status, section="/console/board", pipelines=pipelines,
                  pipeline=pipeline, moved=moved,
                  unknown_pipeline=chosen if chosen is not None and chosen != summary.key else None,
                  board=found, filters=filters, query=urlencode(filters), back_url=back_url, offset=skip,
                  page_size=PER_STATUS, more=any(c.count > skip + PER_STATUS for c in found.columns),
                  allowed=lambda type_name, status: pipeline.allowed_next(type_name, status) or [],
                  users=await users_by_id(session), error=error, error_for=error_for,
                  error_elsewhere=bool(error) and all(r.id != error_for for c in found.columns for r in c.records))


@router.get("/board", response_class=HTMLResponse)
async def board_page(request: Request, session: SessionDep, settings: SettingsDep,
                     signed: SignedInDep) -> HTMLResponse:
    return await render_board(request, session, settings, signed, request.query_params)


PENDING = ("record {record} has {n} pending client request(s) whose answers would move it from '{current}': choose "
           "below what becomes of them, then move it again")


@router.post("/records/{record_id}/move")
async def move_on_console(record_id: int, request: Request, session: SessionDep, temporal: TemporalDep,
                          settings: SettingsDep, signed: SignedInDep) -> Response:
    """Move the record (from its page or a board card); back to where the form was, or the refusal shown there."""
    data = await form(request, signed)
    _ = translator(settings.locale)
    back = text(data, "back")
    from_board = back.startswith("/console/board")

    async def refused(status: int, message: str, pending: bool = False) -> HTMLResponse:
        if from_board and not pending:  # what becomes of the pending requests is chosen on the record's page
            params = dict(parse_qsl(back.partition("?")[2]))
            return await render_board(request, session, settings, signed, params, status, message, record_id)
        return await render_record(request, session, settings, signed, record_id, status, move_error=message,
                                   pending_choice=pending, posted={name: text(data, name) for name in ("to", "reason")})

    to = text(data, "to")
    if not to:
        return await refused(422, _("choose the status to move to"))
    try:
        body = MoveBody.model_validate({"to": to, "reason": text(data, "reason"),
                                        "expected_status": text(data, "expected_status") or None,
                                        "pending_requests": text(data, "pending_requests") or None})
        await move(record_id, body, session, temporal, settings, principal(signed))
    except ValidationError as exc:
        return await refused(422, field_error(exc, _, {"to": _("To"), "reason": _("Reason"),
                                                      "expected_status": _("Status"),
                                                      "pending_requests": _("Pending client requests")}))
    except ClientRequestsPending as exc:  # the record's page asks what becomes of them (from the board too)
        await session.rollback()  # the page is drawn from what is committed, not what was refused
        values = exc.wording[1] if exc.wording else {}
        return await refused(exc.status, _(PENDING).format(**values) if values else refusal(exc, _), pending=True)
    except StagecoachError as exc:
        await session.rollback()  # the page is drawn from what is committed, not what was refused
        return await refused(exc.status, refusal(exc, _))
    if from_board and not back.startswith("//"):  # the board says which card moved, where it is now
        return redirect(with_param(back, "moved", record_id))
    return redirect(f"/console/records/{record_id}")
