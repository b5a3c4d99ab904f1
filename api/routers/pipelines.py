"""Pipelines and record types: save (a new immutable version), validate, list, read versions, the board.

A pipeline body is JSON or YAML, decoded and checked like a template's: parsed and validated in the API's
render pool, every error with its path (422 `PipelineInvalid`). A record type is defined by its pipeline:
saving the pipeline creates it or makes its new version.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlmodel import Field, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import AdminDep, RendererDep, SessionDep, SettingsDep, StaffDep, TemporalDep
from api.fields import Label, TemplateKeyPath
from api.paging import Page, paged
from api.routers.records import events_recorded
from api.routers.templates import decode_body, signers
from crm import pipeline_store, template_store
from crm.pipeline_board import BoardFilter, board
from crm.pipeline_models import Board, PipelineSaved, PipelineSummary, PipelineVersion, PipelineVersionPublic, \
    RecordType, RecordTypePublic
from processes.errors import PipelineInvalid, RecordTypeNotFound, did_you_mean
from processes.pipeline import Pipeline
from processes.template_basics import RecordKind
from renderer.pool import RenderPool
from settings import Settings

router = APIRouter(tags=["pipelines"])
SOURCE = "the request body"
PIPELINE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A pipeline as JSON or YAML (UTF-8 unless the Content-Type names its charset), with an "
                       "optional `remap: {Removed status: Status}` for the records in statuses a new version leaves "
                       "out.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pipeline"}},
                    "application/yaml": {"schema": {"type": "string"}}},
    }
}


async def _validated(request: Request, session: SessionDep, renderer: RendererDep,
                     settings: SettingsDep) -> tuple[Pipeline, dict[str, str]]:
    """The pipeline and its `remap`, checked (in the render pool) against the users, templates and webhook endpoints
    there are, as a process template is."""
    text = decode_body(await request.body(), request.headers.get("content-type", ""), PipelineInvalid)
    return await validated_text(text, session, renderer, settings, SOURCE)


async def validated_text(text: str, session: AsyncSession, renderer: RenderPool, settings: Settings,
                         source: str) -> tuple[Pipeline, dict[str, str]]:
    """A pipeline document's text checked in the render pool against what there is (the API's body, the console's
    editor): the pipeline and its `remap`; `PipelineInvalid` with every error otherwise."""
    known_users, known_templates = await template_store.validation_context(session)
    return await renderer.validate_pipeline(text, source=source, known_users=known_users,
                                            known_templates=known_templates,
                                            known_endpoints=list(settings.webhook_endpoints),
                                            known_signers=signers(settings),
                                            known_requests=await template_store.request_template_keys(session))


def _public(row: PipelineVersion) -> PipelineVersionPublic:
    return PipelineVersionPublic(**row.model_dump(exclude={"id"}))


def _saved(row: PipelineVersion, remapped: dict[str, int]) -> PipelineSaved:
    return PipelineSaved(**row.model_dump(exclude={"id"}), remapped=remapped)


@router.post("/pipelines", status_code=201, response_model=PipelineSaved, openapi_extra=PIPELINE_BODY,
             responses={200: {"model": PipelineSaved,
                              "description": "the same content as the newest version: nothing saved"}})
async def save_pipeline(request: Request, response: Response, session: SessionDep, renderer: RendererDep,
                        settings: SettingsDep, temporal: TemporalDep, principal: AdminDep) -> PipelineSaved:
    """Validate and store a new version (identical content: the latest version, 200). A status left out while
    records sit in it is refused (422) unless `remap` says where they go; they move with the save."""
    pipeline, remap = await _validated(request, session, renderer, settings)
    row, created, moved = await pipeline_store.save(session, pipeline, principal.actor, remap, settings.locale)
    if created:  # the events of records it moved or whose substates it closed: what those scheduled stops
        await events_recorded(temporal, settings, None)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/pipelines/{row.key}/versions/{row.version}"
    return _saved(row, moved)


class PipelineCheck(PipelineSaved):
    remapped: dict[str, int] = Field(default_factory=dict, description="records the save would move, by status")
    changed: bool = Field(description="false: identical to the latest version, which a save keeps (nothing saved)")


@router.post("/pipelines/validate", response_model=PipelineCheck, openapi_extra=PIPELINE_BODY)
async def validate_pipeline(request: Request, session: SessionDep, renderer: RendererDep, settings: SettingsDep,
                            _: AdminDep) -> PipelineCheck:
    """Check a pipeline as a save would, without saving it: 200 with the version a save would store (or, unchanged,
    the latest it would keep) and the records its `remap` would move; the save's errors (422, 409) otherwise. An
    admin's, as the save is: its counts are of every record, restricted ones too."""
    pipeline, remap = await _validated(request, session, renderer, settings)
    row, changed, moving = await pipeline_store.would_save(session, pipeline, remap)
    return PipelineCheck(**_saved(row, moving).model_dump(), changed=changed)


