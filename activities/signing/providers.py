"""Signing providers: where the `request_signature` action sends a document, and the interface they share.

`send(pdf, name, signer, callback_url, idempotency_key, expires_at)` answers the provider's envelope id (an
`Answered` whose `provider_id` it is) or raises `DeliveryFailed` saying whether it may have been sent: a signature
request is `at_most_once` (`processes/retry_safety.py`), so an attempt of unknown outcome becomes an incident, never
a second envelope. The step key's hash is the idempotency key a provider may use to drop a repeat anyway.

- `EmbeddedSigning` (`embedded`, the default): nothing leaves Stagecoach. The envelope id is a random token, and the
  signer's link is the API's own signing page `/sign/{token}` (`api/routers/signing_page.py`), which calls the same
  callback path as any provider.
- `HttpSigning` (a name in SIGNING_PROVIDERS): POSTs JSON to the provider's URL with `Authorization: Bearer <api
  key>` and `Idempotency-Key`, through the address guard of webhooks. The body:
  `{"reference", "name", "signer", "document" (the PDF, base64), "callback_url", "expires_at"}`; a 2xx answer
  with JSON `{"envelope_id": ...}` (or `id`). Its callbacks are signed with its `secret` (docs/templates.md).
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime
from typing import Protocol

import httpx

from activities.deliveries import Answered, DeliveryFailed
from activities.public_address import AddressRefused, HostUnresolved, outbound_client, pin
from settings import Settings, SigningProvider

EMBEDDED = "embedded"
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # the request never left


class Signing(Protocol):
    async def send(self, *, pdf: bytes, name: str, signer: str, callback_url: str, idempotency_key: str,
                   expires_at: datetime) -> Answered:
        """Send the document for signature; the envelope id in `provider_id`."""


class UnknownProvider(Exception):
    pass


class EmbeddedSigning:
    """The API signs locally: the envelope id is the signing link's token (256 random bits)."""

    async def send(self, *, pdf: bytes, name: str, signer: str, callback_url: str, idempotency_key: str,
                   expires_at: datetime) -> Answered:
        return Answered(provider_id=secrets.token_urlsafe(32))


class HttpSigning:
    def __init__(self, name: str, provider: SigningProvider, settings: Settings) -> None:
        self.name, self.provider, self.settings = name, provider, settings

    async def send(self, *, pdf: bytes, name: str, signer: str, callback_url: str, idempotency_key: str,
                   expires_at: datetime) -> Answered:
        where = f"signing provider '{self.name}'"
        try:
            target = await pin(self.provider.url, self.settings.outbound_allowed_hosts)
        except AddressRefused as exc:
            raise DeliveryFailed(f"{where}: {exc}", outcome="final", error_type="AddressRefused") from None
        except HostUnresolved as exc:
            raise DeliveryFailed(f"{where}: {exc}", outcome="retry", error_type="SignatureNotSent") from None
        headers = {"Authorization": f"Bearer {self.provider.api_key.get_secret_value()}",
                   "Idempotency-Key": idempotency_key, **target.headers}
        body = {"reference": idempotency_key, "name": name, "signer": signer,
                "document": base64.b64encode(pdf).decode(), "callback_url": callback_url,
                "expires_at": expires_at.isoformat()}
        try:
            async with outbound_client(self.settings.webhook_read_timeout_seconds,
                                       self.settings.webhook_connect_timeout_seconds) as http:
                response = await http.post(target.url, json=body, headers=headers, extensions=target.extensions)
        except NOT_SENT as exc:
            raise DeliveryFailed(f"{where} unreachable: {type(exc).__name__}", outcome="retry",
                                 error_type="SignatureNotSent") from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"{where} did not answer ({type(exc).__name__}); the document may have been sent",
                                 outcome="unknown", error_type="DeliveryOutcomeUnknown") from None
        code, text = response.status_code, response.text
        said = f"{where} answered {code}"
        if 200 <= code < 300:
            envelope = _envelope_id(response)
            if envelope is None:
                raise DeliveryFailed(f"{said} without an envelope id (JSON `envelope_id` or `id`); the document may "
                                     "have been sent", outcome="unknown", error_type="DeliveryOutcomeUnknown",
                                     response_status=code, response_body=text)
            return Answered(response_status=code, response_body=text, provider_id=envelope)
        if code in (429, 503):
            raise DeliveryFailed(said, outcome="retry", error_type="SignatureNotSent", response_status=code,
                                 response_body=text)
        if code >= 500:
            raise DeliveryFailed(f"{said}; the document may have been sent", outcome="unknown",
                                 error_type="DeliveryOutcomeUnknown", response_status=code, response_body=text)
        raise DeliveryFailed(said, outcome="final", error_type="SignatureRefused", response_status=code,
                             response_body=text)


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
