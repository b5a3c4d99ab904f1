"""The `letter` and `report` actions: an HTML template made a PDF (its text read back, Italian, Polish, German and
French letters included), kept once as a document of the record, a new version when its phase runs again, and
emailed with the PDF attached to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlmodel import col, select

from activities.letters import document_name, escaped
from crm.documents import store
from crm.documents.models import Document, DocumentVersion
from crm.documents.storage import FolderStorage
from crm.models import HistoryEntry, HistoryKind, OutboxMessage
from processes.errors import RenderError
from processes.instance import ProcessStatus
from renderer.pdf import PdfRefused, html_to_pdf
from renderer.pool import RenderPool
from tests.factories import Factory
from tests.faults.conftest import smtp_server
from tests.polling import eventually
from tests.workflows.helpers import final_state, running_worker, start, template, until
from temporalio.testing import WorkflowEnvironment

WORDS = ("Perché", "Łódź", "Straße", "déjà", "żółć", "Ça")
LETTER_HTML = """<h1>Proposta per {{ record.title }}</h1>
<p>Gentile <b>{{ record.fields.client }}</b>, Perché non ci vediamo a <i>Łódź</i>? Straße, déjà vu, żółć. Ça va.</p>
<h2>Condizioni</h2>
<ul><li>Prezzo: {{ record.fields.price | currency('EUR') }}</li><li>Note: {{ record.fields.note }}</li></ul>
<ol><li>primo</li><li>secondo</li></ol>
<table border="1"><thead><tr><th>Voce</th><th>Importo</th></tr></thead>
<tbody><tr><td>Caparra</td><td>1.000 €</td></tr></tbody></table>"""


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_html_becomes_a_pdf_with_the_letters_of_italian_polish_german_and_french() -> None:
    pdf = html_to_pdf("<h2>Titolo</h2><p>" + " ".join(WORDS) + " <b>grassetto</b> <i>corsivo</i></p>"
                      "<ul><li>uno</li></ul><table border='1'><tr><td>a</td><td>b</td></tr></table>", title="Prova")
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    for word in (*WORDS, "Titolo", "grassetto", "corsivo", "uno"):
        assert word in text
    assert PdfReader(io.BytesIO(pdf)).metadata.title == "Prova"


@pytest.mark.parametrize(("html", "said"), [
    ('<img src="/etc/passwd">', "is not embedded"),
    ('<p><img src="http://127.0.0.1/logo.png"></p>', "is not embedded"),
    ("<table><tr><td>a</td></table></table>", "the end tag </table> at line 1 has no start: is every tag closed"),
    ("<p>Gentile cliente,</p>\n<p>ciao</b></p>", "the end tag </b> at line 2 has no start"),  # fpdf2 printed it
    ('<img src="data:image/png;base64,AAAA">', "^an image's data: URI does not hold a PNG, JPEG or GIF image that "
                                               "can be read$"),  # it said `<_io.BytesIO object at 0x7f...>`
    ('<font color="javascript:alert(1)">x</font>', r"^a color is written as #rrggbb \(#c00000\) or by its name"),
], ids=["local file", "web address", "stray end tag", "stray end tag fpdf2 took", "unreadable image", "not a color"])
def test_what_cannot_be_made_a_pdf_is_refused(html: str, said: str) -> None:
    with pytest.raises(PdfRefused, match=said):
        html_to_pdf(html)


def test_a_stylesheet_a_script_and_the_head_are_not_printed() -> None:
    """CSS is not read: its text was typeset into the client's letter, and a script's with it"""
    html = ("<html><head><title>Offerta</title><style>body {color: red}</style></head><body>"
            "<script>alert(1)</script><p>Gentile cliente,<p>le scriviamo<ul><li>uno<li>due</ul></body></html>")
    assert text_of(html_to_pdf(html)).split() == ["Gentile", "cliente,", "le", "scriviamo", "•", "uno", "•", "due"]


def test_a_rendered_name_is_one_file_name_ending_in_pdf() -> None:
    assert document_name("Proposta  Via Roma 3/B\n") == "Proposta Via Roma 3-B.pdf"
    assert document_name("Report C:\\x.PDF") == "Report C:-x.PDF"


def test_values_are_escaped_for_html() -> None:
    assert escaped({"record": {"title": "A & B <i>", "n": 3, "list": ["<x>"]}}) == \
        {"record": {"title": "A &amp; B &lt;i&gt;", "n": 3, "list": ["&lt;x&gt;"]}}


async def test_the_pool_makes_pdfs_in_a_child_and_refuses_bad_html() -> None:
    pool = RenderPool(processes=1)
    try:
        pdf = await pool.pdf("<p>Łódź</p>", where="letter.html", title="T")
        assert "Łódź" in text_of(pdf)
        with pytest.raises(RenderError, match=r"^letter\.html: the image"):
            await pool.pdf('<img src="file:///etc/passwd">', where="letter.html")
    finally:
        await pool.close()


async def test_a_letter_is_kept_once_as_a_document_and_emailed_with_its_pdf(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        tmp_path: Path) -> None:
    client = time_skipping_env.client
    owner = await factory.user(name="Marco Verdi", email="marco@agency.example")
    record = await factory.record(owner=owner, title="Villa <Sole> & Mare", email="anna@example.org",
                                  fields={"client": "Anna Kowalska", "price": 250000, "note": "a < b"})
    letter = {"letter": {"name": "Proposta {{ record.fields.client }}", "html": LETTER_HTML,
                         "email": {"subject": "La proposta per {{ record.title }}",
                                   "body": "In allegato la proposta.\n{{ owner.name }}"}}}
    looped = {"key": "offer", "name": "Offer", "actions": [letter, {"report": {"html": "<p>{{ record.status }}</p>",
                                                                               "name": "Stato"}}],
              "decision": [{"when": "phases.offer.iteration < 1", "goto": "offer"}]}
    async with smtp_server() as smtp, running_worker(client, sessions, task_queue, smtp_host="127.0.0.1",
                                                     smtp_port=smtp.port, smtp_from="agenzia@agency.example",
                                                     documents_dir=tmp_path, locale="it"):
        handle = await start(client, task_queue, template(looped, locale="it"), record.id, owner.id)
        state = await asyncio.wait_for(final_state(handle), 60)

        async def both_mails() -> bool:
            return len([d for d in smtp.seen() if "anna@example.org" in str(d.message["To"])]) == 2
        await eventually(both_mails, 30, "the letter emailed in each iteration")

    assert state.status is ProcessStatus.completed, state
    async with sessions() as session:
        documents = (await session.exec(select(Document).where(Document.record_id == record.id)
                                        .order_by(col(Document.id)))).all()
        assert [(d.name, d.current_version) for d in documents] == [("Proposta Anna Kowalska.pdf", 2),
                                                                    ("Stato.pdf", 2)]
        versions = (await session.exec(select(DocumentVersion).where(DocumentVersion.document_id == documents[0].id)
                                       .order_by(col(DocumentVersion.number)))).all()
        assert [v.content_type for v in versions] == ["application/pdf"] * 2
        lines = (await session.exec(select(HistoryEntry).where(HistoryEntry.workflow_id == handle.id))).all()
        outbox = (await session.exec(select(OutboxMessage).where(OutboxMessage.workflow_id == handle.id))).all()
    # the history reads in the order things happened: the process and its phase started, then the letter made
    kinds = [line.kind for line in sorted(lines, key=lambda line: line.id or 0)]
    assert kinds[:3] == [HistoryKind.process_started, HistoryKind.phase_started,
                         HistoryKind.document_added], kinds
    # and at the end: the report, the last action, made before its phase is done (it was written after the end)
    assert kinds[-4:] == [HistoryKind.document_version_added, HistoryKind.phase_done, HistoryKind.decision,
                          HistoryKind.process_ended], " ".join(k.value for k in kinds)
    made = [line.text for line in lines if line.kind is HistoryKind.document_version_added]
    # in the office's language (LOCALE=it), the document's name as the template wrote it
    assert "Lettera creata: Proposta Anna Kowalska.pdf (versione 2)" in made and len(made) == 2
    assert len(outbox) == 2 and all(m.attachments[0]["content_type"] == "application/pdf" for m in outbox)
    stored = await store.read(FolderStorage(tmp_path), versions[0])
    text = text_of(stored)
    for word in WORDS:
        assert word in text
    assert "Villa <Sole> & Mare" in text and "Note: a < b" in text and "Prezzo: 250.000 €" in text
    mail = [d.message for d in smtp.seen() if "anna@example.org" in str(d.message["To"])][0]
    assert str(mail["Subject"]) == "La proposta per Villa <Sole> & Mare"
    [attached] = list(mail.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename() == "Proposta Anna Kowalska.pdf"
    assert "Łódź" in text_of(attached.get_payload(decode=True))


async def test_a_retried_step_makes_no_second_version(sessions: Any, factory: Factory, tmp_path: Path) -> None:
    record = await factory.record()
    storage = FolderStorage(tmp_path)
    pdf = html_to_pdf("<p>Perché</p>")
    lines = []
    for _ in range(2):
        async with sessions() as session:
            lines.append(await store.add_once(session, storage, record_id=record.id, data=pdf, filename="L.pdf",
                                              declared="application/pdf", step_key=f"wf-{record.id}/p/0/0",
                                              actor="process", locale="en", words="letter_made"))
    assert lines[0].id == lines[1].id and lines[0].text == "Letter made: L.pdf (version 1)"
    async with sessions() as session:
        [document] = (await session.exec(select(Document).where(Document.record_id == record.id))).all()
        assert document.current_version == 1
    assert len(list((tmp_path / str(record.id)).iterdir())) == 1, "the second attempt's file is not left behind"


async def test_a_name_that_renders_to_nothing_is_an_incident_not_a_document_named_pdf(
        time_skipping_env: WorkflowEnvironment, sessions: Any, factory: Factory, task_queue: str,
        tmp_path: Path) -> None:
    client = time_skipping_env.client
    owner = await factory.user()
    record = await factory.record(owner=owner, title="Villa Rosa")
    letter = {"key": "offer", "name": "Offer", "actions": [
        {"letter": {"name": "{{ record.fields.get('cliente', '') }}", "html": "<p>Gentile cliente</p>"}}]}
    async with running_worker(client, sessions, task_queue, documents_dir=tmp_path):
        handle = await start(client, task_queue, template(letter), record.id, owner.id)
        state = await until(handle, lambda s: s.incident is not None)
    assert state.incident is not None and state.incident.error_type == "LetterInvalid"
    assert "the name renders to nothing" in state.incident.message
    async with sessions() as session:
        assert (await session.exec(select(Document).where(Document.record_id == record.id))).all() == []
