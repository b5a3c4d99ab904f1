"""Checking one piece of user text (or one condition) when a template is saved, every error with its path.

A text must parse within the nesting bound and compile, use only known variables, attributes,
filters and tests, name locales and currencies Babel knows, call no method of a text that the
render sandbox refuses, do nothing `text_safety` refuses, and have no constant part that breaks a
render bound (`trials`).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from babel import numbers as babel_numbers
from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.utils import Cycler, Joiner, Namespace

from processes import formatting
from processes.errors import ErrorCollector, did_you_mean
from processes.nesting import TooDeep
from processes.rendering import FILTER_NAMES, TEST_NAMES, compile_ast, compile_condition, parse_text
from processes.sandbox import text_methods
from processes.text_safety import attribute_name, check_macros, check_mutations, check_private
from processes.trials import check_constants
from processes.variables import DATE, DATE_ATTRIBUTES, FREE, PHASE_OUTCOME_ATTRIBUTES, PHASES, VALUE, VARIABLES


def check_text(path: str, source: str, errors: ErrorCollector, phase_keys: Collection[str] = ()) -> None:
    try:
        ast = parse_text(source)
    except TemplateSyntaxError as exc:
        errors.add(path, f"template syntax error at line {exc.lineno}: {exc.message}")
        return
    except TooDeep as exc:
        errors.add(path, exc.message)
        return
    before = len(errors.errors)
    _check_ast(path, ast, errors, phase_keys)
    if len(errors.errors) == before:
        try:
            compile_ast(ast)  # Python's own limits on nesting: what saves, compiles when it runs
        except TooDeep as exc:
            errors.add(path, exc.message)
        except TemplateSyntaxError as exc:
            errors.add(path, f"template syntax error at line {exc.lineno}: {exc.message}")


def check_condition(path: str, source: str, errors: ErrorCollector, phase_keys: Collection[str]) -> None:
    try:
        compile_condition(source)
        ast = parse_text("{{ " + source + " }}")
    except TemplateSyntaxError as exc:
        errors.add(path, f"condition syntax error: {exc.message}")
        return
    except TooDeep as exc:
        errors.add(path, exc.message)
        return
    _check_ast(path, ast, errors, phase_keys)


def _check_ast(path: str, ast: nodes.Template, errors: ErrorCollector, phase_keys: Collection[str]) -> None:
    _check_names(path, ast, errors, phase_keys)
    before = len(errors.errors)
    _check_filter_arguments(path, ast, errors)
    check_private(path, ast, errors)
    _check_text_methods(path, ast, errors)
    check_mutations(path, ast, errors)
    check_macros(path, ast, errors)
    if len(errors.errors) == before:
        check_constants(path, ast, errors)


# the other kinds of value a text holds: a method one of them has too is not refused on sight
_NOT_TEXTS = (0, 0.0, [], (), {}, datetime(2000, 1, 1), range(0), Namespace(), Cycler(0), Joiner())


def _check_text_methods(path: str, ast: nodes.Template, errors: ErrorCollector) -> None:
    """Refuse the methods of a text the render sandbox refuses (`.expandtabs()`, `.encode()`, `.translate()`):
    called on any value (only a text has them), or read from one that is a text as written (`'a'.translate`, `a ~ b`).
    Saved, such a text would be an incident each time it renders."""
    refused = text_methods(refused=True) - {name for value in _NOT_TEXTS for name in dir(value)}
    called = {id(call.node) for call in ast.find_all(nodes.Call)}
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        name = attribute_name(node)
        if name in refused and (id(node) in called or isinstance(node.node, nodes.Concat) or (
                isinstance(node.node, nodes.Const) and isinstance(node.node.value, str))):
            errors.add(path, f"line {node.lineno}: '.{name}{'()' if id(node) in called else ''}' is not allowed on "
                             f"a text (every render would refuse it); a text may call "
                             f"{', '.join(sorted(text_methods(refused=False)))}")


def _chain(node: nodes.Node) -> list[str] | None:
    """`record.owner.name` (or `record|attr('owner')|attr('name')`) -> ['record', 'owner', 'name']; None when a step
    is computed or not a variable."""
    steps: list[str] = []
    current: nodes.Node = node
    while isinstance(current, (nodes.Getattr, nodes.Getitem)) or _attr_step(current) is not None:
        name = attribute_name(current) if isinstance(current, (nodes.Getattr, nodes.Getitem)) else _attr_step(current)
        if name is None:
            return None
        steps.append(name)
        current = current.node
    if not isinstance(current, nodes.Name):
        return None
    return [current.name, *reversed(steps)]


def _unknown_step(chain: list[str], phase_keys: Collection[str]) -> str | None:
    """The error for the last step of `chain` when that step is the first unknown one, else None."""
    shape = VARIABLES[chain[0]]
    for i, step in enumerate(chain[1:], start=1):
        last = i == len(chain) - 1
        if shape == PHASES:
            if step not in phase_keys:
                return f"unknown phase 'phases.{step}'{did_you_mean(step, phase_keys)}" if last else None
            shape = {name: VALUE for name in PHASE_OUTCOME_ATTRIBUTES}
            if i + 1 < len(chain) and chain[i + 1] not in PHASE_OUTCOME_ATTRIBUTES:
                if i + 1 == len(chain) - 1:
                    bad = chain[i + 1]
                    return (f"unknown attribute '{bad}' of a phase{did_you_mean(bad, PHASE_OUTCOME_ATTRIBUTES)}; "
                            f"phases have {', '.join(sorted(PHASE_OUTCOME_ATTRIBUTES))}")
                return None
            continue
        if shape in (FREE, VALUE):
            return None  # free fields, or a text's own methods (`.upper()`)
        allowed = DATE_ATTRIBUTES if shape == DATE else frozenset(shape)
        if step not in allowed:
            if not last:
                return None
            hint = (f"; a date has {', '.join(sorted(allowed))} (or format it with | date, | time, | datetime)"
                    if shape == DATE else "")
            return f"unknown attribute '{'.'.join(chain[:i + 1])}'{did_you_mean(step, allowed)}{hint}"
        shape = VALUE if shape == DATE else shape[step]  # type: ignore[index]
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
    # `record.titel`, and `record|attr('titel')` as it (`attr` reads as `.` does, `processes/sandbox.py`)
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        chain = _chain(node) if not isinstance(node, nodes.Filter) or _attr_step(node) is not None else None
        if chain is not None and chain[0] in VARIABLES and chain[0] in undeclared \
                and (message := _unknown_step(chain, phase_keys)):
            errors.add(path, message)


def _attr_step(node: nodes.Node) -> str | None:
    """The name `x|attr('name')` reads (as `.` reads it), or None for any other node."""
    if isinstance(node, nodes.Filter) and node.name == "attr" and node.node is not None and len(node.args) == 1 \
            and isinstance(node.args[0], nodes.Const) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _check_filter_arguments(path: str, ast: nodes.Template, errors: ErrorCollector) -> None:
    """The constant locales, currencies and digits given to the formatting filters, checked when saved."""
    for node in ast.find_all(nodes.Filter):
        names = formatting.FILTER_ARGUMENTS.get(node.name)
        if names is None:
            continue
        given = {**dict(zip(names, node.args)), **{kw.key: kw.value for kw in node.kwargs}}
        for name, value in given.items():
            if not isinstance(value, nodes.Const):
                continue
            where = f"line {node.lineno}: {node.name}"
            if name not in names:
                errors.add(path, f"{where}: unknown argument '{name}'{did_you_mean(name, names)}")
            elif name == "locale" and isinstance(value.value, str):
                try:
                    formatting.parse_locale(value.value)
                except ValueError as exc:
                    errors.add(path, f"{where}: {exc}")
            elif name == "currency" and not (isinstance(value.value, str)
                                             and babel_numbers.is_currency(value.value.upper())):
                errors.add(path, f"{where}: unknown currency {value.value!r} (use a code such as EUR, CHF, USD)")
            elif name == "digits" and not (isinstance(value.value, int) and not isinstance(value.value, bool)
                                           and 0 <= value.value <= formatting.MAX_DIGITS):
                errors.add(path, f"{where}: digits must be a whole number from 0 to {formatting.MAX_DIGITS}")
