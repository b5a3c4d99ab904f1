"""Client request templates: save (a new version), validate, list, read versions. The body is the template as
JSON or YAML, read as process templates are (api/routers/templates.py); errors say what and where."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from api.deps import AdminDep, SessionDep, SettingsDep, StaffDep
from api.fields import TemplateKeyPath
from api.paging import Page, paged
from api.routers.templates import decode_body
from api.source_text import AS_YAML, as_yaml
from crm.client_requests import store
from crm.client_requests.models import ClientRequestTemplate
from crm.client_requests.public import RequestTemplatePublic, RequestTemplateSummary, TemplateValidation
from crm.client_requests.questions import RequestTemplateInvalid, validate_text

router = APIRouter(prefix="/client-request-templates", tags=["client requests"])

BODY = {"requestBody": {"required": True, "description": "A client request template as JSON or YAML.", "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/RequestTemplate"}},
    "application/yaml": {"schema": {"type": "string"}}}}}


def public(row: ClientRequestTemplate) -> RequestTemplatePublic:
    return RequestTemplatePublic.model_validate(row, from_attributes=True)


async def _text(request: Request) -> str:
    body = await request.body()  # capped before it is read (api.admission)
    return decode_body(body, request.headers.get("content-type", ""), RequestTemplateInvalid)


@router.post("", status_code=201, response_model=RequestTemplatePublic, openapi_extra=BODY, responses={
    200: {"model": RequestTemplatePublic, "description": "the same content as the newest version: nothing saved"}})
async def save_request_template(request: Request, response: Response, session: SessionDep, settings: SettingsDep,
                                principal: AdminDep) -> RequestTemplatePublic:
    """Validate and store a new version, with the text it was sent as; content identical to the newest version returns
    it (200), even when only its comments or layout changed."""
    text = await _text(request)
    template = validate_text(text, settings.client_request_max_file_bytes, office_locale=settings.locale)
    row, created = await store.save_template(session, template, principal.actor, text)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/client-request-templates/{row.key}/versions/{row.version}"
    return public(row)


@router.post("/validate", response_model=TemplateValidation, openapi_extra=BODY)
async def validate_request_template(request: Request, settings: SettingsDep, _: StaffDep) -> TemplateValidation:
    """Check a template without saving it: 200 when valid, 422 with every error and its path otherwise."""
    template = validate_text(await _text(request), settings.client_request_max_file_bytes,
                             office_locale=settings.locale)
    return TemplateValidation(valid=True, template=template.model_dump(mode="json"))


@router.get("", response_model=list[RequestTemplateSummary])
async def list_request_templates(session: SessionDep, _: StaffDep,
                                 page: Annotated[Page, Depends(paged(100, 500))]) -> list[RequestTemplateSummary]:
    """Every template's newest version, by key."""
    rows = await store.newest_versions(session, limit=page.limit, offset=page.offset)
    return page.done([RequestTemplateSummary(key=row.key, title=row.title, language=row.language,
                                             latest_version=row.version, versions=count, updated_at=row.created_at)
                      for row, count in rows])


@router.get("/{key}", response_model=RequestTemplatePublic)
async def newest_request_template(key: TemplateKeyPath, session: SessionDep, _: StaffDep) -> RequestTemplatePublic:
    return public(await store.get_template(session, key))


@router.get("/{key}/versions", response_model=list[RequestTemplatePublic])
async def request_template_versions(key: TemplateKeyPath, session: SessionDep, _: StaffDep,
                                    page: Annotated[Page, Depends(paged(20, 100))]) -> list[RequestTemplatePublic]:
    """The template's versions, oldest first."""
    return page.done([public(row) for row in await store.versions(session, key, limit=page.limit,
                                                                   offset=page.offset)])


@router.get("/{key}/versions/{version}", response_model=RequestTemplatePublic, responses=AS_YAML)
async def request_template_version(key: TemplateKeyPath, version: int, request: Request, session: SessionDep,
                                   _: StaffDep) -> RequestTemplatePublic | Response:
    """One version; with `Accept: application/yaml`, the text it was saved from (comments and all)."""
    row = await store.get_template(session, key, version)
    return as_yaml(request, row.source_text, f"version {version} of '{key}'") or public(row)
