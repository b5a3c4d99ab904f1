"""Validate a process template document: every error, each with its path.

Structure is checked by the pydantic models; this module adds what they cannot
see: unique phase keys, phases and follow-ups that exist, named users that exist, a
way to the end from every phase, and user-authored text (checked by `processes/text_checks.py`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Hashable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

import yaml
from pydantic import ValidationError

from processes.errors import ErrorCollector, ErrorDetail, TemplateInvalid, did_you_mean
from processes.template import CreateTask, ProcessTemplate, RecordKind, Responsible, StartFollowUp
from processes.text_checks import TRIAL_SECONDS, check_condition, check_text, trial_deadline
from processes.upgrades import upgrade_template


def format_path(loc: tuple[Any, ...]) -> str:
    """('phases', 2, 'actions', 0, 'send_email', 'to') -> 'phases[2].actions[0].send_email.to'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


class _Loader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2 booleans (`on`, `off`, `yes`, `no` stay strings) that refuses duplicate keys."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{key}'", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def parse_document(text: str, *, source: str = "body") -> dict[str, Any]:
    """Parse a YAML or JSON document (JSON is YAML) into a mapping."""
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateInvalid([ErrorDetail("", f"{source} is not valid YAML or JSON{where}: {problem}")]) from None
    except RecursionError:
        raise TemplateInvalid([ErrorDetail("", f"{source} is nested more than {MAX_DOCUMENT_DEPTH} levels deep")]) \
            from None
    if not isinstance(data, dict):
        raise TemplateInvalid([ErrorDetail("", f"{source} must be a mapping of template fields")])
    _check_shape(data, source)
    return json.loads(json.dumps(data, default=str))


MAX_DOCUMENT_DEPTH = 64
MAX_DOCUMENT_VALUES = 100_000


def _check_shape(data: Any, source: str) -> None:
    """Refuse a document nested too deeply, or one whose YAML aliases refer to themselves or expand too far."""
    budget = [MAX_DOCUMENT_VALUES]

    def walk(value: Any, path: str, depth: int, ancestors: set[int]) -> None:
        if not isinstance(value, (dict, list)):
            return
        if depth >= MAX_DOCUMENT_DEPTH:
            raise TemplateInvalid([ErrorDetail(path, f"nested more than {MAX_DOCUMENT_DEPTH} levels deep")])
        if id(value) in ancestors:
            raise TemplateInvalid([ErrorDetail(path, "contains itself (a YAML alias inside its own anchor)")])
        budget[0] -= len(value)
        if budget[0] < 0:
            raise TemplateInvalid([ErrorDetail("", f"{source} holds more than {MAX_DOCUMENT_VALUES} values "
                                                   "(once its YAML aliases are expanded)")])
        ancestors.add(id(value))
        if isinstance(value, dict):
            for key, child in value.items():
                where = f"{path}.{key}" if path else str(key)
                if not isinstance(key, str):
                    keys.append(ErrorDetail(where, _not_text(key)))
                walk(child, where, depth + 1, ancestors)
        else:
            for index, child in enumerate(value):
                walk(child, format_path((path, index) if path else (index,)), depth + 1, ancestors)
        ancestors.discard(id(value))

    keys: list[ErrorDetail] = []
    walk(data, "", 0, set())
    if keys:
        raise TemplateInvalid(keys)


def _not_text(key: Any) -> str:
    """What to say of a mapping key YAML did not read as text (`2024-05-01:`, `12:`, `null:`)."""
    kind = {bool: "true or false", int: "a number", float: "a number", date: "a date", datetime: "a date and time",
            type(None): "null"}.get(type(key), type(key).__name__)
    shown = "null" if key is None else str(key)
    return f"a key must be text, and YAML reads {shown} as {kind}: put it in quotes ('{shown}')"


def _pydantic_errors(exc: ValidationError) -> Iterator[ErrorDetail]:
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field missing"
        yield ErrorDetail(format_path(loc), message)


def _check_user(path: str, responsible: Responsible | None, known_users: Collection[str] | None,
                errors: ErrorCollector) -> None:
    if responsible is None or responsible.kind != "user" or known_users is None:
        return
    if responsible.user not in known_users:
        errors.add(f"{path}.user", f"unknown user '{responsible.user}'{did_you_mean(responsible.user, known_users)}")


TEXT_FIELDS = ("subject", "body", "title", "description", "text", "message")


def check_template(template: ProcessTemplate, *, known_users: Collection[str] | None = None,
                   known_templates: Mapping[str, RecordKind] | None = None) -> list[ErrorDetail]:
    """The semantic errors of a structurally valid template.

    `known_users`: user handles that may be named; `known_templates`: the record kind of
    each saved template that a follow-up may start. `None` skips that check.
    """
    errors = ErrorCollector()
    deadline = trial_deadline.set(time.monotonic() + TRIAL_SECONDS)
    try:
        _check_phases(template, errors, known_users, known_templates)
    finally:
        trial_deadline.reset(deadline)
    if not errors.errors:
        _check_reaches_end(template, errors)
    return errors.errors


