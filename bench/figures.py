"""How the report writes a figure, a ratio and a verdict against a target (bench/report.py, bench/start_report.py)."""

from __future__ import annotations

import math


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
