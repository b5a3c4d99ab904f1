"""Scenario 5 of the benchmarks (bench/data_scale.py) runs end to end, small, on SQLite: no timing asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_data_scale_quick_on_sqlite(tmp_path: Path) -> None:
    """The quick data-scale benchmark loads, serves, times and explains every read; the reads use indexes."""
    out_json, out_md = tmp_path / "scale.json", tmp_path / "scale.md"
    subprocess.run([sys.executable, "-m", "bench.data_scale", "--quick", "--databases", "sqlite", "--no-temporal",
                    "--json", str(out_json), "--markdown", str(out_md)], cwd=ROOT, check=True, timeout=150)
    report = json.loads(out_json.read_text())
    (db,) = report["databases"]
    assert db["database"] == "sqlite" and db["counts"]["history_entry"] == report["scale"]["history"]
    reads = {r["name"]: r for r in db["reads"]}
    assert len(reads) >= 15
    for name, read in reads.items():
        assert read["samples"] == report["scale"]["samples"], name
        assert read["statements"], f"{name}: no SQL captured"
        if name.startswith("records: title search"):
            continue  # a substring match: no B-tree index can serve it (documented in the report)
        assert read["index_used"] is True, f"{name}: {read['full_scans']}"
    assert reads["history: the longest, first page"]["rows"] == 200
    assert "ix_history_entry_record_id_id" in reads["history: the longest, first page"]["indexes"]
    assert out_md.read_text().startswith("## 5. Scale of the data")
