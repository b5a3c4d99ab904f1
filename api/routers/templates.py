"""Process templates: save (new immutable version), validate, list, read versions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlmodel import col, select

from api.deps import AdminDep, SessionDep, StaffDep
from api.fields import TemplateKeyPath
from api.paging import Page, paged
from crm import template_store
from crm.models import ProcessTemplateSummary, ProcessTemplateVersion, ProcessTemplateVersionPublic
from processes.validation import parse_document

router = APIRouter(prefix="/templates", tags=["templates"])

TEMPLATE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A process template as JSON or YAML.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ProcessTemplate"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


class ValidationResult(BaseModel):
    valid: bool
    template: dict  # type: ignore[type-arg]


async def _document(request: Request) -> dict:  # type: ignore[type-arg]
    """The body as a template document (its size is capped before it is read: api.admission)."""
    body = await request.body()
    return parse_document(body.decode("utf-8", errors="replace"), source="the request body")


@router.post("", status_code=201, response_model=ProcessTemplateVersionPublic, openapi_extra=TEMPLATE_BODY)
async def save_template(request: Request, response: Response, session: SessionDep,
                        principal: AdminDep) -> ProcessTemplateVersion:
    """Validate and store a new version. Identical content returns the latest version (200)."""
    template = await template_store.validate(session, await _document(request))
    row, created = await template_store.save(session, template, principal.actor)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/templates/{row.key}/versions/{row.version}"
    return row


@router.post("/validate", response_model=ValidationResult, openapi_extra=TEMPLATE_BODY)
async def validate_template(request: Request, session: SessionDep, _: StaffDep) -> ValidationResult:
    """Check a template without saving it: 200 when valid, 422 with every error and its path otherwise."""
    template = await template_store.validate(session, await _document(request))
    return ValidationResult(valid=True, template=template.model_dump(mode="json"))


@router.get("", response_model=list[ProcessTemplateSummary])
async def list_templates(session: SessionDep, _: StaffDep,
                         page: Annotated[Page, Depends(paged(100, 500))]) -> list[ProcessTemplateSummary]:
    """Every template's latest version, by key."""
    return page.done(await template_store.summaries(session, limit=page.limit, offset=page.offset))


@router.get("/{key}", response_model=ProcessTemplateVersionPublic)
async def latest_version(key: TemplateKeyPath, session: SessionDep, _: StaffDep) -> ProcessTemplateVersion:
    return await template_store.get_version(session, key)


@router.get("/{key}/versions", response_model=list[ProcessTemplateVersionPublic])
async def list_versions(key: TemplateKeyPath, session: SessionDep, _: StaffDep,
                        page: Annotated[Page, Depends(paged(20, 100))]) -> list[ProcessTemplateVersion]:
    """The template's versions, oldest first, each with its definition."""
    await template_store.get_version(session, key)
    query = (select(ProcessTemplateVersion).where(ProcessTemplateVersion.key == key)
             .order_by(col(ProcessTemplateVersion.version)).offset(page.offset).limit(page.limit))
    return page.done((await session.exec(query)).all())


@router.get("/{key}/versions/{version}", response_model=ProcessTemplateVersionPublic)
async def get_version(key: TemplateKeyPath, version: int, session: SessionDep, _: StaffDep) -> ProcessTemplateVersion:
    return await template_store.get_version(session, key, version)
