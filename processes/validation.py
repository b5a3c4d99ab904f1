"""Validate a process template document: every error, each with its path.

Structure is checked by the pydantic models; this module adds what they cannot
see: unique phase keys, user-authored text that compiles in the sandbox and uses
only known variables, and named users that exist.
"""

from __future__ import annotations

import _string  # type: ignore[import-not-found]
import json
import re
import string
import time
from collections.abc import Collection, Hashable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import yaml
from jinja2 import TemplateSyntaxError, meta, nodes
from pydantic import ValidationError

from processes.errors import ErrorCollector, ErrorDetail, RenderError, TemplateInvalid, did_you_mean
from processes.rendering import FILTER_NAMES, MAX_SEQUENCE_LEN, TEST_NAMES, compile_condition, parse_text, render_ast
from processes.template import CreateTask, ProcessTemplate, RecordKind, Responsible, StartFollowUp
from processes.upgrades import upgrade_template
from processes.variables import PHASE_OUTCOME_ATTRIBUTES, VARIABLES


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
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            walk(child, format_path((path, key) if path else (key,)), depth + 1, ancestors)
        ancestors.discard(id(value))

    walk(data, "", 0, set())


def _pydantic_errors(exc: ValidationError) -> Iterator[ErrorDetail]:
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "missing":
            message = "required field missing"
        yield ErrorDetail(format_path(loc), message)


def _check_text(path: str, source: str, errors: ErrorCollector, phase_keys: Collection[str] = ()) -> None:
    try:
        ast = parse_text(source)
    except TemplateSyntaxError as exc:
        errors.add(path, f"template syntax error at line {exc.lineno}: {exc.message}")
        return
    _check_names(path, ast, errors, phase_keys)
    _check_safety(path, ast, errors)


def _check_condition(path: str, source: str, errors: ErrorCollector, phase_keys: Collection[str]) -> None:
    try:
        compile_condition(source)
        ast = parse_text("{{ " + source + " }}")
    except TemplateSyntaxError as exc:
        errors.add(path, f"condition syntax error: {exc.message}")
        return
    _check_names(path, ast, errors, phase_keys)
    _check_safety(path, ast, errors)


# names user text may call or read although they are not variables: Jinja2's globals, minus lipsum
CONSTANT_GLOBALS = frozenset({"range", "dict", "namespace", "cycler", "joiner"})
MAX_LOOP_ITERATIONS = MAX_SEQUENCE_LEN
# filters whose string arguments name attributes (`attr('x')`, `map(attribute='x.y')`)
ATTRIBUTE_FILTERS = frozenset({"attr", "map", "sort", "groupby", "selectattr", "rejectattr", "sum", "unique",
                               "min", "max"})
# expression nodes that cannot be rendered on their own, or that read nothing
_NOT_EVALUATED = (nodes.Name, nodes.Const, nodes.TemplateData, nodes.Slice, nodes.NSRef, nodes.InternalName,
                  nodes.ContextReference, nodes.DerivedContextReference, nodes.ExtensionAttribute,
                  nodes.ImportedName, nodes.EnvironmentAttribute, nodes.MarkSafe, nodes.MarkSafeIfAutoescape)


def _private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


def _format_fields_private(fmt: str) -> str | None:
    """The first attribute or item starting with '_' a str.format string reads (`{0.__class__}`), if any."""
    try:
        for _, field_name, spec, _ in string.Formatter().parse(fmt):
            if field_name:
                _, rest = _string.formatter_field_name_split(field_name)
                for _, key in rest:
                    if isinstance(key, str) and key.startswith("_"):
                        return key
            if spec and "{" in spec and (found := _format_fields_private(spec)):
                return found
    except ValueError:
        return None  # not a str.format string
    return None


def _free_form(target: nodes.Node) -> bool:
    """Whether an expression is a mapping of free keys: `record.fields`, `contact.fields`, `answers`."""
    if isinstance(target, nodes.Name):
        return target.name == "answers"
    return (isinstance(target, (nodes.Getattr, nodes.Getitem)) and _attribute(target) == "fields"
            and isinstance(target.node, nodes.Name) and target.node.name in ("record", "contact"))


def _postorder(node: nodes.Node) -> Iterator[nodes.Node]:
    for child in node.iter_child_nodes():
        yield from _postorder(child)
    yield node


