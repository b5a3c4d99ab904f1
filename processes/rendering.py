"""Rendering user-authored text: the bounded immutable sandbox, strict undefined, and a time budget.

Every render is bounded in operand size and output size (`processes.sandbox`), in nesting
(`processes.nesting`, checked before Jinja2's recursive parser and compiler see the text), and
in time: a tracer stops the render's own code past `RENDER_SECONDS`. Exceeding a bound is a
`RenderError`, never an exhausted process. Memory and a hard wall-clock kill are bounded by
the process the render runs in (`renderer/`): these functions run in its child processes.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.sandbox import SecurityError

from processes.display import LenientShown, Office, office_variables, set_office
from processes.errors import RenderError
from processes.nesting import TooDeep, check_ast_depth, check_tokens
from processes.sandbox import MAX_OUTPUT_CHARS, BoundedSandbox, check_size
from processes.variables import VARIABLES

RENDER_SECONDS = 1.0
TEMPLATE_FILENAME = "<stagecoach-template>"

_env = BoundedSandbox()
# Conditions compare with what may not be there yet (an answer not given): a missing value is
# undefined, equal to nothing and false, while ordering or arithmetic on it is still an error.
_condition_env = BoundedSandbox(undefined=LenientShown)
FILTER_NAMES = frozenset(_env.filters)
TEST_NAMES = frozenset(_env.tests)


def parse_text(source: str) -> nodes.Template:
    """The AST of user text; raises `TemplateSyntaxError`, or `TooDeep` past the nesting bound."""
    check_tokens(_env, source)
    try:
        ast = _env.parse(source, filename=TEMPLATE_FILENAME)
    except RecursionError:  # the token check keeps well below this; kept as a last resort
        raise TooDeep(1) from None
    check_ast_depth(ast)
    return ast


def _compiled(env: BoundedSandbox, ast: nodes.Template) -> Any:
    try:
        return env.from_string(ast)
    except (RecursionError, SyntaxError, MemoryError) as exc:  # Python's own limits on nesting
        if isinstance(exc, TemplateSyntaxError):
            raise
        raise TooDeep(getattr(exc, "lineno", None) or 1) from None


@functools.lru_cache(maxsize=2048)
def compile_text(source: str) -> Any:
    """Compile user text once; raises `TemplateSyntaxError` or `TooDeep`."""
    return _compiled(_env, parse_text(source))


def compile_ast(ast: nodes.Template) -> Any:
    """Compile a parsed text (validation compiles every text it accepts); raises `TooDeep`."""
    return _compiled(_env, ast)


@functools.lru_cache(maxsize=2048)
def compile_condition(source: str) -> Any:
    """Compile a condition (a Jinja2 expression); raises `TemplateSyntaxError` or `TooDeep`."""
    check_tokens(_env, "{{ " + source + " }}")
    try:
        check_ast_depth(_env.parse("{{ " + source + " }}"))  # before compiling: a deep tree compiles for seconds
    except TemplateSyntaxError:
        pass  # compiling it says what is wrong, as a condition
    try:
        expression = _condition_env.compile_expression(source, undefined_to_none=False)
    except (RecursionError, MemoryError):
        raise TooDeep(1) from None
    except SyntaxError as exc:
        if isinstance(exc, TemplateSyntaxError):
            raise
        raise TooDeep(exc.lineno or 1) from None
    return expression


@functools.lru_cache(maxsize=2048)
def variables_used(source: str) -> frozenset[str]:
    """The top-level variables user text refers to (`record`, `owner`...); all of them if it does not parse."""
    try:
        return frozenset(meta.find_undeclared_variables(parse_text(source)))
    except (TemplateSyntaxError, TooDeep):
        return frozenset(VARIABLES)


# nodes that bind names of their own (a loop variable, `set`, a macro's arguments...): a text with any of them
# may reach a variable through another name, so `attributes_used` does not tell which parts of it are used
_BINDING = (nodes.For, nodes.Assign, nodes.AssignBlock, nodes.Macro, nodes.CallBlock, nodes.FilterBlock, nodes.With,
            nodes.Scope, nodes.OverlayScope, nodes.Import, nodes.FromImport)


@functools.lru_cache(maxsize=2048)
def attributes_used(source: str) -> dict[str, frozenset[str] | None]:
    """For each top-level variable the text uses, the attributes it reads of it (`record.id`: `{"id"}`), or None
    when it uses the variable otherwise (whole, by item, through a filter or a name of its own): a step loads
    from the database only what the text reads (`activities.step.render_variables`)."""
    used = variables_used(source)
    try:
        ast = parse_text(source)
    except (TemplateSyntaxError, TooDeep):
        return dict.fromkeys(used)
    if any(True for _ in ast.find_all(_BINDING)):
        return dict.fromkeys(used)
    attributes: dict[str, set[str]] = {}
    reached: set[int] = set()  # the Name nodes read through an attribute
    for node in ast.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name in used:
            attributes.setdefault(node.node.name, set()).add(node.attr)
            reached.add(id(node.node))
    whole = {node.name for node in ast.find_all(nodes.Name) if id(node) not in reached}
    return {name: None if name in whole or name not in attributes else frozenset(attributes[name]) for name in used}


class Memory:
    """What the process rendering allows a render (set by `renderer.child`), and whether a render ran out."""

    limit_mb: int | None = None
    ran_out = False


class OutOfTrial(Exception):
    """A render given a trial shorter than its budget (`seconds=`) used it up: it is not refused, but should be
    rendered again with its whole budget, where a slow text waits for no one (`renderer.pool`)."""


class _Budget(threading.local):
    """The time budget of the render running in this thread: `RENDER_SECONDS` of its own processor time (or a
    shorter trial). The wall clock is read on every line (cheap); only once it passes the deadline is the
    thread's processor time read, and a render that was merely waiting for a busy processor gets the rest of
    its budget."""

    deadline: float = float("inf")
    cpu_start: float = 0.0
    seconds: float = RENDER_SECONDS
    collecting: float | None = None  # the thread's processor time when the running garbage collection began


_budget = _Budget()


def _collection(phase: str, info: dict[str, int]) -> None:
    """A garbage collection during a render is not counted against it: it walks the whole process's heap (seconds
    of processor time in a large process), whatever the render allocated. What a render allocates it paid for."""
    if _budget.deadline == float("inf"):
        return
    if phase == "start":
        _budget.collecting = time.thread_time()
    elif _budget.collecting is not None:  # (None: its start went unrecorded, out of memory)
        _budget.cpu_start += time.thread_time() - _budget.collecting
        _budget.collecting = None


gc.callbacks.append(_collection)


def _tracer(frame: Any, event: str, arg: Any) -> Any:
    if frame.f_code.co_filename in (TEMPLATE_FILENAME, "<template>"):
        return _line_tracer
    return None


def _line_tracer(frame: Any, event: str, arg: Any) -> Any:
    if time.monotonic() > _budget.deadline:
        used = time.thread_time() - _budget.cpu_start
        if used > _budget.seconds:
            if _budget.seconds < RENDER_SECONDS:
                raise OutOfTrial
            raise SecurityError(f"rendering took longer than {RENDER_SECONDS:g}s")
        _budget.deadline = time.monotonic() + _budget.seconds - used
    return _line_tracer


@contextlib.contextmanager
def _bounded(where: str, office: Office | None, seconds: float | None = None) -> Iterator[None]:
    """Run user code within the time budget (or a shorter trial of `seconds`: `OutOfTrial` past it); every
    failure becomes a `RenderError` naming `where`.

    A `MemoryError` (the process's address space is capped) is a refusal too, and `Memory.ran_out` tells the
    process its heap may have grown: `renderer.child` answers, then exits."""
    prefix = f"{where}: " if where else ""
    previous, previous_office = sys.gettrace(), set_office(office or Office())
    _budget.seconds = min(seconds or RENDER_SECONDS, RENDER_SECONDS)
    _budget.deadline, _budget.cpu_start = time.monotonic() + _budget.seconds, time.thread_time()
    sys.settrace(_tracer)
    try:
        yield
    except UndefinedError as exc:
        raise RenderError(f"{prefix}{exc.message}") from None
    except SecurityError as exc:
        raise RenderError(f"{prefix}refused: {exc}") from None
    except RecursionError:
        raise RenderError(f"{prefix}refused: calls nested too deeply (a macro that calls itself?)") from None
    except MemoryError:
        Memory.ran_out = True
        limit = f"more than {Memory.limit_mb} MB of memory" if Memory.limit_mb else "more memory than it may use"
        raise RenderError(f"{prefix}refused: the render needed {limit}") from None
    except (RenderError, OutOfTrial):
        raise
    except Exception as exc:  # a user's expression failing (1/0, bad filter argument)
        raise RenderError(f"{prefix}{type(exc).__name__}: {exc}") from None
    finally:
        sys.settrace(previous)
        set_office(previous_office)
        _budget.deadline = float("inf")


def _syntax(where: str, what: str, exc: TemplateSyntaxError | TooDeep) -> RenderError:
    prefix = f"{where}: " if where else ""
    if isinstance(exc, TooDeep):
        return RenderError(f"{prefix}{exc.message}")
    return RenderError(f"{prefix}{what} syntax error at line {exc.lineno}: {exc.message}")


def render_text(source: str, variables: Mapping[str, Any], *, where: str = "", office: Office | None = None,
                seconds: float | None = None) -> str:
    """Render user text within bounds, values shown as the office writes them. Failures are `RenderError`s;
    with `seconds` (a trial shorter than the budget), `OutOfTrial` once they are used up."""
    if "{" not in source and len(source) <= MAX_OUTPUT_CHARS:
        # no Jinja2 syntax (every delimiter starts with "{"): the text is its own rendering, newlines as Jinja2
        # writes them
        return source.replace("\r\n", "\n").replace("\r", "\n")
    try:
        template = compile_text(source)
    except (TemplateSyntaxError, TooDeep) as exc:
        raise _syntax(where, "template", exc) from None
    return _render(template, variables, where, office, seconds)


def render_ast(ast: nodes.Template, variables: Mapping[str, Any] | None = None, *, where: str = "") -> str:
    """Render a parsed template (validation dry-runs the parts of user text that use no variables) within bounds."""
    try:
        template = compile_ast(ast)
    except (TemplateSyntaxError, TooDeep) as exc:
        raise _syntax(where, "template", exc) from None
    return _render(template, variables or {}, where, None)


def _render(template: Any, variables: Mapping[str, Any], where: str, office: Office | None,
            seconds: float | None = None) -> str:
    chunks: list[str] = []
    size = 0
    with _bounded(where, office, seconds):
        context = office_variables(variables, office or Office())
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise SecurityError(f"output longer than {MAX_OUTPUT_CHARS} characters")
            chunks.append(chunk)
    return "".join(chunks)


def evaluate_condition(source: str, variables: Mapping[str, Any], *, where: str = "",
                       office: Office | None = None, seconds: float | None = None) -> bool:
    """Evaluate a condition within the same bounds as text (and trial: `seconds`); its truth value."""
    try:
        expression = compile_condition(source)
    except (TemplateSyntaxError, TooDeep) as exc:
        raise _syntax(where, "condition", exc) from None
    with _bounded(where, office, seconds):
        return bool(check_size(expression(**office_variables(variables, office or Office()))))
