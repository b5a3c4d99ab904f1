"""The client requests' store: template versions, opening a request, tokens kept only hashed, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from crm.client_requests import store
from crm.client_requests.errors import RequestTemplateNotFound
from crm.client_requests.models import AutoMove, RequestStatus
from crm.client_requests.questions import RequestTemplate
from settings import Settings
from tests.factories import Factory


def _template(key: str, title: str = "Documenti 730") -> RequestTemplate:
    return RequestTemplate.model_validate({"key": key, "language": "it", "title": title, "message": "Grazie",
                                           "questions": [{"key": "cu", "type": "file", "label": "CU",
                                                          "required": True, "accept": ["application/pdf"]}]})


async def test_a_save_is_a_new_version_and_the_same_content_is_not(sessions: Any) -> None:
    key = f"t-{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        first, created = await store.save_template(session, _template(key), "admin")
        again, created_again = await store.save_template(session, _template(key), "admin")
        second, _ = await store.save_template(session, _template(key, "Documenti 730 (2026)"), "admin")
        newest = await store.get_template(session, key)
        with pytest.raises(RequestTemplateNotFound, match="has no version 9"):
            await store.get_template(session, key, 9)
        with pytest.raises(RequestTemplateNotFound, match="did you mean"):
            await store.get_template(session, key + "x")
    assert (first.version, created, again.version, created_again, second.version) == (1, True, 1, False, 2)
    assert newest.title == "Documenti 730 (2026)"


async def test_open_request_copies_the_newest_version_and_keeps_only_the_token_hash(
        sessions: Any, factory: Factory) -> None:
    key = f"t-{uuid.uuid4().hex[:8]}"
    contact = await factory.record(title="Mario Bianchi", email="mario@example.com")
    record = await factory.record(title="730 Bianchi", contact_id=contact.id, email=None)
    settings = Settings(client_request_expiry_days=3, public_url="https://crm.example.com/")
    async with sessions() as session:
        await store.save_template(session, _template(key), "admin")
        request, token = await store.open_request(session, template_key=key, record_id=record.id, actor="ops",
                                                  auto_move=AutoMove.on, waiting_status="Missing info",
                                                  settings=settings)
        await session.commit()
        found = await store.find_by_token(session, token)
        assert await store.find_by_token(session, token + "x") is None
    assert found is not None and found.id == request.id
    assert request.token_hash == store.hash_token(token) and token not in request.token_hash
    assert len(token) >= 43  # 256 bits, URL-safe base64
    assert (request.contact_email, request.status, request.language, request.template_version) == \
        ("mario@example.com", RequestStatus.pending, "it", 1)
    assert request.questions[0]["key"] == "cu"
    assert 2.9 < (request.expires_at - request.created_at).total_seconds() / 86400 <= 3.0
    assert store.request_link(settings, token) == f"https://crm.example.com/r/{token}"


def test_a_request_expires_at_the_time_of_day_it_was_sent_across_a_change_of_the_clocks() -> None:
    """Sent at 03:02 in Rome in December with 120 days, it expired at 04:02 (120 × 24 hours, summer time by then)"""
    rome = Settings(timezone="Europe/Rome")
    sent = datetime(2026, 12, 6, 2, 2, tzinfo=UTC)  # 03:02 in Rome
    expires = store.days_on(120, rome, sent)
    assert expires.astimezone(rome.zone).strftime("%Y-%m-%d %H:%M %Z") == "2027-04-05 03:02 CEST"
    assert store.days_on(7, Settings(timezone="UTC"), sent) == datetime(2026, 12, 13, 2, 2, tzinfo=UTC)
