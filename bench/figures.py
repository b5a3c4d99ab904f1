"""How the report writes a figure, a ratio, a verdict against a target, and when a scenario was measured again on its
own (bench/report.py, bench/start_report.py)."""

from __future__ import annotations

import math
from typing import Any


def number(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def verdict(value: float | None, limit: float, higher_is_better: bool) -> str:
    if value is None:
        return "–"
    met = value >= limit if higher_is_better else value <= limit
    return "met" if met else "**missed**"


def measured_apart(h: dict[str, Any], what: str = "",
                   read: str = "the ratios between the two halves, taken one after the other on the same worker"
                   ) -> list[str]:
    """A scenario measured again on its own (`--only-hostile`, `--only-moves`, `--only-start-path`), after the run
    the rest of the page comes from."""
    m = h.get("measured")
    if not m:
        return []
    own = "their own" if what.startswith("Scenarios") else "its own"
    return [f"{what or 'Measured'} on {own}, after the run above: `{m['command']}` on {m['date']} at commit "
            f"{m['commit']}, load average at start {', '.join(f'{x:.2f}' for x in m['load_average_at_start'])} (the "
            f"figures to read are {read}).", ""]
