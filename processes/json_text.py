"""Checking, when a template is saved, that a text meant to render JSON (a webhook's body) does.

Each `{{ ... }}` is taken for a JSON value (a number, or text inside a string), and the fixed parts
around them must then parse as JSON. A text with `{% ... %}` blocks (loops, conditions) is checked when
it renders: the body rendered must parse, or the step fails with where it does not.
"""

from __future__ import annotations

import json
import re

from processes.errors import ErrorCollector

_OUTPUT = re.compile(r"\{\{.*?\}\}", re.S)
_COMMENT = re.compile(r"\{#.*?#\}", re.S)


def check_json_text(path: str, source: str, errors: ErrorCollector) -> None:
    skeleton = _COMMENT.sub("", source)
    if "{%" in skeleton:
        return
    skeleton = _OUTPUT.sub("0", skeleton)
    try:
        json.loads(skeleton)
    except json.JSONDecodeError as exc:
        errors.add(path, f"does not render JSON ({exc.msg} at line {exc.lineno}, taking each "
                         "{{ }} for a value); write values as {{ record.title | tojson }}")
