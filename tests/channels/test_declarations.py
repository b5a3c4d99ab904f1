"""Every action kind declares its retry safety, documented; the address guard knows what is not public."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from activities.public_address import AddressRefused, pin, why_not_public
from processes.retry_safety import RETRY_SAFETY
from processes.action_kinds import ACTION_KINDS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "templates.md"


def test_every_action_kind_declares_and_documents_its_retry_safety() -> None:
    assert set(RETRY_SAFETY) == set(ACTION_KINDS)
    table = DOCS.read_text().split("## Retry safety", 1)[1]
    for kind, safety in RETRY_SAFETY.items():
        assert re.search(rf"^\| `{kind}` \| `{safety.value}` \|", table, re.M), kind


@pytest.mark.parametrize(("address", "kind"), [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("10.0.0.8", "private"),
    ("192.168.1.1", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("224.0.0.251", "multicast"), ("0.0.0.0", "unspecified"), ("100.64.0.1", "non-public"),
    ("93.184.216.34", None), ("2606:4700::1111", None)])
def test_addresses_outbound_requests_may_not_reach(address: str, kind: str | None) -> None:
    assert why_not_public(ipaddress.ip_address(address)) == kind


async def test_a_host_is_checked_by_the_address_it_resolves_to() -> None:
    with pytest.raises(AddressRefused, match="'localhost' resolves to .*loopback"):
        await pin("http://localhost:8080/hook", allowed_hosts=[])
    pinned = await pin("http://localhost:8080/hook?a=1", allowed_hosts=["LOCALHOST"])
    assert pinned.url.host in ("127.0.0.1", "::1") and pinned.headers == {"Host": "localhost:8080"}
    assert pinned.url.path == "/hook" and pinned.url.query == b"a=1"
    https = await pin("https://localhost/hook", allowed_hosts=["localhost"])
    assert https.extensions == {"sni_hostname": "localhost"} and https.url.port is None
