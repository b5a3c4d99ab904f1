"""Pipelines in the console: the list, one version as its YAML with its record types and statuses, and editing the
YAML (admins), every error shown at its line, as a process template is edited (`template_pages.Editor`).

A save goes through the API's own check (in the render pool, against the users, templates, endpoints and request
templates there are) and store (`pipeline_store.save`): a new immutable version, or none when nothing changed. A
version that leaves out statuses records sit in names where they go in its `remap:`, as `POST /pipelines` takes it;
without one it is refused, listing them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.console import written_yaml
from api.console.i18n import translator
from api.console.process_pages import users_by_id
from api.console.refusals import not_found_page
from api.console.template_pages import Editor
from api.console.web import SignedInDep, render
from api.deps import RendererDep, SessionDep, SettingsDep
from api.fields import digits
from api.routers.pipelines import validated_text
from crm import pipeline_store
from crm.pipeline_models import PipelineVersion
from processes.errors import StagecoachError
from processes.pipeline import Pipeline
from renderer.pool import RenderPool
from settings import Settings

router = APIRouter(prefix="/console", include_in_schema=False)
SOURCE = "the pipeline"


def yaml_text(row: PipelineVersion) -> str:
    """A stored version as a person would write it, without the defaults."""
    return written_yaml.written(pipeline_store.load(row).model_dump(mode="json", exclude_defaults=True))


@router.get("/pipelines", response_class=HTMLResponse)
async def pipelines_page(request: Request, session: SessionDep, settings: SettingsDep,
                         signed: SignedInDep) -> HTMLResponse:
    return render(request, settings, "pipelines.html",
                  pipelines=await pipeline_store.summaries(session, None, limit=500, offset=0))


@router.get("/pipelines/{key}", response_class=HTMLResponse)
async def pipeline_page(key: str, request: Request, session: SessionDep, settings: SettingsDep,
                        signed: SignedInDep) -> HTMLResponse:
    wanted = request.query_params.get("version", "")
    try:
        row = await pipeline_store.get_version(session, key[:63], int(wanted) if digits(wanted) and len(wanted) < 8
                                               else None)
        latest = await pipeline_store.latest(session, row.key)
    except StagecoachError as exc:
        return not_found_page(request, settings, key[:63], exc)
    assert latest is not None
    return render(request, settings, "pipeline.html", row=row, pipeline=pipeline_store.load(row),
                  source=yaml_text(row), versions=range(latest.version, 0, -1), users=await users_by_id(session))


def _editor(session: SessionDep, renderer: RenderPool | None, settings: Settings) -> Editor:
    _ = translator(settings.locale)

    async def validate(source: str) -> tuple[Pipeline, dict[str, str]]:
        assert renderer is not None
        return await validated_text(source, session, renderer, settings, SOURCE)

    async def save(checked: tuple[Pipeline, dict[str, str]], actor: str, _text: str) -> tuple[Any, bool]:
        row, created, _moved = await pipeline_store.save(session, checked[0], actor, checked[1], settings.locale)
        return row, created

    async def load(key: str) -> str:
        return yaml_text(await pipeline_store.get_version(session, key))

    return Editor("/console/pipeline-editor", "/console/pipelines", validate, save, load,
                  heading=_("Edit a pipeline"), label=_("The pipeline (YAML)"),
                  admins_only=_("Only an admin saves pipelines: ask one to save it."), rollback=session.rollback)


@router.get("/pipeline-editor", response_class=HTMLResponse)
async def edit_page(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep,
                    key: str = "") -> HTMLResponse:
    return await _editor(session, None, settings).open(request, settings, key)


@router.post("/pipeline-editor")
async def save(request: Request, session: SessionDep, renderer: RendererDep, settings: SettingsDep,
               signed: SignedInDep) -> Response:
    return await _editor(session, renderer, settings).post(request, settings, signed)
