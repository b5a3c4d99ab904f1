"""Where a worker's CPU went, from a py-spy raw profile: the share of samples by activity and by workflow work."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

# (part, a frame that marks it), first match wins, checked from the leaf up
PARTS = (
    ("activity resolve_responsible", "ResponsibleActivities.resolve_responsible"),
    ("activity record_history (engine history lines)", "HistoryActivities.record_history"),
    ("activity add_history (the action)", "HistoryActivities.add_history"),
    ("activity bench_write_row (the action)", "BaselineActivities.write_row"),
    ("activity plumbing (SDK, interceptors)", "_ActivityWorker"),
    ("workflow code and sandbox", "_WorkflowWorker"),
    ("workflow code and sandbox", "_workflow_instance.py"),
    ("workflow code and sandbox", "workflow/_"),
    ("workflow code and sandbox", "sandbox/"),
    ("database (SQLAlchemy, psycopg: their greenlets carry no activity frame)", "sqlalchemy/"),
    ("database (SQLAlchemy, psycopg: their greenlets carry no activity frame)", "psycopg"),
    ("data conversion (payloads, pydantic)", "converter"),
    ("data conversion (payloads, pydantic)", "_Visitor"),
    ("Temporal core bridge (polls, completions)", "temporalio/bridge"),
    ("Temporal core bridge (polls, completions)", "temporalio/worker/_worker.py"),
)


def summarize(path: Path, processes: int) -> dict[str, Any]:
    parts: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        part = next((name for name, mark in PARTS if mark in stack), "other (event loop, wake-ups)")
        parts[part] += n
    return {"samples": total, "samples_per_process": total / processes if processes else 0.0,
            "processes": processes,
            "share": {name: n / total for name, n in parts.most_common()} if total else {}}
