"""`stagecoach import` and `stagecoach export`: contacts and cases from and to CSV files."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import JsonOpt, api, call, out, pairs

FINISHED = ("done", "refused", "failed")


class Kind(str, Enum):
    contacts = "contacts"
    cases = "cases"


def import_file(
    kind: Kind, path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the CSV file")],
    valid_rows: Annotated[bool, typer.Option(help="write the valid rows, reject the others (default: all or "
                                             "nothing)")] = False,
    encoding: Annotated[str, typer.Option(help="auto, utf-8, utf-8-sig or windows-1252")] = "auto",
    delimiter: Annotated[str, typer.Option(help="auto, ';' or ','")] = "auto",
    map_: Annotated[list[str] | None, typer.Option("--map", help="COLUMN=FIELD, once per column (default: "
                                                   "columns named as fields)")] = None,
    rejected: Annotated[Path | None, typer.Option(help="write the rejected rows, with their reason, here")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import contacts or cases from a CSV file, with a progress bar; every row is checked before any is written."""
    if rejected is not None:
        _writable(rejected, "--rejected", "nothing was imported")
    client = api()
    params: dict[str, Any] = {"mode": "valid_rows" if valid_rows else "all_or_nothing", "encoding": encoding,
                              "delimiter": delimiter}
    if map_:
        params["mapping"] = json.dumps(pairs(map_, "--map"))
    with path.open("rb") as body:
        job = call(client.post, f"/imports/{kind.value}", params=params, content=body,
                   headers={"Content-Type": "text/csv"})
    job = _follow(client, job, quiet=as_json, total=_lines(path))
    saved = True
    if rejected is not None and job.get("rejected_url"):
        try:
            rejected.write_bytes(call(client.send, "GET", job["rejected_url"]).content)
        except OSError as exc:  # the folder gone or made read-only while the import ran
            typer.echo(f"--rejected {rejected}: {exc.strerror or exc}; the rejected rows were not saved "
                       f"(GET {job['rejected_url']} has them)", err=True)
            saved = False
    errors = "\n".join(f"  {e}" for e in job["errors"][:20])
    more = f"\n  ... and {job['rows_invalid'] - 20} more" if job["rows_invalid"] > 20 else ""
    out(job, as_json, f"import {job['id']}: {job['status']}: {job['detail']}" + (f"\n{errors}{more}" if errors else ""))
    if job["status"] != "done" or not saved:
        raise typer.Exit(1)


def _writable(path: Path, option: str, consequence: str) -> None:
    """Stop (exit 2) before anything is sent when `option`'s file `path` could not be written."""
    folder = path.parent
    problem = ("is a folder" if path.is_dir() else f"no folder {folder}" if not folder.is_dir()
               else "cannot be written" if not os.access(path if path.exists() else folder, os.W_OK) else None)
    if problem:
        typer.echo(f"{option} {path}: {problem}; {consequence}", err=True)
        raise typer.Exit(2)


def _lines(path: Path) -> int:
    """The file's data rows, about (its line breaks, less the header's), read in chunks."""
    with path.open("rb") as file:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 20), b"")) - 1


def _follow(client: Any, job: dict[str, Any], quiet: bool, total: int) -> dict[str, Any]:
    """Poll the job until it ends; unless `quiet`, a progress bar of the rows read (each checked, then written)."""
    if quiet:
        while job["status"] not in FINISHED:
            time.sleep(0.5)
            job = call(client.get, f"/imports/{job['id']}")
        return job
    with typer.progressbar(length=max(total, 1), label="rows checked and written", file=sys.stderr) as bar:
        while job["status"] not in FINISHED:
            time.sleep(0.5)
            job = call(client.get, f"/imports/{job['id']}")
            if job["rows_read"] > bar.pos:
                bar.update(job["rows_read"] - bar.pos)
        bar.update(max(bar.length - bar.pos, 0))
    return job


def export_file(kind: Kind,
                output: Annotated[Path | None, typer.Option("--output", "-o", help="the file (default: stdout)")] = None,
                delimiter: Annotated[str, typer.Option(help="';' or ','")] = ";", as_json: JsonOpt = False) -> None:
    """Export the contacts or cases the key sees to CSV (UTF-8 with a BOM); `--json` prints them as JSON objects."""
    if output is not None:
        _writable(output, "--output", "nothing was exported")
    response = call(api().send, "GET", f"/exports/{kind.value}", params={"delimiter": delimiter})
    if as_json:
        rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff")), delimiter=delimiter))
        typer.echo(json.dumps(rows, indent=2))
    elif output is None:
        sys.stdout.write(response.text)
    if output is not None:
        try:
            output.write_bytes(response.content)
        except OSError as exc:  # the folder gone, or the disk full, while the export ran
            typer.echo(f"--output {output}: {exc.strerror or exc}; the export was not saved", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"{kind.value} written to {output}", err=True)
