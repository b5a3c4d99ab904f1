"""The pipeline tests use the API in process (ASGI) on the dev server, as the bad-input tests do."""

from __future__ import annotations

import uuid
from typing import Any

from tests.bad_input.conftest import Api, api  # noqa: F401  (fixtures)


def repair_pipeline(tag: str | None = None, **changes: Any) -> dict[str, Any]:
    """A repair shop's job pipeline: warranty and paid repairs as isolated sequences (types named per test)."""
    tag = tag or uuid.uuid4().hex[:8]
    document: dict[str, Any] = {
        "key": f"repairs-{tag}", "name": "Repair jobs", "record_kind": "job",
        "statuses": [{"name": "New"}, {"name": "Diagnosis", "substates": [{"name": "Waiting for parts"},
                                                                          {"name": "Customer called"}]},
                     {"name": "Quote sent"}, {"name": "Warranty claim filed"}, {"name": "In repair"},
                     {"name": "Ready for pickup"}, {"name": "Closed"}],
        "moves": {"New": ["Diagnosis"], "Diagnosis": ["Quote sent", "Warranty claim filed"],
                  "Quote sent": ["In repair", "Closed"], "Warranty claim filed": ["In repair"],
                  "In repair": ["Ready for pickup"], "Ready for pickup": ["Closed"]},
        "types": [{"name": f"Warranty repair {tag}", "initial_status": "Diagnosis",
                   "statuses": ["Diagnosis", "Warranty claim filed", "In repair", "Ready for pickup", "Closed"]},
                  {"name": f"Paid repair {tag}",
                   "statuses": ["New", "Diagnosis", "Quote sent", "In repair", "Ready for pickup", "Closed"]}],
    }
    document.update(changes)
    return document


async def save(api: Api, document: dict[str, Any]) -> Any:
    return await api.http.post("/pipelines", headers=api.as_("admin"), json=document)
