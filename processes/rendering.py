"""Rendering user-authored text: Jinja2's sandbox, strict undefined, and bounds.

Jinja2's `SandboxedEnvironment` blocks attribute escapes but not resource bombs
(`'a' * 10**9`, `9**9**9`, `center(10**9)`, nested loops). Every render here is
bounded in operand size, output size and wall time; exceeding a bound is a
`RenderError`, never an exhausted worker.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from processes.errors import RenderError

MAX_OUTPUT_CHARS = 200_000
MAX_SEQUENCE_LEN = 100_000
MAX_INT_ARGUMENT = 10_000
MAX_POWER_EXPONENT = 64
RENDER_SECONDS = 1.0
TEMPLATE_FILENAME = "<stagecoach-template>"

_BIG_FORMAT_WIDTH = re.compile(r"\d{6,}|\*")


class _Budget:
    """The wall-time budget of the render running in this thread."""

    deadline: float = float("inf")


def _check_size(value: Any) -> Any:
    if isinstance(value, (str, bytes, list, tuple)) and len(value) > MAX_SEQUENCE_LEN:
        raise SecurityError(f"value too large ({len(value)} items; the limit is {MAX_SEQUENCE_LEN})")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        raise SecurityError("number too large")
    return value


def _check_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_ARGUMENT:
            raise SecurityError(f"argument {value} is too large (the limit is {MAX_INT_ARGUMENT})")


def _check_format_string(value: Any) -> None:
    if isinstance(value, str) and _BIG_FORMAT_WIDTH.search(value.replace("%%", "")) and (
        "%" in value or "{" in value
    ):
        raise SecurityError("format widths of 100000 or more, and '*' widths, are not allowed")


def _bounded_filter(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args[1:], kwargs)
        if name == "format" and args:
            _check_format_string(args[0])
        return _check_size(fn(*args, **kwargs))

    return wrapper


class BoundedSandbox(SandboxedEnvironment):
    """A sandbox whose operators, calls and filters cannot allocate without bound."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.filters = {name: _bounded_filter(fn, name) for name, fn in self.filters.items()}

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:  # noqa: D102
        if op == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_POWER_EXPONENT:
                raise SecurityError(f"exponent {right} is too large (the limit is {MAX_POWER_EXPONENT})")
            return _check_size(operator.pow(_check_size(left), right))
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, int):
                    if len(seq) * max(times, 0) > MAX_SEQUENCE_LEN:
                        raise SecurityError(f"repeating a value {times} times makes it too large")
            return _check_size(operator.mul(left, right))
        if op == "%":
            _check_format_string(left)
            return _check_size(operator.mod(left, right))
        if op == "+":
            return _check_size(operator.add(left, right))
        return _check_size(super().call_binop(context, op, left, right))

    def getattr(self, obj: Any, attribute: str) -> Any:  # noqa: D102
        if isinstance(obj, str) and attribute in ("format", "format_map"):
            _check_format_string(obj)
        return super().getattr(obj, attribute)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_arguments(args, kwargs)
        return _check_size(super().call(__context, __obj, *args, **kwargs))


_env = BoundedSandbox()


@functools.lru_cache(maxsize=2048)
def compile_text(source: str) -> Any:
    """Compile user text once; raises `TemplateSyntaxError`."""
    return _env.from_string(source)


@functools.lru_cache(maxsize=2048)
def compile_condition(source: str) -> Any:
    """Compile a condition (a Jinja2 expression); raises `TemplateSyntaxError`."""
    return _env.compile_expression(source, undefined_to_none=False)


def parse_text(source: str) -> nodes.Template:
    """The AST of user text, for validation; raises `TemplateSyntaxError`."""
    return _env.parse(source, filename=TEMPLATE_FILENAME)


def _tracer(frame: Any, event: str, arg: Any) -> Any:
    if frame.f_code.co_filename == TEMPLATE_FILENAME or frame.f_code.co_filename == "<template>":
        return _line_tracer
    return None


def _line_tracer(frame: Any, event: str, arg: Any) -> Any:
    if time.monotonic() > _Budget.deadline:
        raise SecurityError(f"rendering took longer than {RENDER_SECONDS:g}s")
    return _line_tracer


@contextlib.contextmanager
def _bounded(where: str) -> Iterator[None]:
    """Run user code within the time budget; every failure becomes a `RenderError` naming `where`."""
    prefix = f"{where}: " if where else ""
    previous = sys.gettrace()
    _Budget.deadline = time.monotonic() + RENDER_SECONDS
    sys.settrace(_tracer)
    try:
        yield
    except UndefinedError as exc:
        raise RenderError(f"{prefix}{exc.message}") from None
    except SecurityError as exc:
        raise RenderError(f"{prefix}refused: {exc}") from None
    except RenderError:
        raise
    except Exception as exc:  # a user's expression failing (1/0, bad filter argument)
        raise RenderError(f"{prefix}{type(exc).__name__}: {exc}") from None
    finally:
        sys.settrace(previous)
        _Budget.deadline = float("inf")


def render_text(source: str, context: Mapping[str, Any], *, where: str = "") -> str:
    """Render user text within bounds. Every failure is a `RenderError` naming `where`."""
    try:
        template = compile_text(source)
    except TemplateSyntaxError as exc:
        raise RenderError(f"{where}: template syntax error at line {exc.lineno}: {exc.message}") from None
    chunks: list[str] = []
    size = 0
    with _bounded(where):
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise SecurityError(f"output longer than {MAX_OUTPUT_CHARS} characters")
            chunks.append(chunk)
    return "".join(chunks)


def evaluate_condition(source: str, context: Mapping[str, Any], *, where: str = "") -> bool:
    """Evaluate a condition within the same bounds as text; its truth value."""
    try:
        expression = compile_condition(source)
    except TemplateSyntaxError as exc:
        raise RenderError(f"{where}: condition syntax error: {exc.message}") from None
    with _bounded(where):
        return bool(_check_size(expression(**context)))
