"""Reading an English text back into its values: the history lines, the engine's summaries and reasons, an import's
failures and a template's checks are written in English and said in the office's language where they are shown."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping


def english_pattern(text: str, groups: Mapping[str, str] | None = None) -> re.Pattern[str]:
    """The English `text`, a format string, with its placeholders as named groups (each `.+`, or as `groups` says) and
    its doubled braces as one: what reads a text written from it back into its values."""
    groups = groups or {}
    parts = re.split(r"(\{\{|\}\}|\{\w+\})", text)
    return re.compile("".join(re.escape(part[0]) if part in ("{{", "}}") else
                              f"(?P<{part[1:-1]}>{groups.get(part[1:-1], '.+')})" if part.startswith("{") else
                              re.escape(part) for part in parts), re.DOTALL)


def written_from(text: str, patterns: Iterable[tuple[str, re.Pattern[str]]]) -> tuple[str, dict[str, str]] | None:
    """The first of `patterns` (each an English text, or its key, with its `english_pattern`) that `text` was written
    from, and the values read back from it; None when it was written from none of them."""
    for english, pattern in patterns:
        if (found := pattern.fullmatch(text)) is not None:
            return english, found.groupdict()
    return None
