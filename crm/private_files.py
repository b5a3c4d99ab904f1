"""Files and folders that hold the office's and its clients' data (documents, an import's file and its rejected
rows): readable by the user Stagecoach runs as only, never by every local user (0600 in 0700 folders)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any


def private_folder(path: Path) -> Path:
    """`path` made (with its parents) if it is not there, for Stagecoach's user only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def private_file(path: Path, mode: str, **options: Any) -> IO[Any]:
    """`path` opened for writing (`mode`: "wb", or "w" with `options` such as `encoding`), made or emptied, for
    Stagecoach's user only."""
    return open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), mode, **options)
