"""Checking the email addresses of a CSV import at the speed of the file: each domain is checked once.

email-validator checks an address's domain (IDNA, UTS-46, its labels) on every call: for 100,000 contacts
of a few dozen domains, that was half of an import's time. The check is a pure function of the domain and
two options, so its answers are kept (an LRU of 4,096 domains; an invalid domain raises every time, as
exceptions are not kept). Every address the API checks still goes through email-validator's whole
`validate_email`, as `EmailStr` does: the answers are the same, only sooner. An import checks its addresses
with `checked_email` below: the plainest ones by a pattern and the cached domain check, the others as EmailStr.
"""

from __future__ import annotations

import functools
import importlib
import re

from email_validator import EmailNotValidError, rfc_constants
from pydantic import EmailStr, TypeAdapter

# the module, not the function the package exports under the same name
_module = importlib.import_module("email_validator.validate_email")

if not hasattr(_module.validate_email_domain_name, "cache_info"):
    _module.validate_email_domain_name = functools.lru_cache(maxsize=4096)(  # type: ignore[assignment]
        _module.validate_email_domain_name)


# The plainest addresses, most of a contact list's (`anna.rossi+news@studio-verdi.it`): a dot-atom local part of
# ASCII, a domain of ASCII labels. For those, email-validator's answer is known without its parser, which reads the
# address a character at a time in Python (half a row's check): the local part as it is (lowercased for the
# case-insensitive mailbox names), the domain as its cached check returns it. Anything else, and any address
# whose domain check changes more than its letters' case, goes through EmailStr as the API's does.
# (tests/imports/test_email_domains.py compares both on edge cases and thousands of generated addresses.)
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@({_LABEL}(?:\.{_LABEL})+)")
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
_CASE_INSENSITIVE = frozenset(rfc_constants.CASE_INSENSITIVE_MAILBOX_NAMES)


def checked_email(address: str) -> str:
    """`address` as the API's EmailStr checks and normalizes it (its ValidationError when it is not one)."""
    plain = _PLAIN.fullmatch(address)
    if plain is not None and len(address) <= rfc_constants.EMAIL_MAX_LENGTH \
            and len(plain[1]) <= rfc_constants.LOCAL_PART_MAX_LENGTH:
        try:
            domain = _module.validate_email_domain_name(plain[2], test_environment=False,
                                                        globally_deliverable=True)["domain"]
        except EmailNotValidError:
            domain = None
        if domain is not None and domain == plain[2].lower():
            local = plain[1].lower() if plain[1].lower() in _CASE_INSENSITIVE else plain[1]
            return f"{local}@{domain}"
    return _EMAIL.validate_python(address)
