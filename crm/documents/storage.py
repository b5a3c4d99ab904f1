"""Where a document's bytes are kept, behind one interface: a folder (DATA_DIR/documents) by default, an
S3-compatible bucket (AWS S3, MinIO, Ceph...) when DOCUMENTS_S3_BUCKET is set.

A key is made by the caller (`new_key`) and never reused. `put` takes a file object it reads in chunks,
`chunks` gives the bytes back in chunks, `delete` forgets a key (a missing one is no error).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from functools import lru_cache
from typing import Any, BinaryIO, Protocol

from crm.private_files import private_file, private_folder
from settings import Settings

CHUNK = 1 << 16


class Storage(Protocol):
    async def put(self, key: str, source: BinaryIO) -> None: ...

    def chunks(self, key: str) -> AsyncIterator[bytes]: ...

    async def delete(self, key: str) -> None: ...


def new_key(record_id: int) -> str:
    return f"{record_id}/{uuid.uuid4().hex}"


class FolderStorage:
    """Files in a folder: each written to a temporary name, synced, then renamed, so a crash leaves no half file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key

    def _put(self, key: str, source: BinaryIO) -> None:
        path = self.path(key)
        private_folder(path.parent)
        partial = path.with_name(path.name + ".partial")
        with private_file(partial, "wb") as file:
            shutil.copyfileobj(source, file, CHUNK)
            file.flush()
            os.fsync(file.fileno())
        partial.rename(path)

    async def put(self, key: str, source: BinaryIO) -> None:
        await asyncio.to_thread(self._put, key, source)

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        try:
            file = self.path(key).open("rb")
        except FileNotFoundError:
            raise StoredFileMissing(key) from None
        with file:
            while chunk := await asyncio.to_thread(file.read, CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        path = self.path(key)
        await asyncio.to_thread(path.unlink, True)
        try:
            path.parent.rmdir()  # the record's folder, once empty
        except OSError:
            pass


class StoredFileMissing(Exception):
    """The storage has no file under this key."""


class S3Storage:
    """Objects in a bucket, under a prefix, through boto3 (its calls run in a thread: they block)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix

    async def put(self, key: str, source: BinaryIO) -> None:
        await asyncio.to_thread(self.client.upload_fileobj, source, self.bucket, self.prefix + key)

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        try:
            answer = await asyncio.to_thread(self.client.get_object, Bucket=self.bucket, Key=self.prefix + key)
        except self.client.exceptions.NoSuchKey:
            raise StoredFileMissing(key) from None
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self.prefix + key)


@lru_cache(maxsize=8)
def _s3_client(endpoint_url: str | None, region: str | None, key_id: str | None, secret: str | None) -> Any:
    import boto3  # only where S3 is used

    return boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None,
                        aws_access_key_id=key_id or None, aws_secret_access_key=secret or None)


def storage_for(settings: Settings) -> Storage:
    if settings.documents_s3_bucket:
        secret = settings.documents_s3_secret_access_key
        client = _s3_client(settings.documents_s3_endpoint_url, settings.documents_s3_region,
                            settings.documents_s3_access_key_id, secret.get_secret_value() if secret else None)
        return S3Storage(client, settings.documents_s3_bucket, settings.documents_s3_prefix)
    return FolderStorage(settings.documents_dir or settings.data_dir / "documents")
