"""Jinja2's immutable sandbox, bounded: no operator, call or filter may allocate without bound.

Jinja2's `ImmutableSandboxedEnvironment` blocks attribute escapes and the methods that change
a list, dict or set (`append`, `extend`, `update`, `pop`, `clear`...), but not resource bombs
(`'a' * 10**9`, `9**9**9`, `center(10**9)`). Every operand and result here is checked against
a size bound before it is allocated, where that can be known, and right after otherwise;
exceeding one is a `SecurityError` that the renderer turns into a refusal.
"""

from __future__ import annotations

import functools
import operator
import re
import string
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Undefined, nodes, pass_environment
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from processes import formatting
from processes.display import StrictShown, shown

MAX_OUTPUT_CHARS = 200_000
MAX_SEQUENCE_LEN = 100_000
MAX_INT_ARGUMENT = 10_000
MAX_POWER_EXPONENT = 64

# Callables whose int arguments size their result (by __name__, for filters, methods and globals).
SIZED_BY_INT = frozenset({"center", "ljust", "rjust", "zfill", "range", "safe_range", "lipsum", "indent", "wordwrap",
                          "truncate", "batch", "slice"})
# str methods user text may call; the others (expandtabs, translate, encode...) are refused.
STR_METHODS = frozenset({
    "upper", "lower", "title", "capitalize", "casefold", "swapcase", "strip", "lstrip", "rstrip", "removeprefix",
    "removesuffix", "startswith", "endswith", "split", "rsplit", "splitlines", "partition", "rpartition", "find",
    "rfind", "index", "rindex", "count", "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper",
    "isdecimal", "isnumeric", "format", "replace", "join", "center", "ljust", "rjust", "zfill",
})
# the methods that change a list, dict or set in place: the immutable sandbox refuses them when they run,
# and validation when a text that calls one is saved
MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",  # list
    "update", "setdefault", "popitem",  # dict
    "add", "discard", "difference_update", "intersection_update", "symmetric_difference_update",  # set
})
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[diouxXeEfFgGcrsa%]")


def _weight(value: Any, memo: dict[int, int] | None = None) -> int:
    """About how many characters a value stands for when printed or joined (shared items count each time)."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if not isinstance(value, (list, tuple, dict)):
        return 1
    memo = {} if memo is None else memo
    if id(value) not in memo:
        memo[id(value)] = 0  # a cycle counts once
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        memo[id(value)] = len(value) + sum(_weight(item, memo) for item in items)
    return memo[id(value)]


def _check_size(value: Any) -> Any:
    if isinstance(value, (str, bytes, list, tuple, dict)) and (weight := _weight(value)) > MAX_SEQUENCE_LEN:
        raise SecurityError(f"value too large ({weight} characters; the limit is {MAX_SEQUENCE_LEN})")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        raise SecurityError("number too large")
    return value


def _check_arguments(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        if name in SIZED_BY_INT and isinstance(value, int) and not isinstance(value, bool) \
                and abs(value) > MAX_INT_ARGUMENT:
            raise SecurityError(f"argument {value} is too large (the limit is {MAX_INT_ARGUMENT})")
        if name in SIZED_BY_INT and isinstance(value, str) and len(value) > 1_000:
            raise SecurityError(f"a text argument of {name} is too long (the limit is 1000)")


def _check_growth(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse replace and join whose result would be too large, before they allocate it."""
    size = None
    if name == "replace" and isinstance(value, str) and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        size = len(value) + (value.count(old) if old else len(value) + 1) * len(new)
    elif name == "join" and isinstance(value, (list, tuple)):
        separator = str(args[0] if args else kwargs.get("d", ""))
        size = _weight(value) + len(separator) * len(value)
    elif name == "indent" and isinstance(value, str):  # the width is repeated on every line
        width = args[0] if args else kwargs.get("width", 4)
        width = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        size = len(value) + max(width, 0) * (value.count("\n") + 1)
    if size is not None and size > MAX_SEQUENCE_LEN:
        raise SecurityError(f"{name} would make a value of {size} characters (the limit is {MAX_SEQUENCE_LEN})")


def _format_widths(fmt: str) -> int | None:
    """The total width and precision a format string asks for; None if an argument gives one ('*', nested {})."""
    total = 0
    for match in _PERCENT_SPEC.finditer(fmt):
        for group in match.groups():
            if group == "*":
                return None
            total += int(group or 0)
    try:
        for _, _, spec, _ in string.Formatter().parse(fmt):
            if spec and "{" in spec:
                return None
            total += sum(int(n) for n in re.findall(r"\d+", spec or ""))
    except ValueError:
        pass  # not a str.format string
    return total


