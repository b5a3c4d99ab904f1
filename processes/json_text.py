"""Checking, when a template is saved, that a text meant to render JSON (a webhook's body) does.

Each `{{ ... }}` is taken for a JSON value (a number, or text inside a string), and the fixed parts
around them must then parse as JSON. A text with `{% ... %}` blocks (loops, conditions) is checked when
it renders: the body rendered must parse, or the step fails with where it does not.
"""

from __future__ import annotations

import json
import re
from typing import Any

from processes.errors import ErrorCollector

_OUTPUT = re.compile(r"\{\{.*?\}\}", re.S)
_COMMENT = re.compile(r"\{#.*?#\}", re.S)


class NotJson(ValueError):
    """Text Python's `json` reads but JSON (RFC 8259, I-JSON) is not: `NaN`, `Infinity`, a key twice."""


def _no_constant(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON value (write a number, or null)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise NotJson(f"the key {json.dumps(key, ensure_ascii=False)} is given twice (a receiver would keep one "
                          "of the two values, or refuse the body)")
        found[key] = value
    return found


def strict_json(text: str) -> Any:
    """`text` read as JSON as receivers read it: `json.JSONDecodeError` where it is not JSON, `NotJson` for what
    only Python takes (`NaN`, `Infinity`) and for a key given twice in an object."""
    return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_unique_keys)


def check_json_text(path: str, source: str, errors: ErrorCollector) -> None:
    skeleton = _COMMENT.sub("", source)
    if "{%" in skeleton:
        return
    skeleton = _OUTPUT.sub("0", skeleton)
    try:
        strict_json(skeleton)
    except json.JSONDecodeError as exc:
        errors.add(path, f"does not render JSON ({exc.msg} at line {exc.lineno}, taking each "
                         "{{ }} for a value); write values as {{ record.title | tojson }}")
    except NotJson as exc:
        errors.add(path, f"does not render JSON: {exc}")
