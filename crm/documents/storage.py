"""Where a document's bytes are kept, behind one interface; a folder (DATA_DIR/documents) by default.

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
from typing import BinaryIO, Protocol

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
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("wb") as file:
            shutil.copyfileobj(source, file, CHUNK)
            file.flush()
            os.fsync(file.fileno())
        partial.rename(path)

    async def put(self, key: str, source: BinaryIO) -> None:
        await asyncio.to_thread(self._put, key, source)

    async def chunks(self, key: str) -> AsyncIterator[bytes]:
        with self.path(key).open("rb") as file:
            while chunk := await asyncio.to_thread(file.read, CHUNK):
                yield chunk

    async def delete(self, key: str) -> None:
        path = self.path(key)
        await asyncio.to_thread(path.unlink, True)
        try:
            path.parent.rmdir()  # the record's folder, once empty
        except OSError:
            pass


def storage_for(settings: Settings) -> Storage:
    return FolderStorage(settings.documents_dir or settings.data_dir / "documents")
