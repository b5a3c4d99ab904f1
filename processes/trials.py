"""Trying the parts of user text that read no variable, when a template is saved.

`'a' * 10**9`, `9**9**9`, `'x'|center(10**9)`, `range(10**9)|list` and nested loops over
constant ranges render the same whatever the record: they are rendered (within the same
bounds as at run time) when the template is saved, and refused with their line.
"""

from __future__ import annotations

import time
from contextvars import ContextVar

from jinja2 import TemplateSyntaxError, meta, nodes

from processes.errors import ErrorCollector, RenderError
from processes.rendering import FILTER_NAMES, TEST_NAMES, render_ast
from processes.sandbox import MAX_SEQUENCE_LEN

CONSTANT_GLOBALS = frozenset({"range", "dict", "namespace", "cycler", "joiner"})
MAX_LOOP_ITERATIONS = MAX_SEQUENCE_LEN
# expression nodes that cannot be rendered on their own, or that read nothing
_NOT_EVALUATED = (nodes.Name, nodes.Const, nodes.TemplateData, nodes.Slice, nodes.NSRef, nodes.InternalName,
                  nodes.ContextReference, nodes.DerivedContextReference, nodes.ExtensionAttribute,
                  nodes.ImportedName, nodes.EnvironmentAttribute, nodes.MarkSafe, nodes.MarkSafeIfAutoescape)


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


def check_constants(path: str, ast: nodes.Template, errors: ErrorCollector) -> None:
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