def _check_private(path: str, ast: nodes.Template, errors: ErrorCollector) -> None:
    """Refuse attributes starting with '_' (`''.__class__`, `self._TemplateReference__context`) when saved."""
    def refuse(node: nodes.Node, name: str) -> None:
        errors.add(path, f"access to '{name}' at line {node.lineno} is not allowed "
                         "(names starting with '_' are private)")

    for node in _postorder(ast):  # the innermost of `a.__b__.__c__` first
        if isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            tag = type(node).__name__.lower().replace("fromimport", "from")
            errors.add(path, f"'{{% {tag} %}}' at line {node.lineno} is not allowed (text cannot load other templates)")
            continue
        if isinstance(node, nodes.Name):
            if node.name == "self" and node.ctx == "load":
                errors.add(path, "unknown variable 'self'")
            continue
        if not isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Filter)):
            continue
        if isinstance(node, nodes.Filter):
            if node.name in ATTRIBUTE_FILTERS:
                for arg in [*node.args, *(kw.value for kw in node.kwargs)]:
                    if isinstance(arg, nodes.Const) and isinstance(arg.value, str) and _private(arg.value):
                        refuse(node, arg.value)
            if node.name == "format" and isinstance(node.node, nodes.Const) and isinstance(node.node.value, str) \
                    and (key := _format_fields_private(node.node.value)):
                refuse(node, key)
            continue
        attribute = _attribute(node)
        if attribute is not None and attribute.startswith("_") \
                and ("__" in attribute or not _free_form(node.node)):  # a free field may be called '_id'
            refuse(node, attribute)
        elif attribute in ("format", "format_map") and isinstance(node.node, nodes.Const) \
                and isinstance(node.node.value, str) and (key := _format_fields_private(node.node.value)):
            refuse(node, key)


def _closed(node: nodes.Node) -> bool:
    """Whether an expression reads no variable (only constants and Jinja2's globals): it can be tried when saved."""
    return (all(name.name in CONSTANT_GLOBALS for name in node.find_all(nodes.Name))
            and all(f.name in FILTER_NAMES for f in node.find_all(nodes.Filter))
            and all(t.name in TEST_NAMES for t in node.find_all(nodes.Test))
            and not any(True for _ in node.find_all((nodes.NSRef, nodes.InternalName, nodes.ContextReference,
                                                     nodes.DerivedContextReference))))


# the time one save may spend trying constant parts; past it, the rest are left to run time (still bounded)
TRIAL_SECONDS = 2.0
_trial_deadline: ContextVar[float] = ContextVar("trial_deadline", default=float("inf"))


class _OutOfTime(Exception):
    pass


def _try(expression: nodes.Expr, *, length: bool = False) -> str:
    """Render one variable-free expression (or its length) within the render bounds; raises `RenderError`."""
    if time.monotonic() > _trial_deadline.get():
        raise _OutOfTime
    if length:
        expression = nodes.Filter(expression, "length", [], [], None, None, lineno=expression.lineno)
    return render_ast(nodes.Template([nodes.Output([expression], lineno=expression.lineno)], lineno=1))


def _check_constants(path: str, ast: nodes.Template, errors: ErrorCollector) -> None:
    """Try the parts of user text that read no variable, as they would render: resource bombs fail when saved.

    `'a' * 10**9`, `9**9**9`, `'x'|center(10**9)`, `range(10**9)|list` and nested loops over constant
    ranges of more than MAX_LOOP_ITERATIONS iterations in all are refused with their line; text that
    reads no variable at all is rendered whole (the output bound).
    """
    before = len(errors.errors)

    def visit(node: nodes.Node, iterations: int) -> None:
        if isinstance(node, nodes.Expr) and not isinstance(node, _NOT_EVALUATED) and _closed(node) \
                and not (isinstance(node, nodes.Filter) and node.node is None):
            try:
                _try(node)
            except _OutOfTime:
                return
            except RenderError as exc:
                errors.add(path, f"line {node.lineno}: {'always fails: ' if 'refused: ' not in exc.message else ''}"
                                 f"{exc.message}")
            return
        if isinstance(node, nodes.For):
            visit(node.iter, iterations)
            runs = iterations
            if len(errors.errors) == before and _closed(node.iter):
                try:
                    runs = iterations * int(_try(node.iter, length=True))
                except (RenderError, ValueError, _OutOfTime):
                    pass
            if runs > MAX_LOOP_ITERATIONS:
                errors.add(path, f"line {node.lineno}: refused: loops would run {runs} times "
                                 f"(the limit is {MAX_LOOP_ITERATIONS})")
                return
            for child in [node.target, *node.body, *([node.test] if node.test else [])]:
                visit(child, runs)
            for child in node.else_:
                visit(child, iterations)
            return
        for child in node.iter_child_nodes():
            visit(child, iterations)

    visit(ast, 1)
    try:
        closed = not meta.find_undeclared_variables(ast) and not any(
            isinstance(n, nodes.Name) and n.name == "self" for n in ast.find_all(nodes.Name))
    except TemplateSyntaxError:  # an unknown filter or test, reported already
        closed = False
    if len(errors.errors) == before and closed and time.monotonic() <= _trial_deadline.get():
        try:
            render_ast(ast)
        except RenderError as exc:
            if "refused: " in exc.message:
                errors.add(path, exc.message)


