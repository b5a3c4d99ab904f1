"""Named upgrades of persisted template shapes, one per schema version step.

A template version stored under an older schema is upgraded when it is read, so a
process started weeks ago keeps running after the language changes. Version 1 is
the first; an upgrade from N to N+1 is registered as `UPGRADES[N]`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from processes.template import CURRENT_SCHEMA_VERSION

UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def upgrade_template(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored template document to the current schema version."""
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or version < 1 or version > CURRENT_SCHEMA_VERSION:
        return raw  # validation reports the bad version with its path
    while version < CURRENT_SCHEMA_VERSION:
        raw = UPGRADES[version](raw)
        version += 1
        raw = {**raw, "schema_version": version}
    return raw
