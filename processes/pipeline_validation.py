"""Validate a pipeline document: every error, each with its path (`types[1].initial_status: ...`).

The pydantic models check the shape; this adds what they cannot see: unique names, moves and sequences
that name statuses of the pipeline, initial statuses within their type's sequence, automations whose
moves and substates exist, users and templates that exist, and text that compiles in the sandbox and
uses only known variables (the checks process templates get). Runs in the render pool's child.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError

from processes.errors import ErrorCollector, ErrorDetail, PipelineInvalid, did_you_mean
from processes.pipeline import Automation, Pipeline, Status
from processes.template import CreateTask, RecordKind
from processes.text_checks import check_text
from processes.validation import TEXT_FIELDS, pydantic_errors

NOT_RUN_YET = ("stage automations are not run by this version of Stagecoach: a pipeline with them is refused rather "
               "than saved with actions that would never happen (start processes by autostart on status_changed)")


def _known(path: str, name: str, names: Collection[str], what: str, errors: ErrorCollector) -> bool:
    if name in names:
        return True
    errors.add(path, f"unknown {what} '{name}'{did_you_mean(name, names)}")
    return False


def _unique(path: str, names: list[str], what: str, errors: ErrorCollector) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            errors.add(f"{path}[{i}].name", f"duplicate {what} '{name}' (also {path}[{seen[name]}])")
        seen.setdefault(name, i)


def _check_moves(path: str, moves: Mapping[str, list[str]] | None, statuses: list[str], errors: ErrorCollector,
                 what: str = "status") -> None:
    for source, targets in (moves or {}).items():
        _known(f"{path}.{source}", source, statuses, what, errors)
        for t, target in enumerate(targets):
            _known(f"{path}.{source}[{t}]", target, statuses, what, errors)


def check_pipeline(pipeline: Pipeline, *, known_users: Collection[str] | None = None,
                   known_templates: Mapping[str, RecordKind] | None = None) -> list[ErrorDetail]:
    """The errors of a pipeline beyond its shape (`None`: that check is skipped)."""
    errors = ErrorCollector()
    names = [s.name for s in pipeline.statuses]
    _unique("statuses", names, "status", errors)
    _check_moves("moves", pipeline.moves, names, errors)
    _unique("types", [t.name for t in pipeline.types], "record type", errors)
    for i, spec in enumerate(pipeline.types):
        where = f"types[{i}]"
        sequence = list(spec.statuses) if spec.statuses is not None else names
        for s, name in enumerate(spec.statuses or ()):
            _known(f"{where}.statuses[{s}]", name, names, "status", errors)
        if spec.initial not in sequence:
            errors.add(f"{where}.initial_status", f"'{spec.initial}' is not in the sequence of type '{spec.name}' "
                       f"({', '.join(sequence)})" + ("" if spec.initial_status else
                                                      ": name its initial status"))
        _check_moves(f"{where}.moves", spec.moves, sequence, errors, "status of this type")
    for i, status in enumerate(pipeline.statuses):
        _unique(f"statuses[{i}].substates", [s.name for s in status.substates], "substate", errors)
        if status.automations or any(s.automations for s in status.substates):
            # checked in full below, so a pipeline written for them is ready; saved only once they run
            errors.add(f"statuses[{i}].automations", NOT_RUN_YET)
        for a, automation in enumerate(status.automations):
            _check_automation(f"statuses[{i}].automations[{a}]", automation, status, pipeline, errors,
                              known_users, known_templates)
        for u, substate in enumerate(status.substates):
            for a, automation in enumerate(substate.automations):
                _check_automation(f"statuses[{i}].substates[{u}].automations[{a}]", automation, status, pipeline,
                                  errors, known_users, known_templates)
    return errors.errors


def _check_automation(path: str, automation: Automation, status: Status, pipeline: Pipeline, errors: ErrorCollector,
                      known_users: Collection[str] | None, known_templates: Mapping[str, RecordKind] | None) -> None:
    statuses = [s.name for s in pipeline.statuses]
    substates = [s.name for s in status.substates]
    for j, action in enumerate(automation.actions):
        spec, base = action.spec, f"{path}.actions[{j}].{action.kind}"
        for field_name, value in spec:
            if field_name in TEXT_FIELDS and isinstance(value, str) and value:
                check_text(f"{base}.{field_name}", value, errors)
            if field_name == "values":
                for name, text in value.items():
                    check_text(f"{base}.values.{name}", text, errors)
        target = getattr(spec, "status", None)
        if action.kind in ("move_to", "set_status") and target is not None:
            _known(f"{base}.status", target, statuses, "status", errors)
        if action.kind in ("open_substate", "close_substate"):
            _known(f"{base}.substate", getattr(spec, "substate"), substates, f"substate of '{status.name}'", errors)
        if known_users is not None:
            handles = list(getattr(spec, "users", ()))
            if isinstance(spec, CreateTask) and spec.assignee is not None and spec.assignee.user:
                handles.append(spec.assignee.user)
            for criterion in getattr(spec, "criteria", ()):
                handles.extend(criterion.users)
            owner = getattr(spec, "owner", None)
            if owner is not None and owner.user:
                handles.append(owner.user)
            for handle in handles:
                _known(base, handle, known_users, "user", errors)
        if action.kind == "start_process" and known_templates is not None:
            key = getattr(spec, "template")
            if _known(f"{base}.template", key, known_templates, "template", errors) \
                    and known_templates[key] != pipeline.record_kind:
                errors.add(f"{base}.template", f"template '{key}' runs on {known_templates[key].value} records, "
                                               f"not {pipeline.record_kind.value}")


def validate_pipeline(raw: Any, *, known_users: Collection[str] | None = None,
                      known_templates: Mapping[str, RecordKind] | None = None) -> Pipeline:
    """A valid `Pipeline` from a parsed document (without its `remap`), or `PipelineInvalid` with every error."""
    raw, _ = remap_of(raw)
    try:
        pipeline = Pipeline.model_validate(raw)
    except ValidationError as exc:
        raise PipelineInvalid(list(pydantic_errors(exc))) from None
    if errors := check_pipeline(pipeline, known_users=known_users, known_templates=known_templates):
        raise PipelineInvalid(errors)
    return pipeline


def remap_of(raw: Any) -> tuple[Any, dict[str, str]]:
    """The document without its `remap` (how a save maps removed statuses), and that mapping."""
    if not isinstance(raw, dict) or "remap" not in raw:
        return raw, {}
    raw = dict(raw)
    remap = raw.pop("remap")
    if not isinstance(remap, dict) or not all(isinstance(k, str) and isinstance(v, str) and len(v) <= 64
                                              for k, v in remap.items()) or len(remap) > 100:
        raise PipelineInvalid([ErrorDetail("remap", "a mapping of at most 100 removed statuses to the status their "
                                                    "records move to: {Old: New}")])
    return raw, remap
