"""Client request templates: the list with versions, one version readable (its questions as a list), and editing
the YAML (admins save), every error shown at its path and line as on the process templates' editor.

A save goes through the staff API's own check (`validate_text`) and store (`store.save_template`), with the text
typed: a new version, or none when nothing changed. A version is shown as the YAML text it was saved from, else
written from its questions (`yaml_text`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api import source_text
from api.console import written_yaml
from api.console.i18n import translator
from api.console.template_pages import Editor
from api.console.web import SignedInDep, render
from api.console.refusals import not_found_page
from api.deps import SessionDep, SettingsDep
from api.fields import digits
from crm.client_requests import store
from crm.client_requests.models import ClientRequestTemplate
from crm.client_requests.questions import RequestTemplate, validate_text
from processes.errors import StagecoachError
from settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)
SOURCE = "the request template"


def yaml_text(row: ClientRequestTemplate) -> str:
    """A stored version as a person would write it: without the defaults."""
    written = store.definition(row).model_dump(mode="json", exclude_defaults=True)
    written["questions"] = [{k: v for k, v in q.items() if v not in ("", [], None, False)}
                            for q in written["questions"]]
    return written_yaml.written(written)


def shown_text(row: ClientRequestTemplate) -> str:
    """A stored version as its author wrote it: the YAML text it was saved from, comments and all; else (saved as
    JSON, or before versions kept their text) as `yaml_text` writes it."""
    return source_text.shown(row.source_text, lambda: yaml_text(row))


def _version(value: str | None) -> int | None:
    return int(value) if value and digits(value) and len(value) < 8 else None


@router.get("/request-templates", response_class=HTMLResponse)
async def request_templates_page(request: Request, session: SessionDep, settings: SettingsDep,
                                 signed: SignedInDep) -> HTMLResponse:
    return render(request, settings, "request_templates.html",
                  templates=await store.newest_versions(session, limit=500))


@router.get("/request-templates/{key}", response_class=HTMLResponse)
async def request_template_page(key: str, request: Request, session: SessionDep, settings: SettingsDep,
                                signed: SignedInDep) -> HTMLResponse:
    try:
        row = await store.get_template(session, key[:63], _version(request.query_params.get("version")))
        latest = await store.get_template(session, row.key)
    except StagecoachError as exc:
        return not_found_page(request, settings, key[:63], exc)
    return render(request, settings, "request_template.html", row=row, versions=range(latest.version, 0, -1),
                  source=shown_text(row))


def _editor(session: SessionDep, settings: Settings) -> Editor:
    _ = translator(settings.locale)

    async def validate(source: str) -> RequestTemplate:
        return validate_text(source, settings.client_request_max_file_bytes, SOURCE, settings.locale)

    async def load(key: str) -> str:
        return shown_text(await store.get_template(session, key))

    return Editor("/console/request-template-editor", "/console/request-templates", validate,
                  lambda template, actor, text: store.save_template(session, template, actor, text), load,
                  heading=_("Edit a request template"), label=_("The request template (YAML)"))


@router.get("/request-template-editor", response_class=HTMLResponse)
async def edit_page(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep,
                    key: str = "") -> HTMLResponse:
    return await _editor(session, settings).open(request, settings, key)


@router.post("/request-template-editor")
async def save(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep) -> Response:
    return await _editor(session, settings).post(request, settings, signed)
