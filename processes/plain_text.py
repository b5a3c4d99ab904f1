"""Text simple enough to render in the caller, without the render pool: constant text and values looked up by name.

The render pool (`renderer/`) exists so that hostile text cannot hurt the process that asks: a render runs user
code (loops, filters, operators) in a child with bounded memory and time. A text made only of constant parts and
`{{ name.attribute }}` or `{{ name.attribute | tojson }}` runs no user code: its rendering is a few dictionary
lookups and, for `tojson`, `json.dumps` of a number, a string, a boolean or nothing. The webhook's default body is
such a text. Anything else (another filter, an operator, a value of another type, a name or attribute that is not
there, a control structure) answers None and goes to the pool, which renders it, or says why it cannot, as before.
What this renders is exactly what the pool renders (`tests/processes/test_plain_text.py` compares them).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.utils import htmlsafe_json_dumps

from processes.display import Office, office_variables
from processes.nesting import TooDeep
from processes.rendering import parse_text
from processes.sandbox import MAX_OUTPUT_CHARS

# the value types a part may print: `tojson` writes them as JSON (Jinja2's own filter), a bare `{{ }}` as `str`
JSON_TYPES = (str, int, bool, type(None))
BARE_TYPES = (str, int)
Part = str | tuple[str, str, bool]  # constant text, or (name, attribute, tojson)


@functools.lru_cache(maxsize=1024)
def plan(source: str) -> tuple[Part, ...] | None:
    """The parts of a text made only of constant text and `{{ name.attribute }}` (optionally `| tojson`), or None."""
    if len(source) > MAX_OUTPUT_CHARS:
        return None
    try:
        ast = parse_text(source)
    except (TemplateSyntaxError, TooDeep):
        return None
    parts: list[Part] = []
    for statement in ast.body:
        if not isinstance(statement, nodes.Output):
            return None
        for node in statement.nodes:
            tojson = isinstance(node, nodes.Filter) and node.name == "tojson" and not (
                node.args or node.kwargs or node.dyn_args or node.dyn_kwargs)
            looked_up = node.node if tojson else node  # type: ignore[attr-defined]
            if isinstance(node, nodes.TemplateData):
                parts.append(node.data)
            elif isinstance(looked_up, nodes.Getattr) and isinstance(looked_up.node, nodes.Name):
                parts.append((looked_up.node.name, looked_up.attr, tojson))
            else:
                return None
    return tuple(parts)


def render_plain(source: str, variables: Mapping[str, Any], office: Office) -> str | None:
    """The text rendered here when it is plain enough (`plan`) and every value it prints is of a plain type; else
    None (render it in the pool)."""
    parts = plan(source)
    if parts is None:
        return None
    names = {part[0] for part in parts if isinstance(part, tuple)}
    shown = office_variables({name: variables[name] for name in names if name in variables}, office)
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        name, attribute, tojson = part
        holder = shown.get(name)
        # as Jinja2 looks it up: an attribute of the object first (a method, a class attribute), then the key
        if not isinstance(holder, dict) or hasattr(holder, attribute) or attribute not in holder:
            return None
        value = holder[attribute]
        if type(value) not in (JSON_TYPES if tojson else BARE_TYPES):
            return None
        out.append(str(htmlsafe_json_dumps(value, dumps=json.dumps, sort_keys=True)) if tojson else str(value))
    text = "".join(out)
    return text if len(text) <= MAX_OUTPUT_CHARS else None
