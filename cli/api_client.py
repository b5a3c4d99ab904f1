"""A small HTTP client for the Stagecoach API that turns problem+json into readable errors."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        errors = body.get("errors") or []
        lines = [f"{body.get('type', 'Error')} ({status}): {body.get('detail', '')}"]
        if len(errors) > 1:
            lines += [f"  {e['path']}: {e['message']}" if e.get("path") else f"  {e['message']}" for e in errors]
        super().__init__("\n".join(lines))


class ApiClient:
    def __init__(self, base_url: str, api_key: str | None, timeout: float = 30.0) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self._http = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(0, {"type": "Unreachable", "detail": f"{self._http.base_url}: {exc}"}) from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:500]}
            raise ApiError(response.status_code, body)
        return response.json()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)
