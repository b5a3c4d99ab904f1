"""A record's documents in the console: uploading one (or a new version) and downloading any version.

Through the same functions as the API (crm/documents/store.py) as the signed-in user: a record they may
not see has no documents here either. The upload form carries the session's CSRF token; its body may be
as large as MAX_DOCUMENT_BYTES (api.admission).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.datastructures import UploadFile

from api.admission import body_limit
from api.console.i18n import translator
from api.console.record_pages import render_record
from api.console.refusals import not_found_page, said_in
from api.console.web import SignedInDep, form, principal, redirect, text
from api.deps import SessionDep, SettingsDep
from api.fields import digits
from api.routers.documents import download
from api.routers.records import get_record_or_404
from crm.documents import store
from crm.documents.storage import storage_for
from processes.errors import DocumentInvalid, StagecoachError

router = APIRouter(prefix="/console/records/{record_id}/documents", include_in_schema=False)


@router.post("")
@body_limit("max_document_bytes")
async def upload(record_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                 signed: SignedInDep) -> Response:
    """A new document, or a new version of the one named in `document_id`."""
    who = principal(signed)
    data = await form(request, signed, max_files=1)
    try:
        await get_record_or_404(session, record_id, who)
        file = data.get("file")
        document_id = text(data, "document_id")
        document = await store.get(session, record_id, int(document_id)) if digits(document_id) else None
        if not isinstance(file, UploadFile) or not file.filename:
            _ = translator(settings.locale)
            raise DocumentInvalid(_("choose a file"))
        await store.add(session, storage_for(settings), record_id, file.file, file.filename,
                        file.content_type or "", who.actor, document, locale=settings.locale)
    except StagecoachError as exc:
        await session.rollback()  # the page is drawn from what is committed, not what was refused
        return await render_record(request, session, settings, signed, record_id, exc.status,
                                   document_error=said_in(exc, settings.locale))
    finally:
        await data.close()
    return redirect(f"/console/records/{record_id}#documents-h")


@router.get("/{document_id}/versions/{number}")
async def download_version(record_id: int, document_id: int, number: int, request: Request, session: SessionDep,
                           settings: SettingsDep, signed: SignedInDep) -> Response:
    try:
        await get_record_or_404(session, record_id, principal(signed))
        document = await store.get(session, record_id, document_id)
        version = await store.version(session, document, number)
        return await download(storage_for(settings), version)
    except StagecoachError as exc:
        return not_found_page(request, settings, str(document_id), exc)
