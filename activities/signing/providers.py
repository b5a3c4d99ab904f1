"""Signing providers: where the `request_signature` action sends a document, and the interface they share.

`send(pdf, name, signer, callback_url, idempotency_key, expires_at)` answers the provider's envelope id (an
`Answered` whose `provider_id` it is) or raises `DeliveryFailed` saying whether it may have been sent: a signature
request is `at_most_once` (`processes/retry_safety.py`), so an attempt of unknown outcome becomes an incident, never
a second envelope. The step key's hash is the idempotency key a provider may use to drop a repeat anyway.

- `EmbeddedSigning` (`embedded`, the default): nothing leaves Stagecoach and it answers no envelope id: the
  signer's link, the API's own signing page `/sign/{token}` (`api/signing_page.py`, which calls the same callback
  path as any provider), is made with its email (`request.py`), and the request keeps only the SHA-256 of its token
  as its envelope id, as client requests keep theirs.
- `HttpSigning` (a name in SIGNING_PROVIDERS): POSTs JSON to the provider's URL with `Authorization: Bearer <api
  key>` and `Idempotency-Key`, through the address guard of webhooks. The body:
  `{"reference", "name", "signer", "document" (the PDF, base64), "callback_url", "expires_at"}`; a 2xx answer
  with JSON `{"envelope_id": ...}` (or `id`). Its callbacks are signed with its `secret` (docs/templates.md).
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Protocol

import httpx

from activities.deliveries import Answered, DeliveryFailed, post_at_most_once
from settings import Settings, SigningProvider

EMBEDDED = "embedded"


class Signing(Protocol):
    async def send(self, *, pdf: bytes, name: str, signer: str, callback_url: str, idempotency_key: str,
                   expires_at: datetime) -> Answered:
        """Send the document for signature; the envelope id in `provider_id`."""


class UnknownProvider(Exception):
    pass


class EmbeddedSigning:
    """The API signs locally: nothing to send. The signing link's token is made with its email (`request.py`)."""

    async def send(self, *, pdf: bytes, name: str, signer: str, callback_url: str, idempotency_key: str,
                   expires_at: datetime) -> Answered:
        return Answered()


class HttpSigning:
    def __init__(self, name: str, provider: SigningProvider, settings: Settings) -> None:
        self.name, self.provider, self.settings = name, provider, settings

    async def send(self, *, pdf: bytes, name: str, signer: str, callback_url: str, idempotency_key: str,
                   expires_at: datetime) -> Answered:
        where = f"signing provider '{self.name}'"
        headers = {"Authorization": f"Bearer {self.provider.api_key.get_secret_value()}",
                   "Idempotency-Key": idempotency_key}
        body = {"reference": idempotency_key, "name": name, "signer": signer,
                "document": base64.b64encode(pdf).decode(), "callback_url": callback_url,
                "expires_at": expires_at.isoformat()}
        response = await post_at_most_once(self.settings, self.provider.url, where=where, not_sent="SignatureNotSent",
                                           refused="SignatureRefused", headers=headers, json=body)
        envelope = _envelope_id(response)
        if envelope is None:
            raise DeliveryFailed(f"{where} answered {response.status_code} without an envelope id (JSON `envelope_id` "
                                 "or `id`); the document may have been sent", outcome="unknown",
                                 error_type="DeliveryOutcomeUnknown", response_status=response.status_code,
                                 response_body=response.text)
        return Answered(response_status=response.status_code, response_body=response.text, provider_id=envelope)


def _envelope_id(response: httpx.Response) -> str | None:
    try:
        answer = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    value = (answer.get("envelope_id") or answer.get("id")) if isinstance(answer, dict) else None
    return str(value)[:200] if value else None


def signing_provider(settings: Settings, name: str) -> Signing:
    if name in settings.signing_providers:
        return HttpSigning(name, settings.signing_providers[name], settings)
    if name == EMBEDDED:
        return EmbeddedSigning()
    known = ", ".join([EMBEDDED, *settings.signing_providers])
    raise UnknownProvider(f"no signing provider '{name}' in SIGNING_PROVIDERS (known: {known})")
