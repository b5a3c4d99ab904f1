"""The `letter` and `report` actions: an HTML Jinja2 template made a PDF, kept as a document of the record, and
optionally emailed with the PDF attached.

The HTML is rendered in the render pool with every value HTML-escaped (a title with `<` or `&` shows as written),
then made a PDF in the pool's PDF lane (`renderer/pdf.py`), never in the worker's event loop. The document is
kept once per step key (`crm/documents/store.add_once`): a retry finds it and makes no second version. The
email is an outbox message keyed `{step key}/email`, sent with one Message-ID however often it is tried
(`activities/outbox.py`), its PDF read back from the documents' storage.
"""

from __future__ import annotations

import html as markup
import re
from typing import Any

from pydantic import BaseModel
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities import bookkeeping
from activities.deps import Deps
from activities.errors import final, final_message
from activities.mailer import Attachment, sender_parts
from activities.outbox import send_once
from activities.send_email import resolve_recipient
from activities.step import ActionResult, OnceStep, StepInput, render, render_variables, step_activity
from crm.documents import store
from crm.documents.models import Document
from crm.documents.storage import StoredFileMissing, storage_for
from crm.idempotent import insert_new
from crm.models import HistoryEntry
from crm.types import utcnow
from processes.action_kinds import Letter
from processes.errors import DocumentInvalid, RenderError, RenderInterrupted
from processes.history_words import english, said


class LetterInput(BaseModel):
    step: StepInput
    action: Letter
    where: str = "letter"


def _author(sender: str) -> str:
    """The PDF's author: `SMTP_FROM`'s name (`Agenzia Rossi`), else its address."""
    name, address = sender_parts(sender)
    return name or address


def escaped(value: Any) -> Any:
    """The variables with every text HTML-escaped, so that values show as written in the HTML."""
    if isinstance(value, str):
        return markup.escape(value)
    if isinstance(value, dict):
        return {key: escaped(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [escaped(item) for item in value]
    return value


def one_line(text: str) -> str:
    return " ".join(text.split())


def document_name(rendered: str) -> str:
    """The file name a rendered `name` gives: on one line, a slash (a title "Via Roma 3/B") kept as a dash, never
    read as a folder, and `.pdf` at the end."""
    name = re.sub(r"[/\\]", "-", one_line(rendered))
    return name if name.lower().endswith(".pdf") else f"{name}.pdf"


class LetterActivities:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @step_activity("letter")
    async def letter(self, input: LetterInput) -> ActionResult:
        return await self._make(input, "Letter")

    @step_activity("report")
    async def report(self, input: LetterInput) -> ActionResult:
        return await self._make(input, "Report")

    async def _make(self, input: LetterInput, shown: str) -> ActionResult:
        action, deps = input.action, self.deps
        once = await OnceStep.prepare(deps, input.step)
        async with deps.sessions() as session:
            kept = (await session.exec(select(HistoryEntry)
                                       .where(HistoryEntry.step_key == once.step.step_key))).first()
        if kept is None:
            kept = await self._keep(input, once, shown)
        data: dict[str, Any] = {"document_id": kept.data["document_id"], "version": kept.data["version"]}
        kind = f"summary_{shown.lower()}"  # summary_letter, summary_report
        summary = english(kind, document=data["document_id"], version=data["version"])
        if action.email is not None:
            message = await self._email(input, once, kept, shown)
            summary = english(f"{kind}_emailed", document=data["document_id"], version=data["version"],
                              outcome=message.status.value, message=message.id, to=action.email.to)
            data["outbox_message_id"] = message.id
        return ActionResult(summary=summary, data=data, responsible_id=once.step.responsible_id)

    async def _keep(self, input: LetterInput, once: OnceStep, shown: str) -> HistoryEntry:
        """Render the PDF and keep it as a document, with the step's bookkeeping (and, when no email follows, the
        lines of its success)."""
        action, deps, step = input.action, self.deps, once.step
        async with deps.sessions() as session:
            variables = await render_variables(session, step, utcnow(), [action.name, action.html, action.title])
        name = document_name(await render(deps, step, action.name, variables, f"{input.where}.name", action.locale))
        if name == ".pdf":  # a name of values that were all empty
            raise final_message("LetterInvalid", f"{input.where}.name: the name renders to nothing (its values are "
                                                 "empty): write a fixed part, such as Proposta {{ record.title }}")
        html = await render(deps, step, action.html, escaped(variables), f"{input.where}.html", action.locale)
        title = one_line(await render(deps, step, action.title, variables, f"{input.where}.title", action.locale)) \
            if action.title else name.removesuffix(".pdf")
        try:
            pdf = await deps.renderer.pdf(html, where=f"{input.where}.html", title=title,
                                          author=_author(deps.settings.smtp_from))
        except RenderError as exc:
            raise final(exc) from None
        except RenderInterrupted as exc:
            raise ApplicationError(exc.message, type=exc.type) from None
        after = bookkeeping.after(step.books, deps.settings.locale) if action.email is None else []

        async def then(session: AsyncSession) -> None:  # the phase done, the process ended: after the document
            await insert_new(session, HistoryEntry, after)

        async with deps.sessions() as session:
            try:
                return await store.add_once(
                    session, storage_for(deps.settings), record_id=step.record_id, data=pdf, filename=name,
                    declared="application/pdf", step_key=step.step_key, actor=f"process {step.workflow_id}"[:200],
                    before=once.before, after=then, workflow_id=step.workflow_id, phase_key=step.phase_key,
                    locale=deps.settings.locale, words=f"{shown.lower()}_made")
            except DocumentInvalid as exc:
                raise final_message("LetterInvalid", f"{input.where}.name: {exc.message}") from None

    async def _email(self, input: LetterInput, once: OnceStep, kept: HistoryEntry, shown: str) -> Any:
        email, deps = input.action.email, self.deps
        assert email is not None

        async def compose(session: AsyncSession) -> tuple[str, str, str, list[Attachment]]:
            step = once.step
            document = await session.get(Document, kept.data["document_id"])
            if document is None:
                raise final_message("LetterMissing", f"the {shown.lower()}'s document {kept.data['document_id']} "
                                                     "was deleted before it was emailed")
            version = await store.version(session, document, kept.data["version"])
            try:
                pdf = await store.read(storage_for(deps.settings), version)
            except StoredFileMissing:
                raise final_message("LetterMissing", f"the file of document {document.id} is gone from the "
                                                     "storage") from None
            variables = await render_variables(session, step, utcnow(), [email.subject, email.body])
            to = await resolve_recipient(session, step, email.to)
            subject = await render(deps, step, email.subject, variables, f"{input.where}.email.subject",
                                   input.action.locale)
            body = await render(deps, step, email.body, variables, f"{input.where}.email.body", input.action.locale)
            return to, one_line(subject), body, [Attachment(version.name, "application/pdf", pdf)]

        return await send_once(deps, step_key=f"{once.step.step_key}/email", workflow_id=once.step.workflow_id,
                               record_id=once.step.record_id, compose=compose, phase_key=once.step.phase_key,
                               history=said(f"{shown.lower()}_sent"), after=once.after())