def _check_format_string(value: Any) -> None:
    if not isinstance(value, str):
        return
    total = _format_widths(value)
    if total is None:
        raise SecurityError("format widths given by an argument ('*' or a nested {}) are not allowed")
    if total > MAX_SEQUENCE_LEN:
        raise SecurityError(f"format widths adding up to {total} are too large (the limit is {MAX_SEQUENCE_LEN})")


def _bounded_filter(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    skip = 1 if getattr(fn, "jinja_pass_arg", None) else 0  # environment / eval context / context

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value, rest = (args[skip] if len(args) > skip else None), args[skip + 1:]
        if name == "join" and not isinstance(value, (str, list, tuple, dict)):
            value = list(value)  # a generator: measure it before joining
            args = (*args[:skip], value, *rest)
        _check_size(value)
        _check_arguments(name, rest, kwargs)
        _check_growth(name, value, rest, kwargs)
        if name == "format":
            _check_format_string(value)
        return _check_size(fn(*args, **kwargs))

    return wrapper


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Any) -> None:  # noqa: D102
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


@pass_environment
def _attr(environment: Any, value: Any, name: Any) -> Any:
    """`x|attr('name')` reads as `x.name` does: an attribute, else a key. Jinja's own reads attributes only, and the
    record, a person, a phase, free fields and answers are given to a text as mappings: it was never defined."""
    return environment.getattr(value, str(name))


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """A sandbox whose operators, calls and filters cannot allocate without bound."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, undefined: type[Undefined] = StrictShown) -> None:
        super().__init__(undefined=undefined, autoescape=False, keep_trailing_newline=True, finalize=shown)
        self.filters.update(formatting.FILTERS)
        self.filters["attr"] = _attr
        self.filters = {name: _bounded_filter(fn, name) for name, fn in self.filters.items()}
        del self.globals["lipsum"]  # pure-Python and slow: it overruns the time budget unchecked

    def bounded_concat(self, parts: tuple[Any, ...]) -> str:
        """`a ~ b`, refused before joining when the result would be too large."""
        texts = [str(shown(_check_size(part))) for part in parts]
        if (size := sum(map(len, texts))) > MAX_SEQUENCE_LEN:
            raise SecurityError(f"'~' would make a value of {size} characters (the limit is {MAX_SEQUENCE_LEN})")
        return "".join(texts)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:  # noqa: D102
        # refused outright, also where missing values are allowed (conditions): never a silent false
        if attribute in MUTATING_METHODS and isinstance(obj, (list, dict, set)):
            raise SecurityError(f"'.{attribute}()' would change a value, and text cannot change values")
        kind = next((name for cls, name in ((dict, "dict"), (list, "list")) if isinstance(obj, cls)),
                    type(obj).__name__)
        raise SecurityError(f"access to attribute '{attribute}' of '{kind}' object is unsafe.")

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:  # noqa: D102
        if isinstance(obj, str) and callable(value) and attr not in STR_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:  # noqa: D102
        if op == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_POWER_EXPONENT:
                raise SecurityError(f"exponent {right} is too large (the limit is {MAX_POWER_EXPONENT})")
            return _check_size(operator.pow(_check_size(left), right))
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, bytes, list, tuple)) and isinstance(times, int):
                    if _weight(seq) * max(times, 0) > MAX_SEQUENCE_LEN:
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
        name = getattr(__obj, "__name__", "")
        _check_arguments(name, args, kwargs)
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str) and name == "replace":
            _check_growth(name, owner, args, kwargs)
        if isinstance(owner, str) and name == "join" and args:
            items = args[0] if isinstance(args[0], (list, tuple)) else list(args[0])
            _check_growth(name, items, (owner,), {})
            args = (items, *args[1:])
        return _check_size(super().call(__context, __obj, *args, **kwargs))


check_size = _check_size


@functools.cache
def text_methods(*, refused: bool) -> frozenset[str]:
    """The methods of a text (`str`) that `BoundedSandbox` refuses to read (`expandtabs`, `encode`...), or those it
    gives: asked of the sandbox itself, name by name, so that what a save refuses is what a render would."""
    sandbox = BoundedSandbox()

    def refuses(name: str) -> bool:
        try:
            sandbox.getattr("", name)
        except SecurityError:
            return True
        return False

    # names starting with `_` are refused on their own (processes.text_safety)
    return frozenset(name for name in dir("") if not name.startswith("_") and refuses(name) is refused)
