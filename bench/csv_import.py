"""The CSV import of contacts against a plain bulk insert of the same rows: rows per second and peak memory.

    python -m bench.csv_import [--rows 100000] [--databases sqlite,postgresql]

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
    started = time.perf_counter()
    await run_import(sessions, job.id, path, path.with_suffix(".rejected"), Admin(), "bench")  # type: ignore[arg-type]
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


async def main(rows: int, databases: list[str]) -> None:
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        whole, tenth = folder / "whole.csv", folder / "tenth.csv"
        write_csv(whole, rows)
        write_csv(tenth, rows // 10)
        print(f"| database | rows | import (rows/s) | bulk insert (rows/s) | ratio | peak memory, {rows // 10:,} rows "
              f"| peak memory, {rows:,} rows |\n|---|---|---|---|---|---|---|")
        for kind in databases:
            imported = await _import(_database(kind, folder), whole)
            bulk = await _bulk(_database(kind, folder), whole)
            small, large = await _peak(kind, folder, tenth), await _peak(kind, folder, whole)
            print(f"| {kind} | {rows:,} | {rows / imported:,.0f} ({imported:.1f} s) | {rows / bulk:,.0f} ({bulk:.1f} s) "
                  f"| {bulk / imported:.2f} | {small / 2**20:.1f} MiB | {large / 2**20:.1f} MiB |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.databases.split(",")))
