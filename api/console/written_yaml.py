"""YAML as a person writes it, for the console's editors: multi-line text as `|` blocks, so that each line shown is
a line of the text (a quoted scalar folds a line break typed into it into a space), lines never wrapped, and
lists indented under their key. Loading the text gives back the same data."""

from __future__ import annotations

from typing import Any

import yaml

# line breaks PyYAML writes as they are in a block or single-quoted scalar, read back as "\n": such text is
# written double-quoted, where they are escaped
_OTHER_BREAKS = frozenset("\r\x85\u2028\u2029")


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _text(dumper: _Dumper, value: str) -> yaml.ScalarNode:
    if _OTHER_BREAKS.intersection(value):
        style: str | None = '"'
    else:  # PyYAML falls back to a quoted style by itself where a block cannot say the text (trailing spaces)
        style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def written(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)
