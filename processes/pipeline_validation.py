"""Validate a pipeline document: every error, each with its path (`types[1].initial_status: ...`).

The pydantic models check the shape; this adds what they cannot see: unique names, moves and sequences
that name statuses of the pipeline, initial statuses within their type's sequence, automations whose
moves and substates exist, users and templates that exist, and text that compiles in the sandbox and
uses only known variables (the checks process templates get). Runs in the render pool's child.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from pydantic import ValidationError

from processes.errors import ErrorCollector, ErrorDetail, PipelineInvalid, did_you_mean
from processes.pipeline import STAGE_EXCLUDED, Pipeline, Status, name_key
from processes.stage_templates import When, stage_template
from processes.action_kinds import Action, SetStatus, SubstateChange
from processes.template_basics import RecordKind
from processes.validation import check_template, pydantic_errors


def _known(path: str, name: str, names: Collection[str], what: str, errors: ErrorCollector) -> bool:
    if name in names:
        return True
    errors.add(path, f"unknown {what} '{name}'{did_you_mean(name, names)}")
    return False


def _unique(path: str, names: list[str], what: str, errors: ErrorCollector) -> None:
    """Each name once; two that differ only in letter case or in how an accent is encoded (NFC, NFD) look the same on
    a board and in a menu, so they are one name twice too."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        key = name_key(name)
        if key in seen:
            first = names[seen[key]]
            also = "" if first == name else f" '{first}', which differs only in letter case or accent encoding"
            errors.add(f"{path}[{i}].name", f"duplicate {what} '{name}' (also {path}[{seen[key]}]{also})")
        seen.setdefault(key, i)


def _check_moves(path: str, moves: Mapping[str, list[str]] | None, statuses: list[str], errors: ErrorCollector,
                 what: str = "status") -> None:
    for source, targets in (moves or {}).items():
        _known(f"{path}.{source}", source, statuses, what, errors)
        for t, target in enumerate(targets):
            if target == source:
                errors.add(f"{path}.{source}[{t}]", f"'{source}' moves to itself: a record is in it already")
            elif target in targets[:t]:
                errors.add(f"{path}.{source}[{t}]", f"'{target}' is listed twice (also [{targets.index(target)}])")
            else:
                _known(f"{path}.{source}[{t}]", target, statuses, what, errors)


def check_pipeline(pipeline: Pipeline, *, known_users: Collection[str] | None = None,
                   known_templates: Mapping[str, RecordKind] | None = None,
                   known_endpoints: Collection[str] | None = None, known_requests: Collection[str] | None = None,
                   known_signers: Collection[str] | None = None) -> list[ErrorDetail]:
    """The errors of a pipeline beyond its shape (`None`: that check is skipped; `known_endpoints`: the webhook
    endpoints configured, `known_requests`: the client request templates saved, as for a process template)."""
    errors = ErrorCollector()
    names = [s.name for s in pipeline.statuses]
    _unique("statuses", names, "status", errors)
    _check_moves("moves", pipeline.moves, names, errors)
    _unique("types", [t.name for t in pipeline.types], "record type", errors)
    for i, spec in enumerate(pipeline.types):
        if spec.name != spec.name.strip():  # as a status's name may not: records are matched by it
            errors.add(f"types[{i}].name", f"'{spec.name}' has spaces around it: write '{spec.name.strip()}'")
    for i, spec in enumerate(pipeline.types):
        where = f"types[{i}]"
        sequence = list(spec.statuses) if spec.statuses is not None else names
        for s, name in enumerate(spec.statuses or ()):
            if name in spec.statuses[:s]:  # type: ignore[index]
                errors.add(f"{where}.statuses[{s}]", f"'{name}' is twice in the type's sequence (also "
                                                     f"statuses[{spec.statuses.index(name)}])")  # type: ignore[union-attr]
            else:
                _known(f"{where}.statuses[{s}]", name, names, "status", errors)
        if (initial := pipeline.initial(spec.name)) not in sequence:
            errors.add(f"{where}.initial_status", f"'{initial}' is not in the sequence of type '{spec.name}' "
                       f"({', '.join(sequence)})" + ("" if spec.initial_status else
                                                      ": name its initial status"))
        _check_moves(f"{where}.moves", spec.moves, sequence, errors, "status of this type")
    for i, status in enumerate(pipeline.statuses):
        _unique(f"statuses[{i}].substates", [s.name for s in status.substates], "substate", errors)
        holders = [(f"statuses[{i}].", None, status.automations)] + [
            (f"statuses[{i}].substates[{u}].", s.name, s.automations) for u, s in enumerate(status.substates)]
        for path, substate, automations in holders:
            if automations and not pipeline.controller_email:
                errors.add("controller_email", f"{path}automations: a pipeline with automations names the "
                                               "controller_email who hears of their incidents and loop guard")
            for a, automation in enumerate(automations):
                for j, action in enumerate(automation.actions):
                    _check_action(f"{path}automations[{a}].actions[{j}]", action, status, pipeline, errors)
                    request = action.send_client_request
                    if request is not None and request.auto_move and automation.on == "exit":
                        errors.add(f"{path}automations[{a}].actions[{j}].send_client_request.auto_move",
                                   "an on-exit automation runs once the record has left the status: its answers "
                                   "cannot move it on (set auto_move: false)")
            for when in ("enter", "exit"):
                _check_texts(pipeline, status.name, substate, when, path, errors,
                             Known(known_users, known_templates, known_endpoints, known_requests, known_signers))
    return errors.errors


