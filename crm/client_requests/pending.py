"""A record moved by hand while a client request would move it when answered: nothing happens silently.

The requests that matter are pending, not expired, linked to the record with auto-move on and waiting in the
status the record is in. A move to another status without a choice is refused (409 `ClientRequestsPending`,
each request listed, and the choices); sent again with `pending_requests`:

- `cancel_request`: the requests are cancelled (their link stops working);
- `keep_open`: they stay open and linked, and their answers move nothing;
- `keep_and_auto_move`: they stay open, and their answers move the record on from the status it moves to now.

The choice is applied in the move's transaction, one history line per request. The caller commits.
"""

from __future__ import annotations

from enum import StrEnum

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from crm.client_requests.models import AutoMove, ClientRequest, RequestStatus
from crm.models import HistoryEntry, HistoryKind, Record
from crm.types import utcnow
from processes.errors import Conflict, ErrorDetail
from processes.history_words import history_text


class PendingChoice(StrEnum):
    cancel_request = "cancel_request"
    keep_open = "keep_open"
    keep_and_auto_move = "keep_and_auto_move"


class ClientRequestsPending(Conflict):
    """The record has client requests whose answers would move it: the move says what becomes of them."""


async def pending_auto_moves(session: AsyncSession, record: Record) -> list[ClientRequest]:
    """The record's requests that would move it from its status when answered."""
    query = (select(ClientRequest).where(ClientRequest.record_id == record.id,
                                         ClientRequest.status == RequestStatus.pending,
                                         ClientRequest.auto_move == AutoMove.on,
                                         ClientRequest.waiting_status == record.status,
                                         col(ClientRequest.expires_at) > utcnow())
             .order_by(col(ClientRequest.id)).limit(100))
    return list((await session.exec(query)).all())


async def settle_pending(session: AsyncSession, record: Record, to: str, choice: PendingChoice | None,
                         actor: str, locale: str) -> list[int]:
    """Before a move of `record` to `to`: `ClientRequestsPending` when requests wait and no choice is given;
    otherwise the choice applied (not committed), its history lines in the language of `locale` (LOCALE). The ids of
    the requests cancelled."""
    pending = await pending_auto_moves(session, record)
    if not pending:
        return []
    if choice is None:
        choices = ", ".join(c.value for c in PendingChoice)
        text = ("record {record} has {n} pending client request(s) whose answers would move it from '{current}'; "
                "send the move again with pending_requests: {choices}")
        values = {"record": str(record.id), "n": str(len(pending)), "current": record.status, "choices": choices}
        raise ClientRequestsPending(
            text.format(**values), wording=(text, values),
            details=[ErrorDetail(f"pending_requests[{i}]", f"client request #{r.id} '{r.title}' sent "
                                 f"{r.created_at:%Y-%m-%d} to {r.contact_email or 'nobody yet'}")
                     for i, r in enumerate(pending)] + [ErrorDetail("pending_requests", f"choose one of {choices}")])
    cancelled: list[int] = []
    for request in pending:
        assert request.id is not None and record.id is not None
        if choice is PendingChoice.cancel_request:
            request.status, request.closed_by, request.closed_at = RequestStatus.cancelled, actor[:200], utcnow()
            cancelled.append(request.id)
            kind, text = HistoryKind.client_request_cancelled, history_text(
                locale, "request_cancelled_by_move", request=request.id, title=request.title, actor=actor, status=to)
        elif choice is PendingChoice.keep_open:
            request.auto_move = AutoMove.off
            kind, text = HistoryKind.note, history_text(locale, "request_kept_still", request=request.id,
                                                        title=request.title, actor=actor)
        else:
            request.waiting_status = to
            kind, text = HistoryKind.note, history_text(locale, "request_kept_moving", request=request.id,
                                                        title=request.title, actor=actor, status=to)
        session.add(request)
        session.add(HistoryEntry(record_id=record.id, kind=kind, text=text, actor=actor[:200],
                                 data={"client_request_id": request.id, "choice": choice.value}))
    return cancelled
