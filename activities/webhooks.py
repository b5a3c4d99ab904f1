"""The `webhook` action: POST a rendered JSON body to an endpoint named in WEBHOOK_ENDPOINTS, signed as the
Standard Webhooks specification says (https://www.standardwebhooks.com).

`webhook-id` comes from the step key, the body is rendered once: every retry sends the same id and body
(with a fresh `webhook-timestamp` and signature), so a receiver that keeps the ids it has seen acts once.
5xx, 429 (after its `Retry-After`), timeouts and network errors are retried; 3xx (redirects are not
followed) and other 4xx are final; 410 Gone also disables the endpoint until an admin enables it. The
address is checked at every attempt (`public_address`). The endpoint's URL, secret and headers are read
here, from the settings, and never enter the workflow.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks.webhooks import Webhook as Signer

from activities import bookkeeping
from activities.deliveries import Answered, DeliveryFailed, Planned, deliver_once, read_scalar
from activities.deps import Deps
from activities.errors import final_message
from activities.public_address import AddressRefused, HostUnresolved, outbound_client, pin
from activities.step import ActionResult, OnceStep, StepInput, render, render_variables, step_activity
from crm.bound import Bound
from crm.deliveries import Delivery, DisabledEndpoint
from crm.models import HistoryKind
from crm.types import utcnow
from processes.errors import did_you_mean
from processes.action_kinds import Webhook
from processes.history_words import english, history_text
from processes.json_text import NotJson, strict_json
from settings import WebhookEndpoint

RESERVED_HEADERS = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "host"})


class WebhookInput(BaseModel):
    step: StepInput
    action: Webhook
    where: str = "webhook"


_DISABLED_REASON = (sa.select(DisabledEndpoint.reason)  # type: ignore[call-overload]
                    .where(DisabledEndpoint.name == sa.bindparam("endpoint_name"),
                           col(DisabledEndpoint.enabled_at).is_(None)).scalar_subquery())


def disabled_reason(name: str) -> Bound:
    """Why the endpoint is disabled (NULL: it is not), as a scalar subquery: read with the delivery's insert."""
    return Bound(_DISABLED_REASON, {"endpoint_name": name})


def webhook_id(step_key: str) -> str:
    return f"msg_{hashlib.sha256(step_key.encode()).hexdigest()[:32]}"


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds (a number of seconds or an HTTP date), bounded to an hour."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), 3600.0)


class WebhookActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def endpoint(self, name: str) -> WebhookEndpoint:
        endpoints = self.deps.settings.webhook_endpoints
        if name not in endpoints:
            raise final_message("EndpointUnknown", f"no webhook endpoint '{name}' in WEBHOOK_ENDPOINTS"
                                                   f"{did_you_mean(name, endpoints)}")
        return endpoints[name]

    @step_activity("webhook")
    async def webhook(self, input: WebhookInput) -> ActionResult:
        action = input.action
        self.endpoint(action.endpoint)
        once = await OnceStep.prepare(self.deps, input.step)
        flag: list[str | None] = []  # the endpoint's flag, read when this attempt records the delivery

        async def compose(session: AsyncSession) -> Planned:
            variables = await render_variables(session, once.step, utcnow(), [action.body])
            body = await render(self.deps, once.step, action.body, variables, f"{input.where}.body", action.locale)
            try:
                document = strict_json(body)
            except json.JSONDecodeError as exc:
                raise final_message("WebhookBodyInvalid", f"{input.where}.body: the text rendered is not JSON "
                                                          f"({exc.msg} at line {exc.lineno} column {exc.colno}); "
                                                          "write values with `| tojson`") from None
            except NotJson as exc:
                raise final_message("WebhookBodyInvalid", f"{input.where}.body: the text rendered is not JSON: "
                                                          f"{exc}") from None
            return Planned(target=action.endpoint, message_id=webhook_id(once.step.step_key),
                           body=json.dumps(document, ensure_ascii=False, separators=(",", ":")),
                           check=disabled_reason(action.endpoint), checked=flag.append)

        def summary(row: Delivery) -> str:
            return english("summary_webhook", endpoint=action.endpoint, status=row.response_status, delivery=row.id)

        ended: list[datetime] = []

        def finish(row: Delivery) -> Any:  # the process ends with this step: its end, written with the answer
            at = utcnow()
            end = bookkeeping.step_end_update(once.step.books, summary(row), at, once.step.responsible_id)
            if end is not None:
                ended.append(at)
            return end

        async def post(row: Delivery) -> Answered:
            return await self._post(row, flag[0] if flag else await self._disabled(row.target))

        row = await deliver_once(self.deps, once.step, kind="webhook", compose=compose, send=post,
                                 before=once.before, finish=finish, once=once,
                                 after=once.after(), history_kind=HistoryKind.webhook_sent,
                                 describe=lambda d: history_text(self.deps.settings.locale, "webhook_posted",
                                                                 endpoint=d.target, status=d.response_status))
        return ActionResult(summary=summary(row), data={"delivery_id": row.id, "webhook_id": row.message_id},
                            responsible_id=once.step.responsible_id, ended_at=ended[0] if ended else None)

    async def _disabled(self, name: str) -> str | None:
        async with self.deps.sessions() as session:
            return (await read_scalar(disabled_reason(name)).run(session)).scalar()  # type: ignore[no-any-return]

    async def _post(self, row: Delivery, disabled: str | None) -> Answered:
        """POST the delivery, unless its endpoint is disabled (`disabled`: why, read in this attempt; None: it is
        not)."""
        settings = self.deps.settings
        endpoint = self.endpoint(row.target)
        if disabled is not None:
            raise DeliveryFailed(f"webhook endpoint '{row.target}' is disabled: {disabled}",
                                 outcome="final", error_type="EndpointDisabled")
        try:
            target = await pin(endpoint.url, settings.outbound_allowed_hosts)
        except AddressRefused as exc:
            raise DeliveryFailed(f"webhook endpoint '{row.target}': {exc}", outcome="final",
                                 error_type="AddressRefused") from None
        except HostUnresolved as exc:
            raise DeliveryFailed(f"webhook endpoint '{row.target}': {exc}", outcome="retry",
                                 error_type="WebhookNotDelivered") from None
        now = datetime.now(UTC)
        headers = {name: value.get_secret_value() for name, value in endpoint.headers.items()
                   if name.lower() not in RESERVED_HEADERS}
        headers.update(target.headers)
        headers.update({"content-type": "application/json", "webhook-id": row.message_id,
                        "webhook-timestamp": str(int(now.timestamp())),
                        "webhook-signature": Signer(endpoint.secret.get_secret_value()).sign(row.message_id, now,
                                                                                             row.body)})
        try:
            async with outbound_client(settings.webhook_read_timeout_seconds,
                                       settings.webhook_connect_timeout_seconds) as http:
                response = await http.post(target.url, content=row.body.encode(), headers=headers,
                                           extensions=target.extensions)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"webhook to '{row.target}' not delivered: {type(exc).__name__} {exc}".strip(),
                                 outcome="retry", error_type="WebhookNotDelivered") from None
        return await self._answered(row.target, response)

    async def _answered(self, name: str, response: httpx.Response) -> Answered:
        code, text = response.status_code, response.text
        if 200 <= code < 300:
            return Answered(response_status=code, response_body=text)
        said = f"webhook endpoint '{name}' answered {code}"
        if code == 410:
            async with self.deps.sessions() as session:
                row = await session.get(DisabledEndpoint, name) or DisabledEndpoint(name=name, reason="")
                now = utcnow()
                row.reason = f"answered 410 Gone on {self.deps.settings.show(now)}"  # in TIMEZONE, as staff read it
                row.disabled_at, row.enabled_at, row.enabled_by = now, None, None
                session.add(row)
                await session.commit()
            raise DeliveryFailed(f"{said} (Gone): the endpoint is disabled until an admin enables it", outcome="final",
                                 error_type="EndpointGone", response_status=code, response_body=text)
        if code == 429 or code >= 500:
            raise DeliveryFailed(said, outcome="retry", error_type="WebhookNotDelivered", response_status=code,
                                 response_body=text,
                                 retry_after=retry_after_seconds(response.headers.get("retry-after")))
        if 300 <= code < 400:
            said += f" (a redirect to {response.headers.get('location', '?')}, not followed)"
        raise DeliveryFailed(said, outcome="final", error_type="WebhookRefused", response_status=code,
                             response_body=text)
