"""Tags of cases in the console: the list (searched by name, each with the cases the user sees carrying it), a tag
added, and one tag renamed, merged into another or deleted.

Through the API's own functions (api/routers/tags.py) as the signed-in user: a tag carried only by cases they do not
see is not found here either, and a change that would change such a case is refused, as over the API. Names are one
tag without regard to case ("Urgente" and "urgente"): a rename to another tag's name is refused, and says to merge.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.console.i18n import translator
from api.console.refusals import field_error, not_found_page, said_in
from api.console.web import SignedInDep, form, principal, redirect, render, text
from api.deps import SessionDep, SettingsDep
from api.routers.tags import MergeBody, create_tag, delete_tag, merge_tag, rename_tag, tag_or_404, tag_public, tags_seen
from crm.cases.models import TagCreate, TagPublic, TagUpdate
from processes.errors import StagecoachError

router = APIRouter(prefix="/console/tags", include_in_schema=False)
LIMIT = 500
CHOICES = 1000  # the tags offered to merge into


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


async def _listed(session: SessionDep, signed: Any, q: str = "", limit: int = LIMIT) -> list[TagPublic]:
    """The tags the user sees, by name, each with how many cases they see carry it (as `GET /tags` lists them)."""
    return await tags_seen(session, principal(signed), q, 0, limit)


async def _render_list(request: Request, session: SessionDep, settings: Any, signed: Any, status: int = 200,
                       error: str = "", posted: str = "") -> HTMLResponse:
    q = request.query_params.get("q", "").strip()[:64]
    return render(request, settings, "tags.html", status=status, tags=await _listed(session, signed, q), q=q,
                  error=error, posted=posted, limit=LIMIT, section="/console/cases")


@router.get("", response_class=HTMLResponse)
async def tags_page(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep) -> HTMLResponse:
    return await _render_list(request, session, settings, signed)


@router.post("", response_model=None)
async def add_tag(request: Request, session: SessionDep, settings: SettingsDep, signed: SignedInDep) -> Response:
    data = await form(request, signed)
    _ = translator(settings.locale)
    name = text(data, "name")
    try:
        made = await create_tag(TagCreate.model_validate({"name": name}), session, principal(signed))
    except (ValidationError, StagecoachError) as exc:
        await session.rollback()
        return await _render_list(request, session, settings, signed, *_refusal(exc, _, settings), posted=name)
    return redirect(f"/console/tags/{made.id}?done=tag_added")


async def _render_tag(request: Request, session: SessionDep, settings: Any, signed: Any, tag_id: int,
                      status: int = 200, error: str = "", error_for: str = "", posted: str = "") -> HTMLResponse:
    who = principal(signed)
    try:
        tag = await tag_or_404(session, tag_id, who)
    except StagecoachError as exc:
        return not_found_page(request, settings, str(tag_id), exc)
    listed = await _listed(session, signed, limit=CHOICES)
    return render(request, settings, "tag.html", status=status, tag=await tag_public(session, tag, who), error=error,
                  error_for=error_for, posted=posted, others=[t for t in listed if t.id != tag_id],
                  section="/console/cases")


@router.get("/{tag_id}", response_class=HTMLResponse)
async def tag_page(tag_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                   signed: SignedInDep) -> HTMLResponse:
    return await _render_tag(request, session, settings, signed, tag_id)


@router.post("/{tag_id}", response_model=None)
async def change_tag(tag_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                     signed: SignedInDep) -> Response:
    """The tag renamed (`rename` form), merged into another (`merge`) or deleted (`delete`, once its box is ticked)."""
    data = await form(request, signed)
    _ = translator(settings.locale)
    which = text(data, "form")
    who = principal(signed)
    try:
        if which == "rename":
            await rename_tag(tag_id, TagUpdate.model_validate({"name": text(data, "name")}), session, settings, who)
            return redirect(f"/console/tags/{tag_id}?done=tag_renamed")
        if which == "merge":
            into = text(data, "into")
            if not into.isdigit():
                raise Refused(422, _("choose the tag to merge it into"))
            kept = await merge_tag(tag_id, MergeBody(into_tag_id=int(into)), session, settings, who)
            return redirect(f"/console/tags/{kept.id}?done=tag_merged")
        if which == "delete":
            if text(data, "confirm") != "1":
                raise Refused(422, _("Tick the box to confirm: the tag is taken off every case."))
            await delete_tag(tag_id, session, settings, who)
            return redirect("/console/tags?done=tag_deleted")
        raise Refused(400, _("This form is not one the page sends."))
    except (ValidationError, StagecoachError, Refused) as exc:
        await session.rollback()
        status, message = _refusal(exc, _, settings)
        return await _render_tag(request, session, settings, signed, tag_id, status, message, which,
                                 text(data, "name"))


def _refusal(exc: Exception, _: Any, settings: Any) -> tuple[int, str]:
    if isinstance(exc, ValidationError):
        return 422, field_error(exc, _, {"name": _("Name")})
    if isinstance(exc, Refused):
        return exc.status, exc.message
    assert isinstance(exc, StagecoachError)
    return exc.status, said_in(exc, settings.locale)
