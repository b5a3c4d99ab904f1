"""Scenario 2 (the start path) in the report: its section, its targets and its one-line summary."""

from __future__ import annotations

from typing import Any

from bench.figures import measured_apart, number as _f, ratio as _ratio, verdict as _verdict

TARGETS = {"start_path": 0.8, "start_p99_ms": 100}  # HTTP starts/s against client.start_workflow; p99 paced


def start_path_section(m: dict[str, Any]) -> list[str]:
    s = m["start_path"]
    d, a, h = s["direct"], s["api"], s.get("api_httpx")
    rows = [("client.start_workflow", d), ("HTTP API (aiohttp caller)" if h else "HTTP API", a)]
    rows += [("HTTP API (httpx caller)", h)] if h else []
    return [
        "### 2. Start path",
        "",
        f"{s['starts']:,} starts of the 5-phase template by {s['clients']} concurrent clients: `POST /processes`",
        "(the API in its own uvicorn process: the record and the template version read and the run inserted, in",
        "one statement, before the start) against `client.start_workflow` of the same input from the bench process",
        "(`workflows.client.start_process`). No worker polls the queue, so only the start path is timed.",
        "",
        *measured_apart(s, "Scenario 2 measured", "the ratio of the rounds and the CPU per start"),
        *_rounds(s),
        "| path | starts/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|",
        *[f"| {label} | {_f(x['starts_per_s'])} | {_f(x['p50_ms'])} | {_f(x['p95_ms'])} | {_f(x['p99_ms'])} |"
          for label, x in rows],
        f"| ratio (API / direct) | {_f(start_ratio(s), 2)} | "
        f"{_f(_ratio(a['p50_ms'], d['p50_ms']), 2)} | {_f(_ratio(a['p95_ms'], d['p95_ms']), 2)} | "
        f"{_f(_ratio(a['p99_ms'], d['p99_ms']), 2)} |",
        "",
        *_paced(s),
        *_start_cpu(s),
    ]


def start_ratio(s: dict[str, Any]) -> float | None:
    """The target's ratio: the median of the rounds' own (a run from before rounds: of the two sides' rates)."""
    return s["ratio"] if "ratio" in s else _ratio(s["api"]["starts_per_s"], s["direct"]["starts_per_s"])


def _rounds(s: dict[str, Any]) -> list[str]:
    if "rounds_starts_per_s" not in s:
        return []
    per = s["rounds_starts_per_s"]
    pairs = ", ".join(f"{_f(d)} / {_f(a)} ({_f(a / d, 2)})" for d, a in zip(per["direct"], per["api"], strict=True))
    return [f"The sides took turns for {s['rounds']} rounds (which one goes first alternates); the table gives each "
            "side's median round, and as the ratio the median of the rounds' own ratios. The HTTP callers are aiohttp "
            "sessions; the same starts through httpx ran in the same rounds and are shown beside, not held to the "
            f"target (median ratio {_f(s['ratio_httpx'], 2)}). The rounds, starts/s direct / API (ratio): {pairs}.", ""]


def _paced(s: dict[str, Any]) -> list[str]:
    """The latencies at a steady rate below what the machine can do: what a caller waits, not a queue's length."""
    p = s.get("paced")
    if not p:
        return []
    d, a = p["direct"], p["api"]
    return [f"With {s['clients']} clients starting as fast as they can, a start's latency is mostly its wait behind",
            "the others (the mean is the clients over the rate), on either side. The latency a caller sees is read at",
            f"a steady rate of {_f(p['rate_per_s'])} starts/s, half what `client.start_workflow` did above, each start",
            f"sent on time whether or not the earlier ones have answered ({a['n']:,} starts a side):", "",
            "| path, paced | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|",
            *[f"| {label} | {_f(x['p50_ms'])} | {_f(x['p95_ms'])} | {_f(x['p99_ms'])} | {_f(x.get('max_ms'))} |"
              for label, x in (("client.start_workflow", d), ("HTTP API", a))], ""]


def _start_cpu(s: dict[str, Any]) -> list[str]:
    """CPU per start, by process: on a shared machine, what a start costs whatever else runs."""
    if "cpu_ms_per_start" not in s["api"]:  # a run from before it was measured
        return []
    rows = [("client.start_workflow", s["direct"]), ("HTTP API", s["api"])]
    if "api_httpx" in s:
        rows = [rows[0], ("HTTP API, aiohttp caller", s["api"]), ("HTTP API, httpx caller", s["api_httpx"])]
    cpu = [(label, x["cpu_ms_per_start"]) for label, x in rows]
    database = "postgresql" in cpu[0][1]
    return ["CPU per start (ms; the caller is the bench process: the Temporal client, or the HTTP client"
            + ("; PostgreSQL: the backends serving Stagecoach's database" if database else "") + "):", "",
            "| path | caller | API process | dev server |" + (" PostgreSQL |" if database else ""),
            "|---|---|---|---|" + ("---|" if database else ""),
            *[f"| {label} | {_f(c['caller'], 2)} | {_f(c['api'], 2) if label.startswith('HTTP') else '–'} | "
              f"{_f(c['temporal'], 2)} |" + (f" {_f(c['postgresql'], 2)} |" if database else "")
              for label, c in cpu], ""]


def start_path_targets(mode: str, m: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """The HTTP start path's throughput against `client.start_workflow`, and its p99 (paced, when measured)."""
    if "start_path" not in m:
        return []
    s = m["start_path"]
    ratio = start_ratio(s)
    paced = s.get("paced")
    p99 = (paced or s)["api"]["p99_ms"]
    what = f"2: HTTP start p99 (ms) at {_f(paced['rate_per_s'])}/s" if paced else "2: HTTP start p99 (ms)"
    return [(mode, "2: HTTP starts/s vs client.start_workflow", f"≥ {TARGETS['start_path']}", _f(ratio, 2),
             _verdict(ratio, TARGETS["start_path"], True)),
            (mode, what, f"< {TARGETS['start_p99_ms']}", _f(p99), _verdict(p99, TARGETS["start_p99_ms"] - 1e-9, False))]


def start_path_line(s: dict[str, Any]) -> str:
    """Scenario 2 in one line (the log of `--only-start-path`), with its targets."""
    d, a = s["direct"], s["api"]
    verdicts = "; ".join(f"{what[3:]} {value}: {verdict}" for _, what, _, value, verdict in
                         start_path_targets("", {"start_path": s}))
    httpx = f"httpx caller's ratio {_f(s['ratio_httpx'], 2)}; " if "ratio_httpx" in s else ""
    cpu = "; ".join(f"{side} " + ", ".join(f"{k} {_f(v, 2)}" for k, v in x.get("cpu_ms_per_start", {}).items())
                    for side, x in (("direct", d), ("API", a)))
    return (f"direct {_f(d['starts_per_s'])}/s p50 {_f(d['p50_ms'])} p99 {_f(d['p99_ms'])} ms; "
            f"API {_f(a['starts_per_s'])}/s p50 {_f(a['p50_ms'])} p99 {_f(a['p99_ms'])} ms; {verdicts}; {httpx}"
            f"CPU ms per start: {cpu}")
