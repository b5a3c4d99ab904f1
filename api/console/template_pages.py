"""Templates: the list with versions, one version as a readable outline, a diff between two versions, and
editing the YAML (admins), every error shown at its line.

A save goes through the API's own check (`validated_text`, in the render pool) and store
(`template_store.save`): a new immutable version, or none when nothing changed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api import source_text
from api.console import written_yaml
from api.console.checks_said import check_in
from api.console.i18n import translator
from api.console.web import SignedInDep, form, principal, redirect, render, text
from api.console.refusals import not_found_page, said_in
from api.deps import RendererDep, SessionDep, SettingsDep
from api.fields import digits
from api.routers.templates import validated_text
from crm import template_store
from crm.models import ApiRole
from crm.staff_sessions import SignedIn
from crm.template_models import ProcessTemplateVersion
from processes.errors import StagecoachError, TemplateInvalid
from renderer.pool import RenderPool
from processes.template import ProcessTemplate
from processes.upgrades import upgrade_template
from settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)
SOURCE = "the template"
_STEP = re.compile(r"([A-Za-z_][\w-]*)|\[(\d+)\]")
_AT_LINE = re.compile(r"(?:^|\bat )line (\d+)")  # a text's line (`line 2: ...`, `... at line 2`), or the document's


def yaml_text(definition: dict[str, Any]) -> str:
    """A stored version as a person would write it: upgraded to the current schema, without the defaults."""
    template = ProcessTemplate.model_validate(upgrade_template(definition))
    written = {"schema_version": template.schema_version, **template.model_dump(mode="json", exclude_defaults=True)}
    return written_yaml.written(written)


def shown_text(row: ProcessTemplateVersion) -> str:
    """A stored version as its author wrote it: the YAML text it was saved from, comments and all; else (saved as
    JSON, or before versions kept their text) as `yaml_text` writes it."""
    return source_text.shown(row.source_text, lambda: yaml_text(row.definition))


def _node_of(text: str, path: str) -> tuple[int | None, Any]:
    """The line of `text` (YAML) that `path` (`phases[2].actions[0].send_email.to`) points at, its deepest part found
    in the document, and that part's value when the whole path was found (else None)."""
    try:
        node: Any = yaml.compose(text)
    except (yaml.YAMLError, RecursionError):  # a document nested too deep (refused for that) has no line to show
        return None, None
    line = None
    for name, index in _STEP.findall(path):
        if isinstance(node, yaml.MappingNode) and name:
            found = next(((k, v) for k, v in node.value if getattr(k, "value", None) == name), None)
            if found is None:
                return line, None
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        else:
            return line, None
    return line, node


def line_of(text: str, path: str) -> int | None:
    """The line of `text` (YAML) that `path` points at: its deepest part found in the document."""
    return _node_of(text, path)[0]


def _text_line(text: str, path: str, line: int) -> int | None:
    """The line of `text` (YAML) where line `line` of the text at `path` is: a block (`body: |`) starts on the line
    after its key, any other text on its key's."""
    at, node = _node_of(text, path)
    if not isinstance(node, yaml.ScalarNode):
        return at
    first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
    return first + line - 1


def located(text: str, error: TemplateInvalid, _: Callable[[str], str]) -> list[dict[str, Any]]:
    """Each error with the line it is at, said as `_` says it (`checks_said.check_in`): a text's own line (`line 2:`,
    `at line 2`) within its value in the document; the document's own (a YAML mistake) as the reader gives it."""
    errors = []
    for detail in error.details or []:
        at = _AT_LINE.search(detail.message)
        line = (int(at.group(1)) if at and not detail.path else
                _text_line(text, detail.path, int(at.group(1))) if at else line_of(text, detail.path))
        errors.append({"line": line, "path": detail.path, "message": check_in(detail.message, _)})
    return errors


def summary(errors: list[dict[str, Any]], _: Callable[[str], str]) -> str:
    """The line above the errors: the first, and how many more (as `TemplateInvalid` says it, in `_`'s words)."""
    first = (f"{errors[0]['path']}: {errors[0]['message']}" if errors[0]["path"] else errors[0]["message"]) \
        if errors else ""
    more = len(errors) - 1
    return first if not more else _("{first} (and 1 more)" if more == 1 else "{first} (and {n} more)").format(
        first=first, n=more)


@router.get("/templates", response_class=HTMLResponse)
async def templates_page(request: Request, session: SessionDep, settings: SettingsDep,
                         signed: SignedInDep) -> HTMLResponse:
    return render(request, settings, "templates.html", templates=await template_store.summaries(session, limit=500))


def _version(value: str | None) -> int | None:
    return int(value) if value and digits(value) and len(value) < 8 else None


