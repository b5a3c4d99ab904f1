"""Validate a process template document: every error, each with its path.

Structure is checked by the pydantic models; this module adds what they cannot
see: unique phase keys, user-authored text that compiles in the sandbox and uses
only known variables, and named users that exist.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError, meta, nodes
from pydantic import ValidationError

from processes.errors import ErrorCollector, ErrorDetail, TemplateInvalid, did_you_mean
from processes.rendering import parse_text
from processes.template import CreateTask, ProcessTemplate, Responsible
from processes.upgrades import upgrade_template
from processes.variables import VARIABLES


def format_path(loc: tuple[Any, ...]) -> str:
    """('phases', 2, 'actions', 0, 'send_email', 'to') -> 'phases[2].actions[0].send_email.to'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def parse_document(text: str, *, source: str = "body") -> dict[str, Any]:
    """Parse a YAML or JSON document (JSON is YAML) into a mapping."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateInvalid([ErrorDetail("", f"{source} is not valid YAML or JSON{where}: {problem}")]) from None
    if not isinstance(data, dict):
        raise TemplateInvalid([ErrorDetail("", f"{source} must be a mapping of template fields")])
    return json.loads(json.dumps(data, default=str))


def _pydantic_errors(exc: ValidationError) -> Iterator[ErrorDetail]:
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field missing"
        yield ErrorDetail(format_path(loc), message)


def _check_text(path: str, source: str, errors: ErrorCollector) -> None:
    try:
        ast = parse_text(source)
    except TemplateSyntaxError as exc:
        errors.add(path, f"template syntax error at line {exc.lineno}: {exc.message}")
        return
    for name in sorted(meta.find_undeclared_variables(ast)):
        if name not in VARIABLES:
            errors.add(path, f"unknown variable '{name}'{did_you_mean(name, VARIABLES)}")
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not isinstance(target, nodes.Name) or target.name not in VARIABLES:
            continue
        if isinstance(node, nodes.Getattr):
            attribute = node.attr
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            attribute = node.arg.value
        else:
            continue
        allowed = VARIABLES[target.name]
        if allowed is not None and attribute not in allowed:
            errors.add(
                path,
                f"unknown attribute '{target.name}.{attribute}'{did_you_mean(attribute, allowed)}",
            )


def _check_user(path: str, responsible: Responsible | None, known_users: Collection[str] | None,
                errors: ErrorCollector) -> None:
    if responsible is None or responsible.kind != "user" or known_users is None:
        return
    if responsible.user not in known_users:
        errors.add(f"{path}.user", f"unknown user '{responsible.user}'{did_you_mean(responsible.user, known_users)}")


def check_template(template: ProcessTemplate, *, known_users: Collection[str] | None = None) -> list[ErrorDetail]:
    """The semantic errors of a structurally valid template."""
    errors = ErrorCollector()
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
                if field_name in ("subject", "body", "title", "description", "text", "message") and value:
                    _check_text(f"{base}.{field_name}", value, errors)
                if field_name == "values":
                    for name, text in value.items():
                        _check_text(f"{base}.values.{name}", text, errors)
            if isinstance(spec, CreateTask):
                _check_user(f"{base}.assignee", spec.assignee, known_users, errors)
    return errors.errors


def validate_template(raw: dict[str, Any], *, known_users: Collection[str] | None = None) -> ProcessTemplate:
    """A valid `ProcessTemplate` from a parsed document, or `TemplateInvalid` with every error.

    `known_users` is the set of user handles that may be named; `None` skips that check.
    """
    try:
        template = ProcessTemplate.model_validate(upgrade_template(raw))
    except ValidationError as exc:
        raise TemplateInvalid(list(_pydantic_errors(exc))) from None
    errors = check_template(template, known_users=known_users)
    if errors:
        raise TemplateInvalid(errors)
    return template
