"""A request goes to the same route whether or not the app passes over the routers whose prefix its path does not start
with (api/app.py `_passed_by_prefix`): every route's own path, with each method, and paths of no route."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

import api.app
from api.app import create_app
from settings import Settings


def _app(monkeypatch: pytest.MonkeyPatch | None = None) -> FastAPI:
    if monkeypatch is not None:
        monkeypatch.setattr(api.app, "_passed_by_prefix", lambda app: None)
    return create_app(Settings(), temporal=object())  # type: ignore[arg-type]  # routes only


def _chosen(app: FastAPI, method: str, path: str) -> tuple[int, Match] | None:
    """Which of the app's routes takes the request first (FULL, else the first PARTIAL, as the router chooses)."""
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "root_path": "", "headers": [],
                             "query_string": b"", "app": app}
    partial = None
    for index, route in enumerate(app.router.routes):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return index, match
        if match == Match.PARTIAL and partial is None:
            partial = (index, match)
    return partial


def _paths(app: FastAPI) -> set[str]:
    """Every route's path, its parameters filled in."""
    found = {path for path in (getattr(route, "path", None) for route in app.routes) if path}
    found |= {context.path for context in iter_route_contexts(app.routes) if context.path}
    return {re.sub(r"\{[^}]+\}", "7", path) for path in found}


def test_every_request_goes_to_the_same_route(monkeypatch: pytest.MonkeyPatch) -> None:
    passing = _app()
    asking = _app(monkeypatch)
    paths = _paths(passing) | {"/", "/nothing", "/recordsx", "/records", "/records/", "/records/7/", "/console/",
                               "/console/x/y/z", "/processes/", "/processesx", "/tasks/7/nothing", "/docs/x"}
    assert len(paths) > 80
    for path in sorted(paths):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            assert _chosen(passing, method, path) == _chosen(asking, method, path), (method, path)
