"""Checking the text users write in a template before it is saved: Jinja2 text and decision conditions.

Each text must compile in the sandbox, read only known variables, filters and tests (`unknown variable
'recrd'`, with the nearest names), read no private attribute (`__class__`, `{0.__class__}` in a
format string), and stay within the render bounds where it can be tried without a record: constant
expressions (`'a' * 10**9`, `range(10**9)`) are rendered at save, under `TRIAL_SECONDS` for the whole
template (`trial_deadline`, set by `processes/validation.py`). Pure: no I/O.
"""

from __future__ import annotations

import _string  # type: ignore[import-not-found]
import string
import time
from collections.abc import Collection, Iterator
from contextvars import ContextVar

from jinja2 import TemplateSyntaxError, meta, nodes

from processes.errors import ErrorCollector, RenderError, did_you_mean
from processes.rendering import FILTER_NAMES, MAX_SEQUENCE_LEN, TEST_NAMES, compile_condition, parse_text, render_ast
from processes.variables import PHASE_OUTCOME_ATTRIBUTES, VARIABLES


def check_text(path: str, source: str, errors: ErrorCollector, phase_keys: Collection[str] = ()) -> None:
    try:
        ast = parse_text(source)
    except TemplateSyntaxError as exc:
        errors.add(path, f"template syntax error at line {exc.lineno}: {exc.message}")
        return
    _check_names(path, ast, errors, phase_keys)
    _check_safety(path, ast, errors)


def check_condition(path: str, source: str, errors: ErrorCollector, phase_keys: Collection[str]) -> None:
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
trial_deadline: ContextVar[float] = ContextVar("trial_deadline", default=float("inf"))


class _OutOfTime(Exception):
    pass


def _try(expression: nodes.Expr, *, length: bool = False) -> str:
    """Render one variable-free expression (or its length) within the render bounds; raises `RenderError`."""
    if time.monotonic() > trial_deadline.get():
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
    if len(errors.errors) == before and closed and time.monotonic() <= trial_deadline.get():
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
