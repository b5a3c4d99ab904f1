"""A small HTTP client for the Stagecoach API that turns problem+json into readable errors, and finds its key."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from settings import Settings

KEY_FILE = "admin-api-key"  # what `make run` writes in the data folder
URL_FILE = "api-url"  # where `make run` serves the API


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        errors = body.get("errors") or []
        lines = [f"{body.get('type', 'Error')} ({status}): {body.get('detail', '')}"]
        if len(errors) > 1:
            lines += [f"  {e['path']}: {e['message']}" if e.get("path") else f"  {e['message']}" for e in errors]
        super().__init__("\n".join(lines))


def data_dirs(settings: Settings, start: Path | None = None) -> Iterator[Path]:
    """Where `make run`'s data folder may be, from wherever the command runs: DATA_DIR as given (absolute,
    or relative to this directory or one above it), then the folder of the checkout this command comes from."""
    folder = settings.data_dir
    if folder.is_absolute():
        yield folder
        return
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        yield directory / folder
    yield Path(__file__).resolve().parent.parent / folder


def find_data_dir(settings: Settings, start: Path | None = None) -> Path | None:
    return next((d for d in data_dirs(settings, start) if (d / KEY_FILE).is_file()), None)


def client_from_settings(settings: Settings) -> ApiClient:
    """The API client the command line uses: STAGECOACH_URL and STAGECOACH_API_KEY when set, else what
    `make run` left in its data folder (the admin key, the URL it serves on), else the settings' URL."""
    found = find_data_dir(settings)
    key = os.environ.get("STAGECOACH_API_KEY")
    if not key and found:
        key = (found / KEY_FILE).read_text().strip()
    url = os.environ.get("STAGECOACH_URL")
    if not url and found and (found / URL_FILE).is_file():
        url = (found / URL_FILE).read_text().strip()
    return ApiClient(url or settings.public_url, key)


class ApiClient:
    def __init__(self, base_url: str, api_key: str | None, timeout: float = 30.0) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.has_key = bool(api_key)
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(0, {"type": "Unreachable", "detail": f"{self._http.base_url}: {exc}"}) from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:500]}
            if response.status_code == 401 and not self.has_key:
                body["detail"] = (f"{body.get('detail', '')}. No key was found: set STAGECOACH_API_KEY, or DATA_DIR "
                                  f"to the folder `make run` keeps its data in (it holds {KEY_FILE})")
            raise ApiError(response.status_code, body)
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.send(method, path, **kwargs).json()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def every(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list, page after page (the API's `Link: rel="next"`)."""
        url: str | None = path
        while url:
            response = self.send("GET", url, params=params if url == path else None)
            yield from response.json()
            url = response.links.get("next", {}).get("url")
