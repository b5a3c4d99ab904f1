"""The variables user-authored text may use, shared by validation and rendering.

Validation refuses a name or attribute not listed here, so a template cannot be saved
with `{{ recrod.title }}` or `{{ record.owner.nmae }}`; the activities build exactly these
shapes. Each variable's shape maps its attributes to theirs: `VALUE` (a text or number),
`DATE` (a date and time, with `DATE_ATTRIBUTES`), `FREE` (free fields and answers: any name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Union

VALUE, DATE, FREE, PHASES = "value", "date", "free", "phases"
Shape = Union[str, Mapping[str, "Shape"]]

# the attributes of a date (in the office's time zone); `| date`, `| time`, `| datetime` format them
DATE_ATTRIBUTES = frozenset({"year", "month", "day", "hour", "minute", "second", "weekday", "isoweekday",
                             "isoformat", "strftime"})
PERSON_ATTRIBUTES = frozenset({"id", "handle", "name", "email", "phone", "role"})
PERSON: Shape = dict.fromkeys(PERSON_ATTRIBUTES, VALUE)
RECORD: Shape = {**dict.fromkeys(("id", "kind", "type", "status", "title", "email", "phone", "channel"), VALUE),
                 "owner": PERSON, "fields": FREE, "created_at": DATE}
PROCESS: Shape = {**dict.fromkeys(("id", "template", "template_name", "version", "controller_email"), VALUE),
                  "owner": PERSON, "started_at": DATE}
PHASE: Shape = {"key": VALUE, "name": VALUE, "started_at": DATE, "deadline": DATE}
RECORD_ATTRIBUTES = frozenset(RECORD)

# name -> its shape
VARIABLES: dict[str, Shape] = {
    "record": RECORD,
    "contact": RECORD,
    "process": PROCESS,
    "phase": PHASE,
    "responsible": PERSON,
    "owner": PERSON,
    "now": DATE,
    "answers": FREE,  # answers collected when staff completed manual phases
    "phases": PHASES,  # phases.<key>.status / .overdue / .iteration / .signature; keys checked against the template
}

PHASE_OUTCOME_ATTRIBUTES = frozenset({"status", "overdue", "iteration", "signature"})
