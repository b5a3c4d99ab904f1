"""Checking the email addresses of a CSV import at the speed of the file: each domain is checked once.

email-validator checks an address's domain (IDNA, UTS-46, its labels) on every call: for 100,000 contacts
of a few dozen domains, that was half of an import's time. The check is a pure function of the domain and
two options, so its answers are kept (an LRU of 4,096 domains; an invalid domain raises every time, as
exceptions are not kept). Every address still goes through email-validator's whole `validate_email`, as
the API's `EmailStr` does: the answers are the same, only sooner.
"""

from __future__ import annotations

import functools
import importlib

# the module, not the function the package exports under the same name
_module = importlib.import_module("email_validator.validate_email")

if not hasattr(_module.validate_email_domain_name, "cache_info"):
    _module.validate_email_domain_name = functools.lru_cache(maxsize=4096)(  # type: ignore[assignment]
        _module.validate_email_domain_name)
