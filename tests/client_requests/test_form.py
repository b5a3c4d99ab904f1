"""The client's form over ASGI on both databases: shown in the request's language, every bad input refused with
its message and nothing stored, one submission kept in one transaction, links that cannot be used."""

from __future__ import annotations

import asyncio
import html as html_text
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from api.app import create_app
from crm.client_requests.models import ClientRequest, ClientRequestSubmission, RequestStatus
from crm.documents.models import Document
from crm.types import utcnow
from renderer.pool import shared_pool
from settings import Settings
from tests.client_requests.conftest import MAX_FILE_BYTES, Env, csrf_of, serve_env
from tests.documents.files import pdf, png

GOOD = {"q.dependants": "2", "q.status": "Coniugato", "q.moved": "yes", "q.moved_on": "31/03/2026",
        "q.expenses": ["Mediche", "Mutuo"], "q.iban": "IT60X0542811101000000123456", "q.notes": "Grazie"}


async def _open(env: Env, token: str) -> str:
    page = await env.http.get(f"/r/{token}")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def _post(env: Env, token: str, csrf: str, data: dict[str, Any] | None = None,
                file: tuple[str, bytes, str] | None = ("cu.pdf", b"", "application/pdf")) -> Any:
    files = {"q.cu": file} if file is not None else None
    if file is not None and not file[1]:
        files = {"q.cu": ("cu.pdf", pdf(), "application/pdf")}
    return await env.http.post(f"/r/{token}", data={"csrf_token": csrf, **(GOOD if data is None else data)},
                               files=files)


async def _stored(env: Env, request_id: int, record_id: int | None) -> tuple[Any, ...]:
    async with env.sessions() as session:
        request = await session.get(ClientRequest, request_id)
        submissions = (await session.exec(select(ClientRequestSubmission).where(
            ClientRequestSubmission.request_id == request_id))).all()
        documents = (await session.exec(select(Document).where(Document.record_id == record_id))).all() \
            if record_id else []
    assert request is not None
    return request, list(submissions), list(documents)


async def _nothing_stored(env: Env, request_id: int, record_id: int) -> None:
    request, submissions, documents = await _stored(env, request_id, record_id)
    assert (request.status, request.answers, request.submitted_at) == (RequestStatus.pending, None, None)
    assert submissions == [] and documents == [] and env.files() == []


