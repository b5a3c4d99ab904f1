"""What the `stagecoach` commands send, against a stand-in API: ids quoted into paths, a file to write checked first."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import cli.common
from cli.api_client import ApiClient
from cli.main import app

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[list[httpx.Request], Callable[[Handler], None]]]:
    """The requests the commands sent; `answer(handler)` sets how the stand-in API answers (404 by default)."""
    requests: list[httpx.Request] = []
    handler: list[Handler] = [lambda r: httpx.Response(404, json={"type": "NotFound", "detail": "not found"})]

    def client(_: Any) -> ApiClient:
        api = ApiClient("http://stagecoach", "key")
        api._http = httpx.Client(base_url="http://stagecoach", transport=httpx.MockTransport(
            lambda request: requests.append(request) or handler[0](request)))
        return api

    monkeypatch.setattr(cli.common, "client_from_settings", client)
    yield requests, lambda h: handler.__setitem__(0, h)


@pytest.mark.parametrize(("args", "path"), [
    (["show", "../records/1"], b"/processes/..%2Frecords%2F1"),
    (["show", "x?status=completed"], b"/processes/x%3Fstatus%3Dcompleted"),
    (["show", ".."], b"/processes/%2E%2E"),
    (["abort", "../records/1", "--reason", "x"], b"/processes/..%2Frecords%2F1/abort"),
    (["skip", "a/b"], b"/processes/a%2Fb/skip"),
    (["complete", "a#b"], b"/processes/a%23b/complete"),
    (["pipelines", "show", "../x"], b"/pipelines/..%2Fx"),
    (["pipelines", "board", "a?b"], b"/pipelines/a%3Fb/board?limit=5"),
    (["pipelines", "board", "shop", "--limit", "20", "--offset", "20"], b"/pipelines/shop/board?limit=20&offset=20"),
    (["record-types", "show", "contact", "a/b"], b"/record-types/contact/a%2Fb"),
])
def test_an_id_is_one_segment_of_the_path_whatever_it_holds(sent: Any, args: list[str], path: bytes) -> None:
    requests, _ = sent
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1 and "NotFound (404)" in result.output, result.output
    [request] = requests
    assert request.url.raw_path == path


@pytest.mark.parametrize("command", [[], ["pipelines"], ["request-templates"]])
@pytest.mark.parametrize("verb", ["validate", "apply"])
def test_a_definition_file_in_another_encoding_is_sent_naming_it(sent: Any, tmp_path: Path, command: list[str],
                                                                 verb: str) -> None:
    """Process templates, pipelines and client request templates alike: the API's advice names `--charset`, and
    `--charset` names the encoding in the Content-Type (request templates and pipelines had no such option)"""
    requests, answer = sent
    answer(lambda r: httpx.Response(422, json={"type": "TemplateInvalid", "detail": (
        "the template is not valid UTF-8: byte offset 5 (0xe8); if the file is in another encoding, name it: "
        "Content-Type: application/yaml; charset=windows-1252")}))
    (tmp_path / "t.yaml").write_bytes("key: caff\xe8".encode("windows-1252"))
    result = CliRunner().invoke(app, [*command, verb, str(tmp_path / "t.yaml")])
    assert result.exit_code == 1
    assert "charset=windows-1252 (with this command: --charset windows-1252)" in result.output
    result = CliRunner().invoke(app, [*command, verb, str(tmp_path / "t.yaml"), "--charset", "windows-1252"])
    assert requests[-1].headers["content-type"] == "application/yaml; charset=windows-1252"
    assert requests[-1].content == "key: caff\xe8".encode("windows-1252")


JOB = {"id": 7, "status": "done", "detail": "1 written, 1 rejected", "rows_read": 2, "rows_invalid": 1,
       "rows_written": 1, "errors": ["row 3, column email: bad"], "rejected_url": "/imports/7/rejected"}


@pytest.mark.parametrize("path", ["missing/x.csv", ".", "file/x.csv"])
@pytest.mark.parametrize(("command", "said"), [
    (["import", "contacts", "in.csv", "--valid-rows", "--rejected"], "nothing was imported"),
    (["export", "contacts", "--output"], "nothing was exported")], ids=["import --rejected", "export --output"])
def test_a_file_that_cannot_be_written_stops_the_command_before_anything_is_sent(
        sent: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str, command: list[str], said: str) -> None:
    requests, _ = sent
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("")
    (tmp_path / "in.csv").write_text("title;email\nA;a@x.it\nB;bad\n")
    result = CliRunner().invoke(app, [*command, str(tmp_path / path)])
    assert result.exit_code == 2 and said in result.output, result.output
    assert requests == []


def test_rejected_rows_that_could_not_be_saved_are_a_message_not_a_traceback(sent: Any, tmp_path: Path) -> None:
    _, answer = sent
    rejected = tmp_path / "rejected.csv"

    def api(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            rejected.mkdir()  # the path taken while the import ran
            return httpx.Response(202, json=JOB)
        return httpx.Response(200, content=b"title;email;reason\r\n")

    answer(api)
    source = tmp_path / "in.csv"
    source.write_text("title;email\nA;a@x.it\nB;bad\n")
    result = CliRunner().invoke(app, ["import", "contacts", str(source), "--valid-rows", "--rejected", str(rejected),
                                      "--json"])
    assert result.exit_code == 1, result.output
    assert f"--rejected {rejected}: Is a directory; the rejected rows were not saved (GET /imports/7/rejected " \
           "has them)" in result.output
    assert json.loads(result.stdout[result.stdout.index("{"):])["status"] == "done"


def test_an_export_that_could_not_be_saved_is_a_message_not_a_traceback(sent: Any, tmp_path: Path) -> None:
    _, answer = sent
    output = tmp_path / "contacts.csv"

    def api(request: httpx.Request) -> httpx.Response:
        output.mkdir()  # the path taken while the export ran
        return httpx.Response(200, content="\ufeffid;title\r\n1;Città\r\n".encode())

    answer(api)
    result = CliRunner().invoke(app, ["export", "contacts", "--output", str(output)])
    assert result.exit_code == 1, result.output
    assert f"--output {output}: Is a directory; the export was not saved" in result.output


def test_list_says_who_ended_a_process_by_name(sent: Any) -> None:
    """An API key by its name, a user by their handle, Stagecoach's own actors as they are; `--json` keeps the API's"""
    _, answer = sent
    items = [{"workflow_id": f"p{i}", "status": "aborted", "current_phase": None, "record_id": 2, "ended_by": actor,
              "end_reason": "client withdrew"} for i, actor in enumerate(["key:77:crm-sync", "user:3:maria", "loop guard"])]
    answer(lambda r: httpx.Response(200, json={"items": items, "next_page_token": None}))
    lines = CliRunner().invoke(app, ["list"]).output.splitlines()
    assert [line.split("  ended by ")[1] for line in lines] == [
        "API key 'crm-sync': client withdrew", "maria: client withdrew", "loop guard: client withdrew"]
    assert json.loads(CliRunner().invoke(app, ["list", "--json"]).output)["items"][0]["ended_by"] == "key:77:crm-sync"
