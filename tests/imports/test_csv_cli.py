"""`stagecoach import` and `stagecoach export` against the stack's API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.test_cli import command_line

pytestmark = pytest.mark.e2e


async def test_import_and_export_from_the_command_line(stack: Stack, tmp_path: Path) -> None:
    cli = command_line(stack)
    tag = uuid.uuid4().hex[:6]
    source = tmp_path / "contatti.csv"
    source.write_bytes(f"Nome;Posta\r\nLucía Peña {tag};l{tag}@example.org\r\nBroken {tag};nope\r\n"
                       .encode("windows-1252"))
    code, out = await cli("import", "contacts", str(source), "--map", "Nome=title", "--map", "Posta=email")
    assert code == 1 and "refused" in out and "row 3, column Posta: " in out
    rejected = tmp_path / "rejected.csv"
    code, out = await cli("import", "contacts", str(source), "--map", "Nome=title", "--map", "Posta=email",
                          "--valid-rows", "--rejected", str(rejected), "--json")
    assert code == 0, out
    job = json.loads(out[out.index("{"):])
    assert job["status"] == "done" and job["rows_written"] == 1 and job["encoding"] == "windows-1252"
    assert rejected.read_text(encoding="utf-8").splitlines()[1].startswith(f"Broken {tag};nope;row 3, column Posta")

    code, out = await cli("export", "contacts", "--json")
    assert code == 0, out
    assert any(row["title"] == f"Lucía Peña {tag}" for row in json.loads(out))
    exported = tmp_path / "out.csv"
    code, _ = await cli("export", "contacts", "--output", str(exported), "--delimiter", ",")
    assert code == 0 and exported.read_bytes().startswith(b"\xef\xbb\xbfid,title,")
