"""The office a render writes for: its language (a Babel locale) and its time zone, per thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import tzinfo
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Office:
    """The language and time zone a render writes dates and numbers in."""

    locale: str = "en"
    timezone: str = "UTC"

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.timezone)


class _Current(threading.local):
    office: Office = Office()


_current = _Current()


def current_office() -> Office:
    """The office of the render running in this thread (`formatting`'s filters read it)."""
    return _current.office


def set_office(office: Office) -> Office:
    """Make `office` the one renders in this thread use; returns the one it replaces."""
    previous, _current.office = _current.office, office
    return previous
