"""Keeping the domain checks of email-validator changes no answer: the same addresses pass, the same fail."""

from __future__ import annotations

import importlib

import pytest
from pydantic import EmailStr, TypeAdapter, ValidationError

from crm.imports import email_domains  # noqa: F401  (installs the cache)

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
