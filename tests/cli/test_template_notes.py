"""`stagecoach validate` and `apply` print the API's notes on a template: the texts it had no time to try."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import cli.common
from cli.api_client import ApiClient
from cli.main import app

NOTE = ("3 texts were not tried when saved (the 2 s a save has to try texts ran out): "
        "phases[4].actions[0].add_history.text, phases[4].actions[1].add_history.text, "
        "phases[4].actions[2].add_history.text; they are checked when they render")
VERSION = {"key": "pratica", "version": 2, "name": "Pratica", "record_kind": "lead", "checksum": "x",
           "created_at": "2026-12-04T05:58:00Z", "created_by": "admin", "definition": {}, "notes": [NOTE]}


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in API: validate and save answer with NOTE."""
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/templates/validate":
            return httpx.Response(200, json={"valid": True, "template": {"phases": [{}] * 5}, "notes": [NOTE]})
        return httpx.Response(201, json=VERSION)

    def client(_: Any) -> ApiClient:
        api = ApiClient("http://stagecoach", "key")
        api._http = httpx.Client(base_url="http://stagecoach", transport=httpx.MockTransport(answer))
        return api

    monkeypatch.setattr(cli.common, "client_from_settings", client)


@pytest.mark.parametrize(("command", "first"), [("validate", "{path}: valid (5 phases)"),
                                               ("apply", "pratica version 2")])
def test_validate_and_apply_print_the_notes(answers: None, tmp_path: Path, command: str, first: str) -> None:
    path = tmp_path / "pratica.yaml"
    path.write_text("key: pratica\nname: Pratica di vendita a Forlì\n", encoding="utf-8")
    result = CliRunner().invoke(app, [command, str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [first.format(path=path), f"  note: {NOTE}"]
