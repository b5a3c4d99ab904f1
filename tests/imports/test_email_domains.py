"""Keeping the domain checks of email-validator changes no answer: the same addresses pass, the same fail."""

from __future__ import annotations

import importlib
import random

import pytest
from pydantic import EmailStr, TypeAdapter, ValidationError

from crm.imports import email_domains
from crm.imports.email_domains import checked_email

ADDRESSES = ["anna@example.org", "Anna.Rossi+tag@Example.ORG", "pippo@città.it", "x@xn--citt-5qa.it", "a@b",
             "a@-bad-.com", "a@localhost", "a@.com", "\"quoted\"@example.org", "Anna <anna@example.org>",
             "a@" + "x" * 64 + ".com", "a@example..org", "ünïcode@exämple.de", "a@[127.0.0.1]", "a@example.org.",
             "a" * 65 + "@example.org", "a@invalid", "a@example.test", "A@EXAMPLE.ORG", "a@exa_mple.org"]


def _answers(adapter: TypeAdapter[str]) -> list[str]:
    answers = []
    for address in ADDRESSES * 2:  # the second time from the cache
        try:
            answers.append(adapter.validate_python(address))
        except ValidationError as exc:
            answers.append(f"refused: {exc.errors()[0]['msg']}")
    return answers


def test_cached_domains_give_the_same_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("email_validator.validate_email")
    adapter: TypeAdapter[str] = TypeAdapter(EmailStr)
    cached = _answers(adapter)
    assert hasattr(module.validate_email_domain_name, "cache_info")
    assert module.validate_email_domain_name.cache_info().hits > 0
    monkeypatch.setattr(module, "validate_email_domain_name", module.validate_email_domain_name.__wrapped__)
    assert _answers(adapter) == cached
    assert any(a.startswith("refused") for a in cached) and any("@" in a and "refused" not in a for a in cached)


def _generated(count: int) -> list[str]:
    """Addresses near every rule the pattern decides on: dots, specials, case, hyphens, label and part lengths,
    numeric and special-use top-level domains (a fixed seed: the same list every run)."""
    pick = random.Random(23)
    odd_local, odd_domain = "aZ09.+-_!#$%&'*/=?^`{|}~\"(),:;<>@[\\] ", "aZ09-._"
    tlds = ["org", "IT", "com", "123", "test", "local", "invalid", "localhost", "onion", "example", "a1", "x-y", ""]
    out = []
    for _ in range(count):
        plainer = pick.random() < 0.6  # most addresses are plain: the pattern's path, with its limits
        local_chars, domain_chars = ("aZ09.+-_'", "aZ09-") if plainer else (odd_local, odd_domain)
        local = "".join(pick.choice(local_chars) for _ in range(pick.choice([1, 2, 5, 20, 63, 64, 65])))
        labels = ["".join(pick.choice(domain_chars) for _ in range(pick.choice([1, 3, 8, 63, 64])))
                  for _ in range(pick.choice([1, 2, 3]))]
        domain = ".".join([*labels, pick.choice(tlds)]).strip(".") if pick.random() < 0.9 else "x" * 250 + ".org"
        out.append(f"{local}@{domain}" if pick.random() < 0.97 else local)
    return out


def test_the_plain_addresses_pattern_gives_emailstrs_answers() -> None:
    """`checked_email` answers as EmailStr does, address for address: the same normalized address or the same
    refusal, on the edge cases and on 5,000 generated addresses"""
    adapter: TypeAdapter[str] = TypeAdapter(EmailStr)
    plain = 0
    for address in [*ADDRESSES, "PostMaster@Example.ORG", "Abuse@x.org", "a.b.c@d.e.f.org", ".a@b.org", "a.@b.org",
                    "a..b@c.org", "a@b.c", "a@b.123", "a@1.2.3.4", "x@xn--citt-5qa.it", *_generated(5000)]:
        try:
            expected = adapter.validate_python(address)
        except ValidationError as exc:
            with pytest.raises(ValidationError) as refused:
                checked_email(address)
            assert refused.value.errors()[0]["msg"] == exc.errors()[0]["msg"], address
            continue
        assert checked_email(address) == expected, address
        plain += email_domains._PLAIN.fullmatch(address) is not None
    assert plain > 100  # the pattern's path was taken, not only EmailStr's
