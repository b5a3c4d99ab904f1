"""The variables user-authored text may use, shared by validation and rendering.

Validation refuses a name or attribute not listed here, so a template cannot be
saved with `{{ recrod.title }}`; the activities build exactly these shapes.
"""

from __future__ import annotations

PERSON_ATTRIBUTES = frozenset({"id", "handle", "name", "email", "phone", "role"})
RECORD_ATTRIBUTES = frozenset(
    {"id", "kind", "type", "status", "title", "email", "phone", "channel", "owner", "fields", "created_at"}
)
PROCESS_ATTRIBUTES = frozenset(
    {"id", "template", "template_name", "version", "owner", "started_at", "controller_email"}
)
PHASE_ATTRIBUTES = frozenset({"key", "name", "started_at", "deadline"})

# name -> the attributes allowed on it (None: any attribute, e.g. free fields)
VARIABLES: dict[str, frozenset[str] | None] = {
    "record": RECORD_ATTRIBUTES,
    "contact": RECORD_ATTRIBUTES,
    "process": PROCESS_ATTRIBUTES,
    "phase": PHASE_ATTRIBUTES,
    "responsible": PERSON_ATTRIBUTES,
    "owner": PERSON_ATTRIBUTES,
    "now": frozenset(),
    "answers": None,  # answers collected when staff completed manual phases
    "phases": None,  # phases.<key>.status / .overdue / .iteration; keys checked against the template
}

PHASE_OUTCOME_ATTRIBUTES = frozenset({"status", "overdue", "iteration"})
