"""The `Idempotency-Key`s callers sent, each with the request it names (api/idempotency.py, api/console/form_once.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from crm.types import UTCDateTime, utcnow


class IdempotencyKey(SQLModel, table=True):
    """An `Idempotency-Key` a caller sent, and the request it names (api/idempotency.py).

    Temporal answers a staff request whose ID it has seen with that request's outcome, whatever is sent
    with it; the key is that ID. This row holds the request the key was first sent with (its caller,
    operation, process and body, as a SHA-256 `fingerprint`), so that a different request with the same
    key is refused instead of answered with the first one's result.
    """

    __tablename__ = "idempotency_key"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    fingerprint: str = Field(max_length=64)
    api_key_id: int | None = Field(default=None, foreign_key="api_key.id", description="the caller (an API key)")
    user_id: int | None = Field(default=None, foreign_key="user.id", description="the caller (a console user)")
    operation: str = Field(max_length=64, description="the staff request: skip_phase, abort...")
    target: str = Field(max_length=255, description="the workflow id of the process")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
