"""Custom search attributes: what the process list filters on. Ids and keys only, never personal data."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

TEMPLATE = SearchAttributeKey.for_keyword("StagecoachTemplate")
RECORD = SearchAttributeKey.for_keyword("StagecoachRecord")
PHASE = SearchAttributeKey.for_keyword("StagecoachPhase")
OWNER = SearchAttributeKey.for_keyword("StagecoachOwner")
STATUS = SearchAttributeKey.for_keyword("StagecoachStatus")

ALL = (TEMPLATE, RECORD, PHASE, OWNER, STATUS)


def cli_flags() -> list[str]:
    """`--search-attribute Name=Keyword` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags


def initial(template_key: str, record_id: int, owner_id: int, first_phase: str) -> TypedSearchAttributes:
    """The search attributes a process starts with."""
    return TypedSearchAttributes([
        SearchAttributePair(TEMPLATE, template_key),
        SearchAttributePair(RECORD, str(record_id)),
        SearchAttributePair(OWNER, str(owner_id)),
        SearchAttributePair(STATUS, "running"),
        SearchAttributePair(PHASE, first_phase),
    ])
