"""The dispatcher's sweep over an outbox table: its oldest undelivered rows, each delivered on its own.

Client-request submissions and ends (`request_delivery.py`) and signature outcomes (`signature_delivery.py`) are
rows committed with what they report and marked `delivered_at` once their signal is sent; what the API did not
deliver at once, the sweep does here, a failure logged and left for the next sweep. Signing providers' cancel calls
(`activities/signing/cancel.py`) are `Delivery` rows, settled once delivered or refused for good.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

Row = TypeVar("Row")


async def deliver_oldest(session: AsyncSession, table: type[Row], undelivered: list[Any],
                         deliver: Callable[[Row], Awaitable[None]], described: Callable[[Row], str],
                         batch_size: int, log: logging.Logger,
                         settled: Callable[[Row], bool] | None = None) -> tuple[int, bool]:
    """Deliver the oldest `batch_size` rows of `table` that `undelivered` finds (each read again, skipped if
    delivered meanwhile: `delivered_at` set, or as `settled` says): how many were delivered, and whether more may
    wait. `described` names a row in the log line of a failed delivery (taken before delivering: a failure rolls the
    session back)."""
    row_id_column = col(table.id)  # type: ignore[attr-defined]
    ids = list((await session.exec(select(row_id_column).where(*undelivered).order_by(row_id_column)
                                   .limit(batch_size))).all())
    delivered = 0
    for row_id in ids:
        row = await session.get(table, row_id, populate_existing=True)
        if row is None or (settled(row) if settled is not None else
                           row.delivered_at is not None):  # type: ignore[attr-defined]
            continue
        name = described(row)
        try:
            await deliver(row)
            delivered += 1
        except Exception:
            log.warning("%s not delivered; tried again at the next sweep", name, exc_info=True)
    return delivered, len(ids) == batch_size and delivered > 0
