"""Documents on any record: upload, list, download (any version), a new version, delete.

`POST /records/{id}/documents` takes a multipart form with the file in `file` (up to MAX_DOCUMENT_BYTES,
refused unread when declared larger, counted as it arrives otherwise). Its type is read from its bytes;
a file whose content is not what its name or declared type says is refused (crm/documents/sniff.py).
A record the caller may not see has no documents for them: 404 like the record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile

from api.admission import body_limit
from api.deps import SessionDep, SettingsDep, StaffDep
from api.paging import Page, paged
from api.routers.records import get_record_or_404
from crm.documents import store
from crm.documents.models import Document, DocumentPublic, DocumentVersion
from crm.documents.storage import Storage, StoredFileMissing, storage_for
from processes.errors import DocumentFileMissing, DocumentInvalid

router = APIRouter(prefix="/records/{record_id}/documents", tags=["documents"])
FILE = {200: {"content": {"*/*": {}}, "description": "the file, with the type read from its bytes and its name"}}
UPLOAD = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}}}}}


def content_disposition(name: str) -> str:
    """RFC 6266: an ASCII `filename` for old clients and the exact name in `filename*` (RFC 5987, UTF-8)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


async def download(storage: Storage, version: DocumentVersion) -> StreamingResponse:
    """The file as a stream, once its first bytes were read: a file missing from the storage is a 410 with its
    reason, not a response cut off after its headers."""
    chunks = storage.chunks(version.storage_key)
    try:
        first = await anext(chunks, b"")
    except StoredFileMissing:
        raise DocumentFileMissing(f"the file of document {version.document_id} version {version.number} is no "
                                  "longer in the documents' storage (removed outside Stagecoach?)") from None

    async def body() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(body(), media_type=version.content_type, headers={
        "Content-Disposition": content_disposition(version.name), "Content-Length": str(version.size),
        "ETag": f'"{version.sha256}"', "X-Content-Type-Options": "nosniff"})


async def _upload(request: Request, session: SessionDep, settings: SettingsDep, principal: StaffDep,
                  record_id: int, document: Document | None) -> Document:
    form = await request.form(max_files=1, max_fields=5)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise DocumentInvalid("send the file as multipart/form-data, in the field `file`")
        return await store.add(session, storage_for(settings), record_id, upload.file, upload.filename,
                               upload.content_type or "", principal.actor, document, locale=settings.locale)
    finally:
        await form.close()


@router.post("", status_code=201, response_model=DocumentPublic, openapi_extra=UPLOAD)
@body_limit("max_document_bytes")
async def upload_document(record_id: int, request: Request, session: SessionDep, settings: SettingsDep,
                          principal: StaffDep) -> DocumentPublic:
    """Add a document to the record: a PDF, an image (PNG, JPEG, GIF, WebP), DOCX, XLSX, ODT, text or CSV."""
    await get_record_or_404(session, record_id, principal)
    document = await _upload(request, session, settings, principal, record_id, None)
    return await store.public(session, document)


@router.get("", response_model=list[DocumentPublic])
async def list_documents(record_id: int, session: SessionDep, principal: StaffDep,
                         page: Annotated[Page, Depends(paged(100, 500))]) -> list[DocumentPublic]:
    """The record's documents, oldest first, each with its versions."""
    await get_record_or_404(session, record_id, principal)
    documents = await store.listing(session, record_id, page.offset, page.limit)
    return page.done([await store.public(session, d) for d in documents])


@router.get("/{document_id}", response_class=StreamingResponse, responses=FILE)  # type: ignore[arg-type]
async def download_document(record_id: int, document_id: int, session: SessionDep, settings: SettingsDep,
                            principal: StaffDep) -> StreamingResponse:
    """The document's current version."""
    await get_record_or_404(session, record_id, principal)
    document = await store.get(session, record_id, document_id)
    return await download(storage_for(settings), await store.version(session, document))


@router.post("/{document_id}/versions", status_code=201, response_model=DocumentPublic, openapi_extra=UPLOAD)
@body_limit("max_document_bytes")
async def upload_version(record_id: int, document_id: int, request: Request, session: SessionDep,
                         settings: SettingsDep, principal: StaffDep) -> DocumentPublic:
    """A new version of the document; the older ones stay, downloadable by number."""
    await get_record_or_404(session, record_id, principal)
    document = await store.get(session, record_id, document_id)
    document = await _upload(request, session, settings, principal, record_id, document)
    return await store.public(session, document)


@router.get("/{document_id}/versions/{number}", response_class=StreamingResponse,  # type: ignore[arg-type]
            responses=FILE)
async def download_version(record_id: int, document_id: int, number: int, session: SessionDep,
                           settings: SettingsDep, principal: StaffDep) -> StreamingResponse:
    await get_record_or_404(session, record_id, principal)
    document = await store.get(session, record_id, document_id)
    return await download(storage_for(settings), await store.version(session, document, number))


@router.delete("/{document_id}", status_code=204, response_class=Response)
async def delete_document(record_id: int, document_id: int, session: SessionDep, settings: SettingsDep,
                          principal: StaffDep) -> Response:
    """Delete the document, every version of it and their files."""
    await get_record_or_404(session, record_id, principal)
    document = await store.get(session, record_id, document_id)
    await store.remove(session, storage_for(settings), document, principal.actor, settings.locale)
    return Response(status_code=204)
