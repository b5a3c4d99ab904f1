"""Process templates: save (new immutable version), validate, list, read versions.

A template body is decoded by the charset its `Content-Type` names (UTF-8 when it names none),
and parsed and validated in the API's render pool (`renderer/`): a hostile template costs its
own request, never the event loop every other request runs on.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlmodel import col, select

from activities.signing.providers import EMBEDDED
from api.deps import AdminDep, RendererDep, SessionDep, SettingsDep, StaffDep
from api.fields import TemplateKeyPath
from api.paging import Page, paged
from api.problems import charset_of
from api.source_text import AS_YAML, as_yaml
from crm import template_store
from crm.template_models import (ProcessTemplateSummary, ProcessTemplateVersion, ProcessTemplateVersionPublic,
                                 VersionPublic)
from processes.errors import ErrorDetail, StagecoachError, TemplateInvalid
from processes.sms_text import template_notes
from processes.template import ProcessTemplate
from processes.trials import untried_note
from renderer.pool import CheckedTemplate, RenderPool
from settings import Settings

router = APIRouter(prefix="/templates", tags=["templates"])

TEMPLATE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A process template as JSON or YAML, in UTF-8 unless the Content-Type names its charset "
                       "(`application/yaml; charset=windows-1252`).",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ProcessTemplate"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}
SOURCE = "the request body"


class ValidationResult(BaseModel):
    valid: bool
    template: dict  # type: ignore[type-arg]
    # what the template's texts cost (the SMS segments of each `send_sms` text), and the texts whose constant
    # parts the check had no time left to try (they are checked when they render)
    notes: list[str] = []


class SavedTemplateVersion(VersionPublic):
    notes: list[str] = []  # as ValidationResult's


def _notes(definition: dict[str, Any], untried: list[str]) -> list[str]:
    return [*template_notes(definition), *untried_note(untried)]


class UnsupportedCharset(StagecoachError):
    status = 415


def decode_body(body: bytes, content_type: str, invalid: type[TemplateInvalid] = TemplateInvalid) -> str:
    """The body as text: by its declared charset, else UTF-8; never with characters replaced. A body that is not
    text in its charset is `invalid` (the kind of document it was sent as: a template, a pipeline...)."""

    def _invalid(message: str) -> TemplateInvalid:
        return invalid([ErrorDetail("", message)])

    charset = charset_of(content_type) or None
    try:
        text = body.decode(charset) if charset else body.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except LookupError:
        raise UnsupportedCharset(f"unknown charset '{charset}' in the Content-Type "
                                 "(use utf-8, windows-1252, iso-8859-1...)") from None
    except UnicodeDecodeError as exc:
        if charset:
            raise _invalid(f"{SOURCE} is not valid {charset}: byte offset {exc.start} "
                           f"(0x{body[exc.start]:02x})") from None
        raise _invalid(f"{SOURCE} is not valid UTF-8: byte offset {exc.start} (0x{body[exc.start]:02x}); "
                       "if the file is in another encoding, name it: "
                       "Content-Type: application/yaml; charset=windows-1252") from None
    if (at := text.find("\ufffd")) >= 0:
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        raise _invalid(f"{SOURCE} holds U+FFFD (the replacement character, text lost to a wrong encoding) at "
                       f"line {line}, column {column}: send the file as it was written, naming its charset")
    return text


async def _checked(request: Request, session: SessionDep, renderer: RenderPool,
                   settings: Settings) -> CheckedTemplate:
    body = await request.body()  # its size is capped before it is read (api.admission)
    return await checked_text(decode_body(body, request.headers.get("content-type", "")), session, renderer,
                              settings)


def signers(settings: Settings) -> list[str]:
    """The signing providers a `request_signature` may name."""
    return [EMBEDDED, *settings.signing_providers]


async def checked_text(text: str, session: SessionDep, renderer: RenderPool, settings: Settings,
                       source: str = SOURCE) -> CheckedTemplate:
    """A template's text parsed and checked (in the render pool) against the users, templates, webhook endpoints
    and signing providers there are, with the texts the check had no time left to try."""
    known_users, known_templates = await template_store.validation_context(session)
    return await renderer.check(text, source=source, known_users=known_users, known_templates=known_templates,
                                known_endpoints=list(settings.webhook_endpoints), known_signers=signers(settings),
                                known_requests=await template_store.request_template_keys(session))


async def validated_text(text: str, session: SessionDep, renderer: RenderPool, settings: Settings,
                         source: str = SOURCE) -> ProcessTemplate:
    """`checked_text`'s template."""
    return (await checked_text(text, session, renderer, settings, source)).template


@router.post("", status_code=201, response_model=SavedTemplateVersion, openapi_extra=TEMPLATE_BODY, responses={
    200: {"model": SavedTemplateVersion, "description": "the same content as the newest version: nothing saved"}})
async def save_template(request: Request, response: Response, session: SessionDep, renderer: RendererDep,
                        settings: SettingsDep, principal: AdminDep) -> SavedTemplateVersion:
    """Validate and store a new version, with the text it was sent as. Identical content returns the latest version
    (200), even when only its comments or layout changed."""
    text = decode_body(await request.body(), request.headers.get("content-type", ""))
    checked = await checked_text(text, session, renderer, settings)
    row, created = await template_store.save(session, checked.template, principal.actor, text)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/templates/{row.key}/versions/{row.version}"
    return SavedTemplateVersion.model_validate({**row.model_dump(), "notes": _notes(row.definition, checked.untried)})


@router.post("/validate", response_model=ValidationResult, openapi_extra=TEMPLATE_BODY)
async def validate_template(request: Request, session: SessionDep, renderer: RendererDep, settings: SettingsDep,
                            _: StaffDep) -> ValidationResult:
    """Check a template without saving it: 200 when valid, 422 with every error and its path otherwise."""
    checked = await _checked(request, session, renderer, settings)
    definition = checked.template.model_dump(mode="json")
    return ValidationResult(valid=True, template=definition, notes=_notes(definition, checked.untried))


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


@router.get("/{key}/versions/{version}", response_model=ProcessTemplateVersionPublic, responses=AS_YAML)
async def get_version(key: TemplateKeyPath, version: int, request: Request, session: SessionDep,
                      _: StaffDep) -> ProcessTemplateVersion | Response:
    """One version; with `Accept: application/yaml`, the text it was saved from (comments and all)."""
    row = await template_store.get_version(session, key, version)
    return as_yaml(request, row.source_text, f"version {version} of '{key}'") or row
