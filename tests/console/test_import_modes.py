"""The imports page names the modes in words, in the console's language: what happens if a row is invalid, and
the same words in an import's title (not the API's `all_or_nothing`, nor "import nothing" for a mode that imports
every row when all are valid)."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlmodel import select

from api.console.i18n import translator
from api.console.import_errors_said import import_error_in
from api.console.import_pages import outcome
from crm.imports import reading, run, sweep
from crm.imports.models import ImportJob, ImportKind, ImportMode, ImportStatus
from crm.imports.rows import RowChecker, RowError, default_mapping, mapping_errors
from crm.models import ApiRole
from tests.console.conftest import staff_user
from tests.console.signing import csrf_token, sign_in_async

WORDS = {
    "en": {"choices": ["import nothing (all or nothing)", "import the valid rows only"],
           "titles": {ImportMode.all_or_nothing: "contacts · all or nothing",
                      ImportMode.valid_rows: "contacts · valid rows only"}},
    "it": {"choices": ["non importare nulla (tutto o niente)", "importa solo le righe valide"],
           "titles": {ImportMode.all_or_nothing: "contatti · tutto o niente",
                      ImportMode.valid_rows: "contatti · solo le righe valide"}},
}



async def test_modes_are_named_in_words(console_in_each_language: Any, sessions: Any) -> None:
    locale, client = console_in_each_language
    words = WORDS[locale]
    staff = await staff_user(sessions)
    async with sessions() as session:
        jobs = {mode: ImportJob(kind=ImportKind.contacts, mode=mode, user_id=staff.user.id) for mode in ImportMode}
        session.add_all(jobs.values())
        await session.commit()
        ids = {mode: job.id for mode, job in jobs.items()}

    async with client() as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        page = await browser.get("/console/imports")
        select = re.search(r'<select id="import-mode" name="mode">(.*?)</select>', page.text, re.S)
        assert select is not None, page.text
        assert re.findall(r'<option value="(\w+)">([^<]*)</option>', select.group(1)) == \
            [(mode.value, choice) for mode, choice in zip(ImportMode, words["choices"], strict=True)]
        for mode, title in words["titles"].items():
            shown = await browser.get(f"/console/imports/{ids[mode]}")
            assert shown.status_code == 200 and f'<span class="sub">{title}</span>' in shown.text, shown.text


def test_how_an_import_ended_is_said_in_the_offices_language() -> None:
    """What a job wrote and rejected, in Italian with its plural; why it failed too, with what is inside; a message
    of no known shape as it is"""
    _ = translator("it")

    def job(status: ImportStatus, written: int = 0, invalid: int = 0, detail: str | None = None) -> ImportJob:
        return ImportJob(kind=ImportKind.contacts, status=status, rows_written=written, rows_invalid=invalid,
                         detail=detail)
    assert outcome(job(ImportStatus.done, 1), _) == "1 riga scritta"
    assert outcome(job(ImportStatus.done, 3, 1), _) == "3 righe scritte, 1 scartata"
    assert outcome(job(ImportStatus.done, 0, 2), _) == "0 righe scritte, 2 scartate"
    assert outcome(job(ImportStatus.refused, 0, 2), _) == "2 righe non valide: non è stato scritto nulla (tutto o niente)"
    assert outcome(job(ImportStatus.failed, detail="stopped (OSError): nothing was written"), _) == \
        "interrotta (OSError): non è stato scritto nulla"
    unreadable = reading.FileUnreadable(reading.NOT_ENCODED_ROW, row=7, encoding="utf-8", reason="invalid start byte")
    assert outcome(job(ImportStatus.failed, detail=run.UNREADABLE.format(reason=unreadable)), _) == \
        "riga 7: il file non è in utf-8 (invalid start byte): non è stato scritto nulla"
    unclosed = reading.FileUnreadable(reading.UNCLOSED_QUOTE, row=4)
    assert outcome(job(ImportStatus.failed, detail=run.UNREADABLE.format(reason=unclosed)), _) == (
        'riga 4: una cella si apre con una virgoletta (") che non si chiude mai, quindi il resto del file è stato letto '
        "al suo interno: chiudere la virgoletta o toglierla: non è stato scritto nulla")
    interrupted = sweep.INTERRUPTED.format(seen="2026-12-05 10:00:00", why=sweep.STOPPED_IMPORTING)
    assert outcome(job(ImportStatus.failed, detail=interrupted), _) == (
        "interrotta: nessun avanzamento dal 2026-12-05 10:00:00 UTC (l'API si è fermata durante l'importazione); "
        "non è stato scritto nulla, invia di nuovo il file")
    assert outcome(job(ImportStatus.failed, detail="the disk is full"), _) == "the disk is full"
    assert outcome(job(ImportStatus.failed, detail=interrupted), translator("en")) == interrupted
    assert outcome(job(ImportStatus.validating), _) == ""


class Admin:
    role, user_id = ApiRole.admin, None


ROWS = {  # what an office's spreadsheet gets wrong, row by row: the checker's own message for each
    ImportKind.contacts: (["Nome", "Email", "Riservato", "Titolare", "Telefono"], [
        ["Anna", "non-un-indirizzo", "", "", ""], ["Bruno", "b@example.org", "forse", "", ""],
        ["Carla", "c@example.org", "", "", "", "in più"], ["", "d@example.org", "", "", ""],
        ["Dario", "d@example.org", "", "nessuno", ""], ["Elena\x00", "e@example.org", "", "", ""],
        ["Franco", "f@example.org", "", "", "9" * 41]]),
    ImportKind.cases: (["Pratica", "Stato", "Partecipanti", "Etichette"], [
        ["Sinistro", "sospesa", "", ""], ["Sinistro", "aperta", "nessuno@example.org", ""],
        ["", "aperta", "", ""], ["Sinistro", "aperta", "", "x" * 200]]),
}


@pytest.mark.parametrize("kind", list(ROWS))
async def test_each_rows_mistake_is_said_in_italian(kind: ImportKind) -> None:
    """Row by row, the message the import keeps (in English, as the API gives it) reads back in Italian on the
    console, row and column too; in English as it is"""
    columns, rows = ROWS[kind]
    checker = RowChecker(None, kind, columns, default_mapping(kind, columns), Admin())  # type: ignore[arg-type]
    checker._users = {"nessuno": None}  # looked up once each: known absent, so no database is asked
    checker._contacts = {"nessuno@example.org": None}
    for n, values in enumerate(rows, start=2):
        with pytest.raises(RowError) as refused:
            await checker.check(values)
        message = f"row {n}, {refused.value}"
        said = import_error_in(message, translator("it"))
        assert import_error_in(message, translator("en")) == message
        assert said.startswith(f"riga {n}") and said != message, message
        english = re.sub(r"'[^']*'|\([^)]*\)|\S+@\S+", "", said.split(": ", 1)[1])
        assert not re.search(r"\b(the|is|not|should|values|columns|at most|needs|holds|must|characters|with|user)\b", english), said


def test_a_mapping_mistake_is_said_in_italian() -> None:
    errors = mapping_errors(ImportKind.contacts, ["Nome", "Nome2"], {"Nome": "email", "Nome2": "email"})
    said = import_error_in("; ".join(errors), translator("it"))
    assert said == ("associazione: le colonne 'Nome' e 'Nome2' vanno entrambe in 'email'; associazione: nessuna "
                    "colonna va in 'title', che serve a ogni riga"), said


async def test_a_file_refused_as_it_arrives_is_said_in_the_consoles_language(console_in_each_language: Any, sessions: Any) -> None:
    """An empty file: 422, said in the office's language, and no import left in the list"""
    locale, client = console_in_each_language
    staff = await staff_user(sessions)
    async with client() as browser:
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        token = csrf_token(await browser.get("/console/imports"))
        sent = await browser.post("/console/imports", data={"csrf_token": token, "kind": "contacts"},
                                  files={"file": ("vuoto.csv", b"\r\n", "text/csv")})
    assert sent.status_code == 422, sent.text
    said = {"en": "the file is empty: its first line must name the columns",
            "it": "il file è vuoto: la prima riga deve nominare le colonne"}[locale]
    assert said in html.unescape(sent.text)
    async with client() as browser:  # Excel's "Unicode text": UTF-16, which no setting reads as CSV
        assert (await sign_in_async(browser, staff.user.handle, staff.password)).status_code == 303
        token = csrf_token(await browser.get("/console/imports"))
        sent = await browser.post("/console/imports", data={"csrf_token": token, "kind": "contacts"},
                                  files={"file": ("contatti.txt", "Nome\tEmail\r\nAnna\ta@x.it\r\n".encode("utf-16"),
                                                  "text/plain")})
    assert sent.status_code == 422, sent.text
    said = {"en": "the file is UTF-16, as Excel saves 'Unicode text': save it as 'CSV UTF-8' and send it again",
            "it": "il file è in UTF-16, come Excel salva il 'Testo Unicode': salvarlo come 'CSV UTF-8' e inviarlo "
                  "di nuovo"}[locale]
    assert said in html.unescape(sent.text)
    async with sessions() as session:
        assert not (await session.exec(select(ImportJob).where(ImportJob.user_id == staff.user.id))).all()
