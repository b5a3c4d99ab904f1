"""Trying the parts of user text that read no variable, when a template is saved.

`'a' * 10**9`, `9**9**9`, `'x'|center(10**9)`, `range(10**9)|list` and nested loops over
constant ranges render the same whatever the record: they are rendered (within the same
bounds as at run time) when the template is saved, and refused with their line. One save
tries them for `TRIAL_SECONDS` at most: the texts left untried are noted (`noting_untried`),
and the answer says so (`untried_note`); they are still bounded when they render.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
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


# the time one save may spend trying constant parts; past it, the rest are left to run time (still bounded),
# and the paths of the texts left are noted in `untried_texts`, when a caller collects them
TRIAL_SECONDS = 2.0
trial_deadline: ContextVar[float] = ContextVar("trial_deadline", default=float("inf"))
untried_texts: ContextVar[list[str] | None] = ContextVar("untried_texts", default=None)
NOTED_PATHS = 10  # the untried texts a note names; it counts the others


@contextmanager
def noting_untried() -> Iterator[list[str]]:
    """The paths of the texts whose constant parts a save in this block had no time left to try, in order."""
    untried: list[str] = []
    token = untried_texts.set(untried)
    try:
        yield untried
    finally:
        untried_texts.reset(token)


def untried_note(untried: list[str]) -> list[str]:
    """What the answer to a save says of the texts it did not try: nothing when it tried them all."""
    if not untried:
        return []
    named = ", ".join(untried[:NOTED_PATHS]) + (f" and {len(untried) - NOTED_PATHS} more"
                                                 if len(untried) > NOTED_PATHS else "")
    texts = "1 text was" if len(untried) == 1 else f"{len(untried)} texts were"
    return [f"{texts} not tried when saved (the {TRIAL_SECONDS:g} s a save has to try texts ran out): {named}; "
            "they are checked when they render, and a part that reads no variable and breaks a bound is then an "
            "incident of the process (to have them tried, validate them in a template of their own)"]


def _untried(path: str) -> None:
    untried = untried_texts.get()
    if untried is not None and (not untried or untried[-1] != path):
        untried.append(path)


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
                _untried(path)
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
                except _OutOfTime:
                    _untried(path)
                except (RenderError, ValueError):
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
    if len(errors.errors) == before and closed:
        if time.monotonic() > trial_deadline.get():
            _untried(path)
            return
        try:
            render_ast(ast)
        except RenderError as exc:
            if "refused: " in exc.message:
                errors.add(path, exc.message)
