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

from activities.deliveries import Answered, post_at_most_once
from crm.deliveries import DeliveryStatus
from settings import Settings, SmsGateway


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
        headers = {name: value.get_secret_value() for name, value in self.gateway.headers.items()}
        response = await post_at_most_once(self.settings, self.gateway.url, where="the SMS gateway",
                                           not_sent="SmsNotSent", refused="SmsRefused", headers=headers,
                                           json=self.payload(to, text, reference))
        return Answered(response_status=response.status_code, response_body=response.text,
                        provider_id=self._message_id(response))

    def _message_id(self, response: httpx.Response) -> str | None:
        try:
            answer = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        value = answer.get(self.gateway.message_id_field) if isinstance(answer, dict) else None
        return str(value)[:200] if value is not None else None


def sms_provider(settings: Settings) -> SmsProvider:
    return HttpSmsGateway(settings.sms_gateway, settings) if settings.sms_gateway is not None else OutboxSms()