def _check_safety(path: str, ast: nodes.Template, errors: ErrorCollector) -> None:
    before = len(errors.errors)
    _check_private(path, ast, errors)
    if len(errors.errors) == before:
        _check_constants(path, ast, errors)


def _attribute(node: nodes.Getattr | nodes.Getitem) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def _check_names(path: str, ast: nodes.Template, errors: ErrorCollector, phase_keys: Collection[str]) -> None:
    unknown = 0
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        kind, known = ("filter", FILTER_NAMES) if isinstance(node, nodes.Filter) else ("test", TEST_NAMES)
        if node.name not in known:
            unknown += 1
            errors.add(path, f"unknown {kind} '{node.name}' at line {node.lineno}{did_you_mean(node.name, known)}")
    try:
        undeclared = meta.find_undeclared_variables(ast)  # compiles: raises TemplateAssertionError
    except TemplateSyntaxError as exc:
        if not unknown:
            errors.add(path, f"template syntax error at line {exc.lineno}: {exc.message}")
        return
    for name in sorted(undeclared):
        if name not in VARIABLES:
            errors.add(path, f"unknown variable '{name}'{did_you_mean(name, VARIABLES)}")
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        attribute = _attribute(node)
        if attribute is None:
            continue
        if isinstance(target, nodes.Name) and target.name == "phases":
            if attribute not in phase_keys:
                errors.add(path, f"unknown phase 'phases.{attribute}'{did_you_mean(attribute, phase_keys)}")
            continue
        if (isinstance(target, (nodes.Getattr, nodes.Getitem)) and isinstance(target.node, nodes.Name)
                and target.node.name == "phases"):
            if attribute not in PHASE_OUTCOME_ATTRIBUTES:
                errors.add(path, f"unknown attribute '{attribute}' of a phase"
                                 f"{did_you_mean(attribute, PHASE_OUTCOME_ATTRIBUTES)}; "
                                 f"phases have {', '.join(sorted(PHASE_OUTCOME_ATTRIBUTES))}")
            continue
        if not isinstance(target, nodes.Name) or target.name not in VARIABLES:
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


TEXT_FIELDS = ("subject", "body", "title", "description", "text", "message")


def check_template(template: ProcessTemplate, *, known_users: Collection[str] | None = None,
                   known_templates: Mapping[str, RecordKind] | None = None) -> list[ErrorDetail]:
    """The semantic errors of a structurally valid template.

    `known_users`: user handles that may be named; `known_templates`: the record kind of
    each saved template that a follow-up may start. `None` skips that check.
    """
    errors = ErrorCollector()
    deadline = _trial_deadline.set(time.monotonic() + TRIAL_SECONDS)
    try:
        _check_phases(template, errors, known_users, known_templates)
    finally:
        _trial_deadline.reset(deadline)
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
                    _check_text(f"{base}.{field_name}", value, errors, keys)
                if field_name == "values":
                    for name, text in value.items():
                        _check_text(f"{base}.values.{name}", text, errors, keys)
            if isinstance(spec, CreateTask):
                _check_user(f"{base}.assignee", spec.assignee, known_users, errors)
            if isinstance(spec, StartFollowUp):
                _check_user(f"{base}.owner", spec.owner, known_users, errors)
                _check_follow_up(base, spec, template, known_templates, errors)
        for b, branch in enumerate(phase.decision or []):
            _check_condition(f"{where}.decision[{b}].when", branch.when, errors, keys)
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
