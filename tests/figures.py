"""What the reliability suite measured, rendered into docs/reliability.md by `make reliability`.

A test takes the `figures` fixture and records what it measured:

    async def test_worker_killed_mid_send(figures: Figures) -> None:
        ...
        figures["processes lost"] = 0
        figures["recovery (s)"] = round(elapsed, 2)

The test asserts its own targets; the figures only report them. With
`STAGECOACH_FIGURES=<file>` set, the session writes every test of the run (its outcome,
its docstring's first line and its figures) to that JSON file, and
`python -m tests.figures <file> docs/reliability.md` renders the report from it.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIGURES_ENV = "STAGECOACH_FIGURES"

# the report's sections, in order: a test belongs to the first whose path prefix its file has
SECTIONS: dict[str, str] = {
    "tests/faults/": "Faults",
    "tests/bad_input/": "Bad input",
    "tests/processes/": "Bad input",
    "tests/workflows/test_replay.py": "Replay",
    "tests/access/": "Access",
}


@dataclass
class Figures:
    """The figures of one test, in the order it recorded them."""

    values: dict[str, Any] = field(default_factory=dict)

    def __setitem__(self, name: str, value: Any) -> None:
        self.values[name] = value

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def add(self, name: str, amount: int | float = 1) -> None:
        self.values[name] = self.values.get(name, 0) + amount


def section_of(nodeid: str) -> str | None:
    return next((name for prefix, name in SECTIONS.items() if nodeid.startswith(prefix)), None)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    by_section: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for result in results:
        if (section := section_of(result["nodeid"])) is not None:
            by_section[section].append(result)
    lines = ["# Reliability report", "",
             "Written by `make reliability` from the run below; do not edit by hand. Each line is a test",
             "of the suite (also run by `make test` on CI) with what it measured; the test itself asserts",
             "the target, so a row marked passed met it.", "",
             f"- Command: `{meta['command']}`",
             f"- Commit: `{meta['commit']}`, run at {meta['finished']}",
             f"- Machine: {meta['machine']}", ""]
    totals = defaultdict(int)
    for result in results:
        if section_of(result["nodeid"]) is not None:
            totals[result["outcome"]] += 1
    lines += ["| Tests | Passed | Failed | Skipped |", "|---|---|---|---|",
              f"| {sum(totals.values())} | {totals['passed']} | {totals['failed']} | {totals['skipped']} |", ""]
    for section in dict.fromkeys(SECTIONS.values()):
        rows = by_section.get(section, [])
        if not rows:
            continue
        lines += [f"## {section}", ""]
        measured = [r for r in rows if r["figures"]]
        plain = [r for r in rows if not r["figures"]]
        for result in measured:
            mark = "passed" if result["outcome"] == "passed" else f"**{result['outcome'].upper()}**"
            lines += [f"### {result['title']}", "", f"`{result['nodeid']}`: {mark}", "",
                      "| Figure | Value |", "|---|---|"]
            lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in result["figures"].items()]
            lines.append("")
        if plain:
            passed = sum(r["outcome"] == "passed" for r in plain)
            lines += [f"Other checks in this section: {passed} of {len(plain)} passed.", ""]
            failed = [r for r in plain if r["outcome"] != "passed"]
            lines += [f"- **{r['outcome'].upper()}** `{r['nodeid']}`: {r['title']}" for r in failed]
            if failed:
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def machine() -> str:
    cpus = len(__import__("os").sched_getaffinity(0))
    memory = ""
    try:
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.machine()}, {cpus} CPUs{memory}, Python {platform.python_version()}"


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.figures <figures.json> <report.md>", file=sys.stderr)
        return 2
    data = json.loads(Path(argv[0]).read_text())
    Path(argv[1]).write_text(render(data["results"], data["meta"]))
    print(f"wrote {argv[1]}")
    return 0


def write(path: Path, results: list[dict[str, Any]], command: str) -> None:
    meta = {"command": command, "commit": commit(), "machine": machine(),
            "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
