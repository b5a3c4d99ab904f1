"""`make bench` cannot rot: a tiny run of the bench runner writes its figures and its report (no timing asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A tiny run takes about a minute on a quiet machine, and several times that on a busy one: it is given time enough
# for the busiest (no timing is asserted; a run that hangs still ends the test)
RUN_SECONDS = 840


@pytest.mark.timeout(RUN_SECONDS + 60)
def test_a_tiny_bench_run_writes_figures_and_report(tmp_path: Path) -> None:
    """Benchmarks: a tiny run measures every scenario on both sides and renders docs/benchmarks.md's table"""
    out_json, out_md = tmp_path / "bench.json", tmp_path / "bench.md"
    done = subprocess.run([sys.executable, "-m", "bench", "--tiny", "--modes", "memory", "--growth", "1",
                           "--database", "sqlite", "--no-data-scale", "--json", str(out_json),
                           "--markdown", str(out_md)], cwd=ROOT, capture_output=True, text=True, timeout=RUN_SECONDS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out_json.read_text())["modes"]["memory"]
    for kind in ("baseline", "template"):
        assert figures["phase_overhead"]["1"][kind]["processes_per_s"] > 0
        assert figures["signal_to_move"][kind]["n"] == 2
        assert figures["move_to_action"][kind]["n"] == 2
        assert figures["answers_to_move"][kind]["n"] == 2
        assert figures["parked"]["1"][kind]["processes"] == 8
    assert figures["moves_in_a_row"]["lost"] == 0 and figures["moves_in_a_row"]["counted"] == 10
    start = figures["start_path"]
    assert start["api"]["n"] == start["api_httpx"]["n"] == start["direct"]["n"] == 8
    assert start["ratio"] > 0 and start["ratio_httpx"] > 0 and len(start["rounds_starts_per_s"]["api"]) == 1
    assert figures["hostile"]["idle"]["n"] == figures["hostile"]["busy"]["n"] == 8  # 2 processes, 4 gaps each
    imported = json.loads(out_json.read_text())["csv_import"]
    assert imported["rows"] == 1_000 and imported["databases"]["sqlite"]["ratio"] > 0
    report = out_md.read_text()
    for heading in ("## Targets", "### 1. Phase overhead", "### 2. Start path", "### 3. Signal to move", "### 8. Move into a status",
                    "### 9. A client's answers",
                    "### 4. Parked processes", "### 6. Cost growth", "### 7. Hostile renders", "## 10. CSV import"):
        assert heading in report


@pytest.mark.timeout(RUN_SECONDS + 60)
def test_a_tiny_webhooks_bench_run_posts_once_per_process(tmp_path: Path) -> None:
    """Benchmarks: `make bench-webhooks` cannot rot: each side's processes POST once each (no timing asserted)"""
    out_json = tmp_path / "webhooks.json"
    done = subprocess.run([sys.executable, "-m", "bench.webhooks", "--processes", "2", "--rounds", "1",
                           "--database", "sqlite", "--json", str(out_json)], cwd=ROOT, capture_output=True, text=True,
                          timeout=RUN_SECONDS)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out_json.read_text())
    assert set(figures["median"]) == {"baseline", "recorded", "template"}
    assert figures["posts"] == figures["distinct_webhook_ids"] == 3 * (3 + 2)  # 3 sides, 3 warm-up + 2 each
    assert all(side["processes_per_s"] > 0 for side in figures["median"].values())
