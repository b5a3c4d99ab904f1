"""The emails staff ask for when they create a case or add an event to a timeline are in the office's language:
with LOCALE=it, Italian words, as the SMTP server receives them (the English ones: test_cases.py, test_timeline.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cases.helpers import case, mail_to, user
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def plain(message: Any) -> str:
    """The text of a message received, its lines ending in \\n."""
    return str(message.get_content()).replace("\r\n", "\n")


@pytest.mark.parametrize("stack", ["it"], indirect=True)
async def test_with_locale_it_a_new_case_and_a_timeline_event_are_told_in_italian(stack: Stack) -> None:
    marta, paolo = await user(stack, "marta"), await user(stack, "paolo")
    created = await case(stack, "Assemblea condominiale", notify_user_ids=[marta["id"]])
    [told] = await mail_to(stack, marta["email"])
    assert told["Subject"] == "Nuova pratica: Assemblea condominiale"
    assert plain(told) == (f"È stata creata la pratica 'Assemblea condominiale' (pratica n. {created['id']}); "
                           "chi l'ha creata ha chiesto di avvisarla.\n")

    call = await stack.http.post(f"/records/{created['id']}/events", headers=stack.as_("staff"), json={
        "kind": "call", "description": "Il vicino accetta un sopralluogo", "occurred_at": "2026-11-30T10:15:00+01:00",
        "notify_user_ids": [paolo["id"]]})
    assert call.status_code == 201, call.text
    [told] = await mail_to(stack, paolo["email"])
    assert told["Subject"] == "Telefonata su Assemblea condominiale"
    assert plain(told) == (f"Telefonata del 30 nov 2026 09:15 UTC su 'Assemblea condominiale' (scheda {created['id']}):"
                           "\n\nIl vicino accetta un sopralluogo\n")
