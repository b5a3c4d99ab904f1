"""Reading an English text back into its values: the history lines, the engine's summaries and reasons, an import's
failures and a template's checks are written in English and said in the office's language where they are shown."""

from __future__ import annotations

import re
from collections.abc import Mapping


def english_pattern(text: str, groups: Mapping[str, str] | None = None) -> re.Pattern[str]:
    """The English `text`, a format string, with its placeholders as named groups (each `.+`, or as `groups` says) and
    its doubled braces as one: what reads a text written from it back into its values."""
    groups = groups or {}
    parts = re.split(r"(\{\{|\}\}|\{\w+\})", text)
    return re.compile("".join(re.escape(part[0]) if part in ("{{", "}}") else
                              f"(?P<{part[1:-1]}>{groups.get(part[1:-1], '.+')})" if part.startswith("{") else
                              re.escape(part) for part in parts), re.DOTALL)
