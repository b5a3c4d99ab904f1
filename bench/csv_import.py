"""Scenario 10: the CSV import of contacts against a plain bulk insert of the same rows: rows per second and peak memory.

    python -m bench.csv_import [--rows 100000] [--databases sqlite,postgresql]   (prints its section)
    python -m bench --only-csv-import                  (measures it and puts it into docs/benchmarks.md)

For each database: a fresh migrated database; a CSV of `--rows` contacts (title, email, phone, type) on disk;
the import (`crm.imports.run.run_import`: every row read and checked, then written in one transaction) timed
from the file to the commit; the same rows written by a plain bulk insert (executemany of 1,000 rows, one
transaction, no checks) timed alike. Peak memory is Python's (tracemalloc), measured in a second run of the
import at a tenth and at the whole of the file: flat means it does not grow with the file.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import shutil
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from crm.db import make_engine, make_sessionmaker
from crm.imports.models import ImportJob, ImportKind, ImportMode
from crm.imports.reading import header
from crm.imports.run import run_import
from crm.migrate import upgrade_database
from crm.models import ApiKey, ApiRole, Record
from crm.types import utcnow
from processes.template_basics import RecordKind

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


class Admin:
    role, user_id = ApiRole.admin, None


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(["title", "email", "phone", "type"])
        writer.writerows([f"Contatto {n} Città", f"c{n}@example.org", f"+39 055 {n:07d}", "person"] for n in range(rows))


async def _import(url: str, path: Path) -> float:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        key = ApiKey(name="bench", role=ApiRole.admin, prefix="sc_bench", key_hash=uuid.uuid4().hex)
        session.add(key)
        await session.commit()
        columns, delimiter = header(path, "utf-8", None)
        job = ImportJob(kind=ImportKind.contacts, mode=ImportMode.all_or_nothing, api_key_id=key.id,  # type: ignore[arg-type]
                        encoding="utf-8", delimiter=delimiter, columns=columns, mapping={c: c for c in columns})
        session.add(job)
        await session.commit()
    upload = path.with_name(f"{job.id}-{uuid.uuid4().hex[:8]}.csv")  # the import removes its file once read, as the
    shutil.copyfile(path, upload)                                       # API's does: each round reads a copy
    started = time.perf_counter()
    await run_import(sessions, job.id, upload, upload.with_suffix(".rejected"), Admin(), "bench")  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    async with sessions() as session:
        stored = await session.get(ImportJob, job.id)
        assert stored is not None and stored.status == "done", stored
    await engine.dispose()
    return elapsed


async def _bulk(url: str, path: Path) -> float:
    engine = make_engine(url)
    started = time.perf_counter()
    async with engine.begin() as conn:
        with path.open(encoding="utf-8", newline="") as file:
            reader = csv.reader(file, delimiter=";")
            next(reader)
            batch: list[dict[str, Any]] = []
            for title, email, phone, type_ in reader:
                now = utcnow()
                batch.append({"kind": RecordKind.contact, "title": title, "email": email, "phone": phone, "type": type_,
                              "status": "New", "channel": "", "fields": {}, "restricted": False,
                              "created_at": now, "updated_at": now})
                if len(batch) == 1000:
                    await conn.execute(sa.insert(Record), batch)
                    batch = []
            if batch:
                await conn.execute(sa.insert(Record), batch)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return elapsed


def _database(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
    else:
        name = f"bench_import_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    upgrade_database(url)
    return url


async def _peak(kind: str, folder: Path, path: Path) -> int:
    tracemalloc.start()
    try:
        await _import(_database(kind, folder), path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def reachable() -> list[str]:
    """SQLite, and PostgreSQL when it answers."""
    try:
        psycopg.connect(POSTGRES, connect_timeout=3).close()
    except psycopg.Error:
        return ["sqlite"]
    return ["sqlite", "postgresql"]


async def measure(rows: int, databases: list[str], rounds: int = 2) -> dict[str, Any]:
    """Scenario 10's figures: for each database the import and the bulk insert, `rounds` times in turn (each side's
    fastest counts: the machine is shared), then the import's peak memory at a tenth and at the whole file."""
    out: dict[str, Any] = {"rows": rows, "rounds": rounds, "databases": {}}
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        whole, tenth = folder / "whole.csv", folder / "tenth.csv"
        write_csv(whole, rows)
        write_csv(tenth, rows // 10)
        for kind in databases:
            imported, bulk = [], []
            for _ in range(rounds):
                imported.append(await _import(_database(kind, folder), whole))
                bulk.append(await _bulk(_database(kind, folder), whole))
            small, large = await _peak(kind, folder, tenth), await _peak(kind, folder, whole)
            out["databases"][kind] = {"import_s": min(imported), "bulk_s": min(bulk), "ratio": min(bulk) / min(imported),
                                      "peak_small_mib": small / 2**20, "peak_large_mib": large / 2**20}
    return out


GOAL = 0.5  # the import at least half as fast as a plain bulk insert of the same rows


def targets(figures: dict[str, Any] | None) -> list[tuple[str, str, str, str, str]]:
    if not figures:
        return []
    return [(kind, f"9: CSV import of {figures['rows']:,} contacts vs a plain bulk insert", f"≥ {GOAL}",
             f"{d['ratio']:.2f}", "met" if d["ratio"] >= GOAL else "**missed**")
            for kind, d in figures["databases"].items()]


def section(figures: dict[str, Any] | None) -> list[str]:
    """Scenario 10 in docs/benchmarks.md."""
    if not figures:
        return ["## 10. CSV import", "", "`bench/csv_import.py` was not part of this run.", ""]
    rows = figures["rows"]
    out = ["## 10. CSV import", "",
           f"`bench/csv_import.py`: a CSV of {rows:,} contacts (title, email, phone, type) imported by "
           "`crm.imports.run.run_import` (every row read, checked as `POST /records` checks it, written with its "
           "`created` record event, all in one transaction committed with the job's end) against a plain bulk "
           "insert of the same rows (SQLAlchemy Core's executemany of 1,000 rows, one transaction, no check, no "
           f"event), each on a fresh migrated database, {figures['rounds']} times in turn: each side's fastest "
           "counts. Peak memory is Python's (tracemalloc) during the import of a tenth and of the whole file: "
           "flat means it does not grow with the file.", "",
           f"| database | import (rows/s) | bulk insert (rows/s) | import / bulk | peak memory, {rows // 10:,} rows "
           f"| peak memory, {rows:,} rows |", "|---|---|---|---|---|---|"]
    for kind, d in figures["databases"].items():
        out.append(f"| {kind} | {rows / d['import_s']:,.0f} ({d['import_s']:.1f} s) | {rows / d['bulk_s']:,.0f} "
                   f"({d['bulk_s']:.1f} s) | {d['ratio']:.2f} | {d['peak_small_mib']:.1f} MiB "
                   f"| {d['peak_large_mib']:.1f} MiB |")
    if m := figures.get("measured"):
        out += ["", f"Measured on its own (`{m['command']}`) on {m['date']} at commit {m['commit']}, load average at "
                f"start {', '.join(f'{x:.2f}' for x in m['load_average_at_start'])}."]
    return out + [""]


async def main(rows: int, databases: list[str]) -> None:
    print("\n".join(section(await measure(rows, databases))))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--databases", default=None, help="sqlite,postgresql (PostgreSQL when it answers)")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.databases.split(",") if args.databases else reachable()))