async def test_the_form_is_plain_accessible_html_in_the_request_language(env: Env) -> None:
    """Every question labelled, choices in fieldsets with legends, no script, the request's language"""
    _, token = await env.request(await env.record())
    page = await env.http.get(f"/r/{token}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="it">' in html and "<script" not in html and 'name="viewport"' in html
    assert '<label for="q-dependants">Familiari a carico' in html and "(obbligatorio)" in html
    assert '<legend>Stato civile' in html and 'type="radio" name="q.status"' in html
    assert 'aria-describedby="q-iban-help"' in html and 'enctype="multipart/form-data"' in html
    assert 'accept="application/pdf,image/png,.pdf,.png"' in html
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "samesite=strict" in page.headers["set-cookie"].lower()
    for language, word in (("fr", "Envoyer"), ("de", "Senden"), ("en", "Send"), ("pt", "Send")):
        _, token = await env.request(await env.record(), language=language)
        html = (await env.http.get(f"/r/{token}")).text
        assert f">{word}</button>" in html, language


async def test_a_valid_submission_is_kept_once_with_its_file_as_a_document(env: Env) -> None:
    record_id = await env.record()
    request, token = await env.request(record_id)
    answered = await _post(env, token, await _open(env, token))
    assert answered.status_code == 200, answered.text
    assert "<h1>Grazie</h1>" in answered.text
    stored, submissions, documents = await _stored(env, request.id, record_id)
    assert stored.status == RequestStatus.submitted and stored.submitted_at is not None
    assert len(submissions) == 1 and submissions[0].delivered_at is not None  # delivered after the commit
    assert [d.name for d in documents] == ["cu.pdf"]
    answers = stored.answers
    assert answers["dependants"] == 2 and answers["status"] == "Coniugato" and answers["moved"] is True
    assert answers["moved_on"] == "2026-03-31" and answers["expenses"] == ["Mediche", "Mutuo"]
    assert answers["cu"][0]["document_id"] == documents[0].id and answers["cu"][0]["content_type"] == "application/pdf"
    assert "storage_key" not in answers["cu"][0] and len(env.files()) == 1
    again = await _post(env, token, "x")  # answered before its CSRF token is even read
    assert again.status_code == 409 and "Già inviato" in again.text
    shown = await env.http.get(f"/r/{token}")
    assert shown.status_code == 200 and "Già inviato" in shown.text
    assert len((await _stored(env, request.id, record_id))[1]) == 1 and len(env.files()) == 1


BAD: dict[str, tuple[dict[str, Any] | None, tuple[str, bytes, str] | None, str, str]] = {
    # name: (fields, file, question with the message, part of the message)
    "missing required answer": ({**GOOD, "q.dependants": ""}, ("", b"", ""), "dependants",
                                "Questa risposta è obbligatoria"),
    "missing required file": (GOOD, None, "cu", "Questa risposta è obbligatoria"),
    "not a number": ({**GOOD, "q.dependants": "due"}, ("", b"", ""), "dependants", "Scrivere un numero"),
    "not a date": ({**GOOD, "q.moved_on": "31/02/2026"}, ("", b"", ""), "moved_on", "Scrivere una data"),
    "not an option": ({**GOOD, "q.status": "Vedovo"}, ("", b"", ""), "status", "Scegliere una delle opzioni"),
    "oversize file": (GOOD, ("cu.pdf", pdf() + b"0" * MAX_FILE_BYTES, "application/pdf"), "cu",
                      "si accetta al massimo 50 KB"),
    "content not its name": (GOOD, ("cu.pdf", png(), "application/pdf"), "cu",
                             "Il contenuto di questo file è PNG, ma il suo nome non finisce in .png"),
    "declared type not its content": (GOOD, ("cu.png", png(), "application/pdf"), "cu", "non corrisponde"),
    "kind not accepted": (GOOD, ("cu.txt", b"just text\n", "text/plain"), "cu", "accettati: PDF, PNG"),
    "text not in UTF-8, not accepted": (GOOD, ("cu.txt", "Però".encode("cp1252"), "text/plain"), "cu",
                                        "Questo file è TXT; accettati: PDF, PNG"),
    "unknown kind": (GOOD, ("cu.exe", b"MZ\x90\x00" + bytes(range(256)) * 4, "application/octet-stream"), "cu",
                     "non si può accettare"),
    "empty file": (GOOD, ("cu.pdf", b"", "application/pdf"), "cu", "vuoto"),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_a_bad_answer_shows_the_form_again_with_its_message_and_stores_nothing(env: Env, case: str) -> None:
    fields, file, question, message = BAD[case]
    record_id = await env.record()
    request, token = await env.request(record_id)
    csrf = await _open(env, token)
    if file == ("", b"", ""):
        file = ("cu.pdf", b"", "application/pdf")  # a good PDF (see _post)
        answered = await _post(env, token, csrf, fields)
    else:
        answered = await env.http.post(f"/r/{token}", data={"csrf_token": csrf, **(fields or {})},
                                       files={"q.cu": file} if file else None)
    assert answered.status_code == 422, answered.text
    html = answered.text
    assert f'<p class="error" id="q-{question}-error">' in html and message in html, html
    assert f'href="#q-{question}"' in html and f'q-{question}-error"' in html and 'aria-invalid="true"' in html
    assert 'role="alert"' in html
    await _nothing_stored(env, request.id, record_id)


async def test_a_number_is_read_in_the_request_language(env: Env) -> None:
    """In an Italian form 1.250 is one thousand two hundred and fifty and 1.2.3 no number; in an English one 1,250.50
    is a number and 1.250,50 none: the form again with the message naming the question, in its language"""
    record_id = await env.record()
    request, token = await env.request(record_id)
    csrf = await _open(env, token)
    refused = await _post(env, token, csrf, {**GOOD, "q.dependants": "1.2.3"})
    assert refused.status_code == 422, refused.text
    assert '<a href="#q-dependants">Familiari a carico: Scrivere un numero' in refused.text
    assert 'value="1.2.3"' in refused.text  # kept, to be corrected
    await _nothing_stored(env, request.id, record_id)
    answered = await _post(env, token, csrf, {**GOOD, "q.dependants": "1.250"})
    assert answered.status_code == 200, answered.text
    assert (await _stored(env, request.id, record_id))[0].answers["dependants"] == 1250

    record_id = await env.record()
    request, token = await env.request(record_id, language="en")
    csrf = await _open(env, token)
    refused = await _post(env, token, csrf, {**GOOD, "q.dependants": "1.250,50"})
    assert refused.status_code == 422 and "Familiari a carico: Write a number" in refused.text
    stored, submissions, documents = await _stored(env, request.id, record_id)
    assert (stored.status, stored.answers, submissions, documents) == (RequestStatus.pending, None, [], [])
    answered = await _post(env, token, csrf, {**GOOD, "q.dependants": "1,250.50"})
    assert answered.status_code == 200, answered.text
    assert (await _stored(env, request.id, record_id))[0].answers["dependants"] == 1250.5


SPACED: list[dict[str, Any]] = [
    {"key": "c", "type": "choice", "label": "Con spazi", "options": ["  spazi  ", "altro"], "required": True}]


async def test_an_option_saved_with_spaces_around_it_can_be_chosen(env: Env) -> None:
    """Options are trimmed when the template is saved; a request copied before that keeps its options' spaces, and
    the answer (trimmed) is compared with them trimmed"""
    record_id = await env.record()
    request, token = await env.request(record_id, questions=SPACED)
    page = await env.http.get(f"/r/{token}")
    found = re.search(r'id="q-c-1" value="([^"]*)"', page.text)
    assert found, page.text
    answered = await env.http.post(f"/r/{token}", data={"csrf_token": csrf_of(page.text), "q.c": found.group(1)})
    assert answered.status_code == 200, answered.text
    assert (await _stored(env, request.id, record_id))[0].answers == {"c": "spazi"}

    record_id = await env.record()
    legacy, token = await env.request(record_id, questions=SPACED)
    async with env.sessions() as session:
        row = await session.get(ClientRequest, legacy.id)
        row.questions = [dict(q) for q in SPACED]  # as copied from a template saved before options were trimmed
        await session.commit()
    page = await env.http.get(f"/r/{token}")
    assert 'id="q-c-1" value="  spazi  "' in page.text
    answered = await env.http.post(f"/r/{token}", data={"csrf_token": csrf_of(page.text), "q.c": "  spazi  "})
    assert answered.status_code == 200, answered.text
    assert (await _stored(env, legacy.id, record_id))[0].answers == {"c": "  spazi  "}


async def test_a_long_text_counts_its_line_breaks_as_the_browser_does(env: Env) -> None:
    """A textarea's 9,999 characters over 100 lines, within its maxlength of 10,000 (each line break one character),
    are sent with CRLF line breaks: accepted, and kept with LF ones"""
    record_id = await env.record()
    request, token = await env.request(record_id)
    lines = ["x" * 99] * 100
    assert len("\n".join(lines)) == 9_999
    answered = await _post(env, token, await _open(env, token), {**GOOD, "q.notes": "\r\n".join(lines)})
    assert answered.status_code == 200, answered.text
    assert (await _stored(env, request.id, record_id))[0].answers["notes"] == "\n".join(lines)


AGAIN = {"it": "Il file scelto (cu.pdf) non è stato conservato: sceglierlo di nuovo prima di inviare.",
         "fr": "Le fichier choisi (cu.pdf) n'a pas été conservé : choisissez-le de nouveau avant d'envoyer.",
         "de": "Die gewählte Datei (cu.pdf) wurde nicht behalten: Wählen Sie sie vor dem Senden erneut aus.",
         "en": "The file you chose (cu.pdf) was not kept: choose it again before sending."}


@pytest.mark.parametrize("language", sorted(AGAIN))
async def test_a_file_sent_with_a_mistake_is_said_to_be_chosen_again(env: Env, language: str) -> None:
    """Browsers cannot keep a chosen file in a form shown again: the page says, at the file's question and in the
    summary, that it must be chosen again; not when no file was sent, nor for a file refused for itself"""
    record_id = await env.record()
    request, token = await env.request(record_id, language=language)
    csrf = await _open(env, token)
    answered = await _post(env, token, csrf, {**GOOD, "q.dependants": "due"})
    assert answered.status_code == 422, answered.text
    page = html_text.unescape(answered.text)
    assert f'<p class="error" id="q-cu-again">{AGAIN[language]}</p>' in page, page
    assert f'<a href="#q-cu">Certificazione Unica: {AGAIN[language]}</a>' in page
    field = re.search(r'<input type="file" id="q-cu"[^>]*>', page)
    assert field and 'aria-describedby="q-cu-again q-cu-hint"' in field.group(0)
    assert "aria-invalid" not in field.group(0)  # nothing wrong with it: it is gone
    assert 'role="alert"' in page and "q-dependants-error" in page
    await _nothing_stored(env, request.id, record_id)

    no_file = await _post(env, token, csrf, {**GOOD, "q.dependants": "due"}, file=None)
    assert no_file.status_code == 422 and "q-cu-again" not in no_file.text
    refused_itself = await _post(env, token, csrf, {**GOOD, "q.dependants": "due"}, file=("cu.pdf", png(), "image/png"))
    assert refused_itself.status_code == 422 and "q-cu-again" not in refused_itself.text
    assert 'id="q-cu-error"' in refused_itself.text
    await _nothing_stored(env, request.id, record_id)


async def test_a_form_without_its_csrf_token_or_cookie_is_refused(env: Env) -> None:
    record_id = await env.record()
    request, token = await env.request(record_id)
    csrf = await _open(env, token)
    assert (await _post(env, token, "0" * 64)).status_code == 403
    cookies = dict(env.http.cookies)
    env.http.cookies.clear()
    refused = await _post(env, token, csrf)
    assert refused.status_code == 403 and "Il modulo non si è potuto leggere" in refused.text
    env.http.cookies.update(cookies)
    await _nothing_stored(env, request.id, record_id)


async def test_two_forms_open_in_one_browser_each_keep_their_cookie(env: Env) -> None:
    """Opening a second request's form replaced the first one's cookie (one cookie for all of /r/): the first form,
    sent after, was refused and its answers lost"""
    record_id = await env.record()
    first, first_token = await env.request(record_id)
    second, second_token = await env.request(record_id)
    first_csrf, second_csrf = await _open(env, first_token), await _open(env, second_token)
    assert (await _post(env, first_token, first_csrf)).status_code == 200
    assert (await _post(env, second_token, second_csrf)).status_code == 200
    for request in (first, second):
        assert (await _stored(env, request.id, record_id))[0].status == RequestStatus.submitted
    # a cookie an earlier version scoped to all of /r/, sent beside the form's own, does not refuse it
    third, third_token = await env.request(record_id)
    third_csrf = await _open(env, third_token)
    assert f"Path=/r/{third_token};" in (await env.http.get(f"/r/{third_token}")).headers["set-cookie"]
    env.http.cookies.set("stagecoach_form", "0" * 64, path="/r/")
    assert (await _post(env, third_token, third_csrf)).status_code == 200


async def test_links_that_cannot_be_used_get_a_clear_page_with_the_right_status(env: Env) -> None:
    record_id = await env.record()
    expired, expired_token = await env.request(record_id, language="fr")
    cancelled, cancelled_token = await env.request(record_id, language="de")
    async with env.sessions() as session:
        row = await session.get(ClientRequest, expired.id)
        row.expires_at = utcnow() - timedelta(minutes=1)
        other = await session.get(ClientRequest, cancelled.id)
        other.status = RequestStatus.cancelled
        await session.commit()
    page = await env.http.get(f"/r/{expired_token}")
    assert page.status_code == 410 and "Ce lien a expiré" in page.text and '<html lang="fr">' in page.text
    posted = await _post(env, expired_token, "x")
    assert posted.status_code == 410
    page = await env.http.get(f"/r/{cancelled_token}")
    assert page.status_code == 410 and "zurückgezogen" in page.text
    unknown = await env.http.get(f"/r/{'A' * 43}", headers={"Accept-Language": "de-CH,de;q=0.9,en;q=0.5"})
    assert unknown.status_code == 404 and "Link nicht gefunden" in unknown.text
    english = await env.http.get(f"/r/{'B' * 43}", headers={"Accept-Language": "ja"})
    assert english.status_code == 404 and "Link not found" in english.text
    await _nothing_stored(env, expired.id, record_id)


async def test_a_link_a_resend_replaced_says_when_a_newer_one_was_sent_and_is_no_guess(env: Env) -> None:
    """The older email's link said "not found", as a mistyped one: it now says a newer link was sent and when, is not
    counted as a guess, and once the request is answered through the new link says that"""
    record_id = await env.record()
    request, old_token = await env.request(record_id)
    resent = await env.http.post(f"/client-requests/{request.id}/resend", headers=env.as_("staff"))
    assert resent.status_code == 200, resent.text
    new_token = resent.json()["link"].rsplit("/", 1)[1]
    today = f"{utcnow().astimezone(env.settings.zone):%d/%m/%Y}"
    for _ in range(7):  # past the guess limit (5), were they counted
        page = await env.http.get(f"/r/{old_token}")
        assert page.status_code == 410 and "Questo collegamento è stato sostituito" in page.text, page.text
        assert f"Il {today} le abbiamo inviato per email un collegamento più recente" in page.text
    assert (await _post(env, old_token, "x")).status_code == 410
    await _nothing_stored(env, request.id, record_id)
    assert (await _post(env, new_token, await _open(env, new_token))).status_code == 200
    answered = await env.http.get(f"/r/{old_token}")
    assert answered.status_code == 200 and "Già inviato" in answered.text


async def test_a_date_shown_again_is_written_as_the_date_field_takes_it_and_nul_is_dropped(env: Env) -> None:
    """31/03/2026, as the hint says, was echoed as it was into a date field, which drops what is not 2026-03-31: the
    answer was lost; a NUL pasted into a text answer was kept"""
    record_id = await env.record()
    request, token = await env.request(record_id)
    csrf = await _open(env, token)
    again = await _post(env, token, csrf, {**GOOD, "q.dependants": "due"})
    assert again.status_code == 422 and 'value="2026-03-31"' in again.text, again.text
    answered = await _post(env, token, csrf, {**GOOD, "q.notes": "Gra\x00zie"})
    assert answered.status_code == 200, answered.text
    stored, _, _ = await _stored(env, request.id, record_id)
    assert stored.answers["notes"] == "Grazie"


async def test_the_form_says_until_what_time_it_can_be_sent(env: Env) -> None:
    request, token = await env.request(await env.record(), language="de")
    until = request.expires_at.astimezone(env.settings.zone)
    page = await env.http.get(f"/r/{token}")
    assert f"Dieses Formular kann bis {until:%d.%m.%Y} um {until:%H:%M} Uhr gesendet werden." in page.text


async def test_a_text_file_not_in_utf8_is_asked_for_again_in_utf8(env: Env) -> None:
    """A CSV saved by Excel as Windows-1252 (or as UTF-16) was refused as "this kind of file cannot be accepted"."""
    record_id = await env.record()
    request, token = await env.request(record_id, questions=[
        {"key": "spese", "type": "file", "label": "Elenco spese", "required": True, "accept": ["text/csv"]}])
    csrf = await _open(env, token)
    for data in ("voce;importo\nperizia;350,00 €\n".encode("cp1252"), "voce;importo\n".encode("utf-16")):
        answered = await env.http.post(f"/r/{token}", data={"csrf_token": csrf},
                                       files={"q.spese": ("spese.csv", data, "text/csv")})
        assert answered.status_code == 422, answered.text
        assert "Questo file di testo non è in UTF-8: salvarlo di nuovo come UTF-8 (in Excel: «CSV UTF-8»)" \
            in html_text.unescape(answered.text)
    await _nothing_stored(env, request.id, record_id)
    answered = await env.http.post(f"/r/{token}", data={"csrf_token": csrf}, files={
        "q.spese": ("spese.csv", "voce;importo\nperizia;350,00 €\n".encode(), "text/csv")})
    assert answered.status_code == 200, answered.text


async def test_a_file_with_a_long_name_or_a_bom_before_its_pdf_header_is_kept(env: Env) -> None:
    """A name over 255 characters (a scanner's) is shortened, its ending kept; a PDF a mailer put a BOM before opens
    in every reader and is kept as a PDF"""
    record_id = await env.record()
    request, token = await env.request(record_id)
    name = "Certificazione unica 2026 scansionata " * 8 + ".pdf"
    answered = await _post(env, token, await _open(env, token), file=(name, b"\xef\xbb\xbf" + pdf(), "application/pdf"))
    assert answered.status_code == 200, answered.text
    _, _, [document] = await _stored(env, request.id, record_id)
    assert len(document.name) == 255 and document.name.endswith("….pdf")
    assert document.name.startswith("Certificazione unica 2026 scansionata ")


async def test_an_address_guessing_tokens_is_slowed_down(env: Env) -> None:
    """Five unknown tokens from one address: the sixth try gets 429, even with a good token"""
    _, token = await env.request(await env.record())
    for n in range(5):
        assert (await env.http.get(f"/r/guess{n}")).status_code == 404
    assert (await env.http.get("/r/guess-more")).status_code == 429
    blocked = await env.http.get(f"/r/{token}")
    assert blocked.status_code == 429 and "Too many attempts" in blocked.text


async def test_two_submissions_at_once_keep_one(env: Env) -> None:
    record_id = await env.record()
    request, token = await env.request(record_id)
    csrf = await _open(env, token)
    answers = await asyncio.gather(_post(env, token, csrf), _post(env, token, csrf))
    assert sorted(a.status_code for a in answers) == [200, 409]
    _, submissions, documents = await _stored(env, request.id, record_id)
    assert len(submissions) == 1 and len(documents) == 1 and len(env.files()) == 1


async def test_an_unlinked_request_keeps_its_files_until_it_is_linked(env: Env) -> None:
    request, token = await env.request(None)
    answered = await _post(env, token, await _open(env, token))
    assert answered.status_code == 200, answered.text
    stored, submissions, _ = await _stored(env, request.id, None)
    assert len(submissions) == 1 and stored.answers["cu"][0]["storage_key"].startswith(f"client-requests/{request.id}/")
    assert len(env.files()) == 1


async def test_a_form_over_the_body_limit_is_refused_unread_with_a_page(
        dev_env: Any, sessions: Any, database_url: str, task_queue: str, tmp_path: Any) -> None:
    """A body declared over CLIENT_REQUEST_MAX_BODY_BYTES: 413 with a page in the browser's language, nothing
    read; one sent without its length is cut off where it passes the limit"""
    settings = Settings(database_url=database_url, temporal_task_queue=task_queue, data_dir=tmp_path,
                        client_request_max_body_bytes=20_000, public_url="http://stagecoach")
    app = create_app(settings, temporal=dev_env.client, renderer=shared_pool())
    async with serve_env(app, sessions, settings, tmp_path) as env:
        record_id = await env.record()
        request, token = await env.request(record_id)
        csrf = await _open(env, token)
        big = await env.http.post(f"/r/{token}", headers={"Accept-Language": "it"}, data={"csrf_token": csrf, **GOOD},
                                  files={"q.cu": ("cu.pdf", pdf() + b"0" * 30_000, "application/pdf")})
        assert big.status_code == 413 and "Il modulo è troppo grande" in big.text and "20 KB" in big.text

        async def chunks() -> Any:
            yield b"--x\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n" + csrf.encode() + b"\r\n"
            for _ in range(10):
                yield b"--x\r\nContent-Disposition: form-data; name=\"q.notes\"\r\n\r\n" + b"n" * 5_000 + b"\r\n"
            yield b"--x--\r\n"

        streamed = await env.http.post(f"/r/{token}", content=chunks(),
                                       headers={"Content-Type": "multipart/form-data; boundary=x"})
        assert streamed.status_code == 413 and "troppo grande" in streamed.text
        await _nothing_stored(env, request.id, record_id)


MALFORMED: dict[str, tuple[str, bytes, int]] = {
    # name: (content type, body, status)
    "not a form": ("application/json", b'{"q.dependants": 2}', 400),
    # cut short: read as an empty form, which has no CSRF token
    "a broken multipart body": ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-da", 403),
    "no boundary": ("multipart/form-data", b"--x--\r\n", 400),
    "more files than questions": ("multipart/form-data; boundary=x", b"".join(
        b"--x\r\nContent-Disposition: form-data; name=\"q.cu\"; filename=\"%d.pdf\"\r\n\r\n%%PDF-1.4\r\n" % n
        for n in range(3)) + b"--x--\r\n", 400),
    "a text field over 1 MB": ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; "
                               b"name=\"q.notes\"\r\n\r\n" + b"n" * 1_100_000 + b"\r\n--x--\r\n", 400),
    "an urlencoded form without its token": ("application/x-www-form-urlencoded", b"q.dependants=2", 403),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_a_malformed_post_gets_a_page_never_a_server_error(env: Env, case: str) -> None:
    content_type, body, status = MALFORMED[case]
    record_id = await env.record()
    request, token = await env.request(record_id)
    await _open(env, token)
    answered = await env.http.post(f"/r/{token}", content=body, headers={"Content-Type": content_type})
    assert answered.status_code == status, answered.text
    assert answered.headers["content-type"].startswith("text/html") and "<h1>" in answered.text
    await _nothing_stored(env, request.id, record_id)