def _check_phases(template: ProcessTemplate, errors: ErrorCollector, known_users: Collection[str] | None,
                  known_templates: Mapping[str, RecordKind] | None) -> None:
    keys = [p.key for p in template.phases]
    seen: dict[str, int] = {}
    for i, phase in enumerate(template.phases):
        where = f"phases[{i}]"
        if phase.key in seen:
            errors.add(f"{where}.key", f"duplicate phase key '{phase.key}' (also phases[{seen[phase.key]}])")
        seen.setdefault(phase.key, i)
        _check_user(f"{where}.responsible", phase.responsible, known_users, errors)
        for j, action in enumerate(phase.actions):
            spec = action.spec
            base = f"{where}.actions[{j}].{action.kind}"
            for field_name, value in spec:
                if field_name in TEXT_FIELDS and value:
                    check_text(f"{base}.{field_name}", value, errors, keys)
                if field_name == "values":
                    for name, text in value.items():
                        check_text(f"{base}.values.{name}", text, errors, keys)
            if isinstance(spec, CreateTask):
                _check_user(f"{base}.assignee", spec.assignee, known_users, errors)
            if isinstance(spec, StartFollowUp):
                _check_user(f"{base}.owner", spec.owner, known_users, errors)
                _check_follow_up(base, spec, template, known_templates, errors)
        for b, branch in enumerate(phase.decision or []):
            check_condition(f"{where}.decision[{b}].when", branch.when, errors, keys)
            _check_target(f"{where}.decision[{b}].goto", branch.goto, keys, errors)
        if phase.next is not None:
            _check_target(f"{where}.next", phase.next, keys, errors)


def _check_target(path: str, key: str, keys: list[str], errors: ErrorCollector) -> None:
    if key not in keys:
        errors.add(path, f"unknown phase '{key}'{did_you_mean(key, keys)}")


def _check_follow_up(path: str, spec: StartFollowUp, template: ProcessTemplate,
                     known_templates: Mapping[str, RecordKind] | None, errors: ErrorCollector) -> None:
    if known_templates is None:
        return
    kinds = {**known_templates, template.key: template.record_kind}
    if spec.template not in kinds:
        errors.add(f"{path}.template", f"unknown template '{spec.template}'{did_you_mean(spec.template, kinds)}")
        return
    target = template.record_kind if spec.record == "same" else RecordKind.contact
    if kinds[spec.template] != target:
        errors.add(f"{path}.template", f"template '{spec.template}' runs on {kinds[spec.template].value} records, "
                                       f"but this follow-up runs on the {'record' if spec.record == 'same' else 'contact'}"
                                       f" ({target.value})")


def successors(template: ProcessTemplate, index: int) -> list[int | None]:
    """Where a phase may lead: phase indexes, and None for the end of the process."""
    phase = template.phases[index]
    following = phase.next if phase.next is not None else None
    default: int | None = template.phase_index(following) if following else (
        index + 1 if index + 1 < len(template.phases) else None)
    targets: list[int | None] = [template.phase_index(b.goto) for b in phase.decision or []]
    targets.append(default)
    if phase.ends_process:
        targets.append(None)
    return targets


def _check_reaches_end(template: ProcessTemplate, errors: ErrorCollector) -> None:
    """Every phase the process can reach must have a way to the end (no loop without an exit)."""
    reachable, todo = {0}, [0]
    while todo:
        for target in successors(template, todo.pop()):
            if target is not None and target not in reachable:
                reachable.add(target)
                todo.append(target)
    ends: set[int] = set()
    changed = True
    while changed:
        changed = False
        for i in reachable - ends:
            if any(t is None or t in ends for t in successors(template, i)):
                ends.add(i)
                changed = True
    for i in sorted(reachable - ends):
        errors.add(f"phases[{i}]", f"phase '{template.phases[i].key}' can never reach the end of the process "
                                   "(a loop with no way out)")


def validate_template(raw: dict[str, Any], *, known_users: Collection[str] | None = None,
                      known_templates: Mapping[str, RecordKind] | None = None) -> ProcessTemplate:
    """A valid `ProcessTemplate` from a parsed document, or `TemplateInvalid` with every error.

    `known_users`, `known_templates`: as for `check_template`; `None` skips that check.
    """
    try:
        template = ProcessTemplate.model_validate(upgrade_template(raw))
    except ValidationError as exc:
        raise TemplateInvalid(list(_pydantic_errors(exc))) from None
    errors = check_template(template, known_users=known_users, known_templates=known_templates)
    if errors:
        raise TemplateInvalid(errors)
    return template
