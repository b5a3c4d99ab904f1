"""Custom search attributes: what the process list filters on. Ids and keys only, never personal data."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

TEMPLATE = SearchAttributeKey.for_keyword("StagecoachTemplate")
RECORD = SearchAttributeKey.for_keyword("StagecoachRecord")
PHASE = SearchAttributeKey.for_keyword("StagecoachPhase")
OWNER = SearchAttributeKey.for_keyword("StagecoachOwner")
STATUS = SearchAttributeKey.for_keyword("StagecoachStatus")
# a status's automations (processes/stage_templates.py): the pipeline, and the record's status they belong to
PIPELINE = SearchAttributeKey.for_keyword("StagecoachPipeline")
STAGE = SearchAttributeKey.for_keyword("StagecoachStage")

ALL = (TEMPLATE, RECORD, PHASE, OWNER, STATUS, PIPELINE, STAGE)


def cli_flags() -> list[str]:
    """`--search-attribute Name=Keyword` flags for `temporal server start-dev`."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags


def initial(template_key: str, record_id: int, owner_id: int, first_phase: str,
            stage: tuple[str, str] | None = None) -> TypedSearchAttributes:
    """The search attributes a process starts with; a stage's automations also with their pipeline and status."""
    pairs = [
        SearchAttributePair(TEMPLATE, template_key),
        SearchAttributePair(RECORD, str(record_id)),
        SearchAttributePair(OWNER, str(owner_id)),
        SearchAttributePair(STATUS, "running"),
        SearchAttributePair(PHASE, first_phase),
    ]
    if stage is not None:
        pairs += [SearchAttributePair(PIPELINE, stage[0]), SearchAttributePair(STAGE, stage[1])]
    return TypedSearchAttributes(pairs)
