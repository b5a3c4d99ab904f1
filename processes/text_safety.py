"""What user text may not do, refused when a template is saved, each with its line.

Attributes starting with `_` (the way out of every sandbox), loading other templates, calls
to methods that change a value in place (`l.extend(l)` doubles a list each time round a loop;
`record.fields.clear()` in a subject would empty the fields the body sees), and macros that
call themselves (directly or through other macros), which can only end at the recursion limit.
"""

from __future__ import annotations

import _string  # type: ignore[import-not-found]
import string
from collections.abc import Iterator

from jinja2 import nodes

from processes.errors import ErrorCollector
from processes.sandbox import MUTATING_METHODS

# filters whose string arguments name attributes (`attr('x')`, `map(attribute='x.y')`)
ATTRIBUTE_FILTERS = frozenset({"attr", "map", "sort", "groupby", "selectattr", "rejectattr", "sum", "unique",
                               "min", "max"})


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
    return (isinstance(target, (nodes.Getattr, nodes.Getitem)) and attribute_name(target) == "fields"
            and isinstance(target.node, nodes.Name) and target.node.name in ("record", "contact"))


def _postorder(node: nodes.Node) -> Iterator[nodes.Node]:
    for child in node.iter_child_nodes():
        yield from _postorder(child)
    yield node


def check_private(path: str, ast: nodes.Template, errors: ErrorCollector) -> None:
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
        attribute = attribute_name(node)
        if attribute is not None and attribute.startswith("_") \
                and ("__" in attribute or not _free_form(node.node)):  # a free field may be called '_id'
            refuse(node, attribute)
        elif attribute in ("format", "format_map") and isinstance(node.node, nodes.Const) \
                and isinstance(node.node.value, str) and (key := _format_fields_private(node.node.value)):
            refuse(node, key)


def attribute_name(node: nodes.Getattr | nodes.Getitem) -> str | None:
    """The attribute or constant key `node` reads (`a.b`, `a['b']`); None for a computed key."""
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def check_mutations(path: str, ast: nodes.Template, errors: ErrorCollector) -> None:
    """Refuse calls to methods that change a list, dict or set in place (`l.append(x)`, `fields.clear()`)."""
    for call in ast.find_all(nodes.Call):
        target = call.node
        if isinstance(target, (nodes.Getattr, nodes.Getitem)) and (name := attribute_name(target)) in MUTATING_METHODS:
            errors.add(path, f"line {call.lineno}: '.{name}()' is not allowed: text cannot change values "
                             "(build a new one instead: `l + [x]`, `dict(d, k=v)`)")


def check_macros(path: str, ast: nodes.Template, errors: ErrorCollector) -> None:
    """Refuse a macro that calls itself, directly or through other macros (it can only end at the recursion limit)."""
    macros = {macro.name: macro for macro in ast.find_all(nodes.Macro)}
    calls = {name: {n.name for n in macro.find_all(nodes.Name) if n.ctx == "load" and n.name in macros}
             for name, macro in macros.items()}
    for name, macro in macros.items():
        seen, todo, via = {name}, list(calls[name]), {callee: callee for callee in calls[name]}
        while todo:
            callee = todo.pop()
            if callee == name:
                through = "" if via[callee] == name else f" (through '{via[callee]}')"
                errors.add(path, f"line {macro.lineno}: macro '{name}' calls itself{through}; "
                                 "a macro may not call itself")
                break
            if callee in seen:
                continue
            seen.add(callee)
            for next_callee in calls[callee]:
                via.setdefault(next_callee, via[callee])
                todo.append(next_callee)
