"""Sending an SMS: the provider interface, the HTTP gateway an office configures, and the outbox.

`HttpSmsGateway` POSTs JSON shaped as SMS_GATEWAY's `payload` says to its URL (through the same address
guard as webhooks), with its headers (credentials). What its answer means for a repeat, SMS being
`at_most_once`: a refused connection, 429 and 503 surely sent nothing (retried); 4xx is final; any other
5xx, a timeout or a connection lost after the request left may have sent it (`unknown`: staff decide).
Without SMS_GATEWAY the message is kept in the outbox (`held`): the embedded default.
"""

from __future__ import annotations

import json
from typing import Protocol

import httpx

from activities.deliveries import Answered, DeliveryFailed
from activities.public_address import AddressRefused, HostUnresolved, outbound_client, pin
from crm.deliveries import DeliveryStatus
from settings import Settings, SmsGateway

NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # the request never left


class SmsProvider(Protocol):
    async def send(self, *, to: str, text: str, reference: str) -> Answered:
        """Send one message (`to` in E.164); raise `DeliveryFailed` saying whether it may have been sent."""


class OutboxSms:
    """No gateway configured: the message is kept (`held`), as email is without SMTP."""

    async def send(self, *, to: str, text: str, reference: str) -> Answered:
        return Answered(status=DeliveryStatus.held)


class HttpSmsGateway:
    def __init__(self, gateway: SmsGateway, settings: Settings) -> None:
        self.gateway, self.settings = gateway, settings

    def payload(self, to: str, text: str, reference: str) -> dict[str, str]:
        values = {"{to}": to, "{text}": text, "{from}": self.gateway.sender, "{reference}": reference}
        return {key: values.get(shape, shape) for key, shape in self.gateway.payload.items()}

    async def send(self, *, to: str, text: str, reference: str) -> Answered:
        try:
            target = await pin(self.gateway.url, self.settings.outbound_allowed_hosts)
        except AddressRefused as exc:
            raise DeliveryFailed(f"SMS gateway: {exc}", outcome="final", error_type="AddressRefused") from None
        except HostUnresolved as exc:
            raise DeliveryFailed(f"SMS gateway: {exc}", outcome="retry", error_type="SmsNotSent") from None
        headers = {name: value.get_secret_value() for name, value in self.gateway.headers.items()}
        headers.update(target.headers)
        try:
            async with outbound_client(self.settings.webhook_read_timeout_seconds,
                                       self.settings.webhook_connect_timeout_seconds) as http:
                response = await http.post(target.url, json=self.payload(to, text, reference), headers=headers,
                                           extensions=target.extensions)
        except NOT_SENT as exc:
            raise DeliveryFailed(f"SMS gateway unreachable: {type(exc).__name__}", outcome="retry",
                                 error_type="SmsNotSent") from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"the SMS gateway did not answer ({type(exc).__name__}); the message may have been "
                                 "sent", outcome="unknown", error_type="DeliveryOutcomeUnknown") from None
        code, body = response.status_code, response.text
        if 200 <= code < 300:
            return Answered(response_status=code, response_body=body, provider_id=self._message_id(response))
        said = f"the SMS gateway answered {code}"
        if code in (429, 503):
            raise DeliveryFailed(said, outcome="retry", error_type="SmsNotSent", response_status=code,
                                 response_body=body)
        if code >= 500:
            raise DeliveryFailed(f"{said}; the message may have been sent", outcome="unknown",
                                 error_type="DeliveryOutcomeUnknown", response_status=code, response_body=body)
        raise DeliveryFailed(said, outcome="final", error_type="SmsRefused", response_status=code, response_body=body)

    def _message_id(self, response: httpx.Response) -> str | None:
        try:
            answer = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        value = answer.get(self.gateway.message_id_field) if isinstance(answer, dict) else None
        return str(value)[:200] if value is not None else None


def sms_provider(settings: Settings) -> SmsProvider:
    return HttpSmsGateway(settings.sms_gateway, settings) if settings.sms_gateway is not None else OutboxSms()
