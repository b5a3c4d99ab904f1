"""What protects the client's form: its CSRF token, and a limit on unknown tokens tried from one address.

The form carries `csrf_token`, an HMAC of the request's token hash under a server secret, and the same value
in a SameSite=Strict cookie scoped to the form's own address (`/r/{token}`): a form posted from another site has
neither, and two forms open in one browser (two requests to the same client) each keep their own. (A cookie
scoped to all of /r/ made opening the second form refuse the first, its answers lost.) The secret is
CLIENT_FORM_SECRET, else a random one written once to DATA_DIR/client_form_secret (shared by every API
process of the installation).

An address that tries more than CLIENT_FORM_GUESS_LIMIT unknown tokens within the window gets 429 for any
token until the window passes (counted per API process: enough to make guessing 256-bit tokens pointless).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections import deque
from pathlib import Path

from settings import Settings

COOKIE = "stagecoach_form"
FIELD = "csrf_token"


_KEPT: dict[Path, bytes] = {}  # the secrets read from DATA_DIR, by path: read once per process


def form_secret(settings: Settings) -> bytes:
    if settings.client_form_secret is not None:
        return settings.client_form_secret.get_secret_value().encode()
    path = Path(settings.data_dir).resolve() / "client_form_secret"
    if (kept := _KEPT.get(path)) is None:
        kept = _KEPT[path] = _read_or_write(path)
    return kept


def _read_or_write(path: Path) -> bytes:
    """The secret in `path`; made first if missing (written aside, then linked: another process reads it whole)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(aside, path)
        except FileExistsError:  # another process made it first: theirs is the one
            pass
        finally:
            aside.unlink()
    return path.read_bytes().strip()


def csrf_token(secret: bytes, token_hash: str) -> str:
    return hmac.new(secret, f"client-form:{token_hash}".encode(), hashlib.sha256).hexdigest()


def cookies_sent(header: str | None) -> list[str]:
    """Every value the Cookie header gives the form's cookie: a browser sends one for each path that matches (this
    form's, and one an earlier version scoped to all of /r/), which a plain reading of the header folds into one."""
    values = []
    for part in (header or "").split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name == COOKIE:
            values.append(value.strip().strip('"'))
    return values


def csrf_valid(secret: bytes, token_hash: str, field: object, cookies: list[str]) -> bool:
    expected = csrf_token(secret, token_hash).encode()
    return (isinstance(field, str) and hmac.compare_digest(field.encode(), expected)
            and any(hmac.compare_digest(cookie.encode(), expected) for cookie in cookies))


class GuessLimit:
    """Unknown tokens tried, by client address, within a sliding window."""

    def __init__(self, limit: int, window_seconds: float, max_addresses: int = 100_000) -> None:
        self.limit, self.window, self.max_addresses = limit, window_seconds, max_addresses
        self._misses: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        misses = self._misses.get(address, deque())
        while misses and misses[0] <= now - self.window:
            misses.popleft()
        return misses

    def blocked(self, address: str) -> bool:
        return len(self._recent(address, time.monotonic())) >= self.limit

    def miss(self, address: str) -> None:
        now = time.monotonic()
        if len(self._misses) >= self.max_addresses and address not in self._misses:
            self._misses = {a: m for a, m in self._misses.items() if self._recent(a, now)}
            if len(self._misses) >= self.max_addresses:
                self._misses.pop(next(iter(self._misses)))
        misses = self._recent(address, now)
        misses.append(now)
        self._misses[address] = misses