class Known(NamedTuple):
    """What automations may name, as a process template may (`None`: not checked)."""

    users: Collection[str] | None
    templates: Mapping[str, RecordKind] | None
    endpoints: Collection[str] | None
    requests: Collection[str] | None
    signers: Collection[str] | None


def _check_texts(pipeline: Pipeline, status: str, substate: str | None, when: When, path: str,
                 errors: ErrorCollector, known: Known) -> None:
    """The checks a process template gets (text, locales, named users, templates, webhook endpoints and request
    templates), on the process the automations run as."""
    built = stage_template(pipeline, status, substate, when, None, path)
    if built is None:
        return
    for detail in check_template(built.template, known_users=known.users, known_templates=known.templates,
                                 known_endpoints=known.endpoints, known_requests=known.requests,
                                 known_signers=known.signers):
        found = re.match(r"^phases\[(\d+)\]\.actions\[(\d+)\](.*)$", detail.path)
        if found and (place := built.where.get((int(found[1]), int(found[2])))) is not None:
            errors.add(place + found[3], detail.message)
        else:
            errors.add(path + "automations", detail.message)


def _check_action(path: str, action: Action, status: Status, pipeline: Pipeline, errors: ErrorCollector) -> None:
    spec, base = action.spec, f"{path}.{action.kind}"
    if action.kind in STAGE_EXCLUDED:
        errors.add(path, f"'{action.kind}' is not an automation's action (use {STAGE_EXCLUDED[action.kind]})")
    if isinstance(spec, SetStatus):
        _known(f"{base}.status", spec.status, [s.name for s in pipeline.statuses], "status", errors)
    if isinstance(spec, SubstateChange):
        _known(f"{base}.substate", spec.substate, [s.name for s in status.substates], f"substate of '{status.name}'",
               errors)


def validate_pipeline(raw: Any, *, known_users: Collection[str] | None = None,
                      known_templates: Mapping[str, RecordKind] | None = None,
                      known_endpoints: Collection[str] | None = None, known_requests: Collection[str] | None = None,
                      known_signers: Collection[str] | None = None) -> Pipeline:
    """A valid `Pipeline` from a parsed document (without its `remap`), or `PipelineInvalid` with every error."""
    raw, _ = remap_of(raw)
    try:
        pipeline = Pipeline.model_validate(raw)
    except ValidationError as exc:
        raise PipelineInvalid(list(pydantic_errors(exc))) from None
    if errors := check_pipeline(pipeline, known_users=known_users, known_templates=known_templates,
                                known_endpoints=known_endpoints, known_requests=known_requests,
                                known_signers=known_signers):
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