@router.get("/templates/{key}", response_class=HTMLResponse)
async def template_page(key: str, request: Request, session: SessionDep, settings: SettingsDep,
                        signed: SignedInDep) -> HTMLResponse:
    params = request.query_params
    try:
        row = await template_store.get_version(session, key[:63], _version(params.get("version")))
        latest = await template_store.latest(session, row.key)
        diff = None
        if (a := _version(params.get("from"))) and (b := _version(params.get("to"))):
            old = await template_store.get_version(session, row.key, a)
            new = await template_store.get_version(session, row.key, b)
            diff = list(difflib.unified_diff(yaml_text(old.definition).splitlines(),
                                             yaml_text(new.definition).splitlines(), f"v{a}", f"v{b}", lineterm=""))
    except StagecoachError as exc:
        return not_found_page(request, settings, key[:63], exc)
    assert latest is not None
    return render(request, settings, "template.html", row=row, template=template_store.load(row),
                  versions=range(latest.version, 0, -1), diff=diff, source=shown_text(row),
                  # by default the version shown against the one before it, not the latest against itself
                  diff_from=params.get("from") or str(max(row.version - 1, 1)),
                  diff_to=params.get("to") or str(row.version))


async def _nothing() -> None:
    return None


@dataclass
class Editor:
    """A YAML editor of versioned templates: where it posts, where a saved version is shown, how a text is checked
    (TemplateInvalid with paths) and stored with the actor and the text (`(row, created)`), how a stored one reads
    as YAML."""

    action: str
    shown_at: str
    validate: Callable[[str], Awaitable[Any]]
    save: Callable[[Any, str, str], Awaitable[tuple[Any, bool]]]
    load: Callable[[str], Awaitable[str]]
    heading: str = ""  # the page's title and the text's label, translated: the process templates' by default
    label: str = ""
    admins_only: str = ""  # what a user who is not an admin is told, translated
    rollback: Callable[[], Awaitable[None]] = field(default=lambda: _nothing())  # a refused save's session

    def page(self, request: Request, settings: Settings, source: str, key: str = "", status: int = 200,
             errors: list[dict[str, Any]] | None = None, error: str = "") -> HTMLResponse:
        return render(request, settings, "template_edit.html", status=status, source=source, key=key,
                      errors=errors or [], error=error, lines=source.splitlines(), action=self.action,
                      heading=self.heading, label=self.label)

    async def open(self, request: Request, settings: Settings, key: str) -> HTMLResponse:
        source = ""
        if key:
            try:
                source = await self.load(key[:63])
            except StagecoachError as exc:
                return self.page(request, settings, "", status=exc.status, error=said_in(exc, settings.locale))
        return self.page(request, settings, source, key[:63])

    async def post(self, request: Request, settings: Settings, signed: SignedIn) -> Response:
        """Save the posted text as a new version (admins): its errors shown at their lines, else the version."""
        data = await form(request, signed)
        _ = translator(settings.locale)
        source = text(data, "source")
        who = principal(signed)
        if not who.has(ApiRole.admin):
            return self.page(request, settings, source, status=403,
                             error=self.admins_only or _("Only an admin saves templates: ask one to save it."))
        try:
            template = await self.validate(source)
            row, created = await self.save(template, who.actor, source_text.form_text(source))
        except TemplateInvalid as exc:  # checked, or refused by the store (a pipeline's records left out)
            await self.rollback()
            errors = located(source, exc, _)
            return self.page(request, settings, source, status=exc.status, errors=errors,
                             error=summary(errors, _) if errors else said_in(exc, settings.locale))
        except StagecoachError as exc:
            await self.rollback()
            return self.page(request, settings, source, status=exc.status, error=said_in(exc, settings.locale))
        return redirect(f"{self.shown_at}/{row.key}?version={row.version}&saved={'new' if created else 'same'}")


def _editor(session: SessionDep, renderer: RenderPool | None, settings: Settings) -> Editor:
    async def validate(source: str) -> ProcessTemplate:
        assert renderer is not None
        return await validated_text(source, session, renderer, settings, SOURCE)

    async def load(key: str) -> str:
        return shown_text(await template_store.get_version(session, key))

    return Editor("/console/template-editor", "/console/templates", validate,
                  lambda template, actor, text: template_store.save(session, template, actor, text), load)


@router.get("/template-editor", response_class=HTMLResponse)
async def edit_page(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep,
                    key: str = "") -> HTMLResponse:
    return await _editor(session, None, settings).open(request, settings, key)


@router.post("/template-editor")
async def save(request: Request, session: SessionDep, renderer: RendererDep, settings: SettingsDep,
               signed: SignedInDep) -> Response:
    return await _editor(session, renderer, settings).post(request, settings, signed)