@router.get("/pipelines", response_model=list[PipelineSummary])
async def list_pipelines(session: SessionDep, _: StaffDep, page: Annotated[Page, Depends(paged(100, 500))],
                         kind: RecordKind | None = None) -> list[PipelineSummary]:
    """Every pipeline's latest version, by key."""
    return page.done(await pipeline_store.summaries(session, kind, limit=page.limit, offset=page.offset))


@router.get("/pipelines/{key}", response_model=PipelineVersionPublic)
async def latest_pipeline(key: TemplateKeyPath, session: SessionDep, _: StaffDep) -> PipelineVersionPublic:
    return _public(await pipeline_store.get_version(session, key))


@router.get("/pipelines/{key}/versions", response_model=list[PipelineVersionPublic])
async def list_versions(key: TemplateKeyPath, session: SessionDep, _: StaffDep,
                        page: Annotated[Page, Depends(paged(20, 100))]) -> list[PipelineVersionPublic]:
    """The pipeline's versions, oldest first."""
    await pipeline_store.get_version(session, key)
    query = (select(PipelineVersion).where(PipelineVersion.key == key)
             .order_by(col(PipelineVersion.version)).offset(page.offset).limit(page.limit))
    return page.done([_public(row) for row in (await session.exec(query)).all()])


@router.get("/pipelines/{key}/versions/{version}", response_model=PipelineVersionPublic)
async def get_version(key: TemplateKeyPath, version: int, session: SessionDep, _: StaffDep) -> PipelineVersionPublic:
    return _public(await pipeline_store.get_version(session, key, version))


@router.get("/pipelines/{key}/board", response_model=Board)
async def pipeline_board(
    key: TemplateKeyPath, session: SessionDep, principal: StaffDep, type: Label = None, owner_id: int | None = None,
    channel: Label = None,
    limit: Annotated[int, Query(ge=1, le=100, description="records shown per status")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="records skipped per status")] = 0,
) -> Board:
    """Each status of the pipeline's newest version with its number of records and a page of them (oldest first),
    of the records the caller may see; filtered by record type, owner and channel."""
    row = await pipeline_store.get_version(session, key)
    pipeline = pipeline_store.load(row)
    if type is not None and pipeline.record_type(type) is None:
        names = [t.name for t in pipeline.types]
        raise RecordTypeNotFound(f"pipeline '{key}' has no record type '{type}'{did_you_mean(type, names)}")
    return await board(session, principal, pipeline, row.version, BoardFilter(type=type, owner_id=owner_id,
                                                                             channel=channel),
                       limit=limit, offset=offset)


@router.get("/record-types", response_model=list[RecordTypePublic])
async def list_record_types(session: SessionDep, _: StaffDep, page: Annotated[Page, Depends(paged(100, 500))],
                            kind: RecordKind | None = None) -> list[RecordTypePublic]:
    """Every record type, by kind and name, as its pipeline's newest version defines it."""
    query = select(RecordType).order_by(col(RecordType.record_kind), col(RecordType.name))
    if kind is not None:
        query = query.where(RecordType.record_kind == kind)
    rows = (await session.exec(query.offset(page.offset).limit(page.limit))).all()
    return page.done([await _type_public(session, row) for row in rows])


@router.get("/record-types/{kind}/{name}", response_model=RecordTypePublic)
async def get_record_type(kind: RecordKind, name: Annotated[str, Path(max_length=64)], session: SessionDep,
                          _: StaffDep) -> RecordTypePublic:
    row = (await session.exec(select(RecordType).where(RecordType.record_kind == kind,
                                                       RecordType.name == name))).first()
    if row is None:
        names = (await session.exec(select(RecordType.name).where(RecordType.record_kind == kind))).all()
        raise RecordTypeNotFound(f"no record type '{name}' of {kind.value} records{did_you_mean(name, names)}")
    return await _type_public(session, row)


async def _type_public(session: SessionDep, row: RecordType) -> RecordTypePublic:
    version = await pipeline_store.get_version(session, row.pipeline_key)
    return pipeline_store.type_public(pipeline_store.load(version), version.version, row.name)
