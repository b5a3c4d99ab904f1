"""Outbound deliveries (webhooks, SMS): one row per step, recorded before anything leaves, with each attempt.

A delivery is rendered once and recorded (`pending`) with the step's key, so every attempt sends the
very same content with the very same id. An attempt marks it `sending` before it starts and writes its
outcome after; a row still `sending` when its step runs again is an attempt whose outcome is unknown
(the worker died during it). What happens then is the action kind's retry safety
(`processes/retry_safety.py`): a `repeatable` delivery is sent again, an `at_most_once` one becomes
`unknown` and an incident asks staff whether it was sent.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from crm.models import _created, _enum  # the tables' shared column types
from crm.types import UTCDateTime

RESPONSE_BODY_CAP = 2000  # characters of a receiver's answer kept with the delivery


class DeliveryStatus(str, enum.Enum):
    pending = "pending"  # recorded; not tried yet, or the last attempt surely did not reach the receiver
    sending = "sending"  # an attempt is running, or died without writing its outcome
    delivered = "delivered"  # the receiver accepted it
    held = "held"  # no gateway configured: kept in the outbox (SMS)
    failed = "failed"  # refused for good at the last attempt (a staff retry may send it again)
    unknown = "unknown"  # an at-most-once delivery whose attempt may or may not have reached the receiver


# what a delivery is of: the action kind (a webhook, an SMS), or a signature request sent or withdrawn
DeliveryKind = Literal["webhook", "send_sms", "request_signature", "cancel_signature"]


class Delivery(SQLModel, table=True):
    __tablename__ = "delivery"

    id: int | None = Field(default=None, primary_key=True)
    step_key: str = Field(unique=True, max_length=400)
    kind: str = Field(max_length=32, index=True)  # the action kind: webhook, send_sms
    message_id: str = Field(max_length=200)  # the stable id receivers see (webhook-id, the SMS reference)
    workflow_id: str | None = Field(default=None, max_length=255, index=True)
    record_id: int | None = Field(default=None, foreign_key="record.id", index=True)
    target: str = Field(max_length=400)  # the endpoint's name, the phone number
    body: str = Field(sa_type=sa.Text)  # what is sent, as rendered once
    status: DeliveryStatus = Field(default=DeliveryStatus.pending, sa_type=_enum(DeliveryStatus), index=True)
    attempts: int = 0
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_type=sa.Text)  # capped at RESPONSE_BODY_CAP
    provider_id: str | None = Field(default=None, max_length=200)  # the gateway's own id of the message
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created()
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # a delivery the dispatcher's sweep tries again (a signing provider's cancel call): not before this
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class DeliveryPublic(SQLModel):
    id: int
    kind: str
    message_id: str
    workflow_id: str | None
    record_id: int | None
    target: str
    body: str
    status: DeliveryStatus
    attempts: int
    response_status: int | None
    response_body: str | None
    provider_id: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None = None  # pending: when it is tried again (a signing provider's cancel call)


class DisabledEndpoint(SQLModel, table=True):
    """A webhook endpoint that answered 410 Gone: nothing is posted to it until an admin enables it again
    (`enabled_at`, `enabled_by`; a later 410 disables it again)."""

    __tablename__ = "disabled_endpoint"

    name: str = Field(primary_key=True, max_length=63)
    reason: str = Field(sa_type=sa.Text)
    disabled_at: datetime = _created()
    enabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    enabled_by: str | None = Field(default=None, max_length=200)

    @property
    def disabled(self) -> bool:
        return self.enabled_at is None


class WebhookEndpointPublic(SQLModel):
    name: str
    host: str  # the URL's host only: a URL may carry a token
    disabled: bool
    reason: str | None
    disabled_at: datetime | None
    enabled_at: datetime | None
    enabled_by: str | None
