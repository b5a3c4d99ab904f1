"""The FastAPI application: `uvicorn --factory api.app:create_app`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from starlette.routing import Match, get_route_path
from starlette.types import Scope
from temporalio.client import Client

import tracing
from api import bounds, client_forms, console, docs, express_start, metrics, problems, sent_json, signing_page
from api.admission import Admission, api_routes
from api.console import errors as console_errors
from api.auth import KeyCache
from api.bounds import bounded_integers
from api.head_requests import HeadAsGet
from api.no_nul import no_nul_in_path_or_query
from api.sent_json import keys_given_once
from api.routers import (api_keys, cases, client_request_templates, client_requests, deliveries, documents, exports,
                         health, imports, moves, outbox, pipelines, processes, records, signatures, tags, tasks,
                         templates, timeline, users, webhook_endpoints)
from crm.client_requests.questions import RequestTemplate
from crm.db import make_engine, make_sessionmaker
from logs import configure_logging
from processes.pipeline import Pipeline
from processes.template import ProcessTemplate
from renderer.pool import RenderPool
from settings import Settings, get_settings
from workflows.client import connect


def create_app(settings: Settings | None = None, temporal: Client | None = None,
               renderer: RenderPool | None = None) -> FastAPI:
    """The app; tests pass their own settings, Temporal client and render pool (a shared one)."""
    settings = settings or get_settings()
    if temporal is None:  # served (uvicorn --factory): from here on, uvicorn's own lines are JSON too
        configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.database_pool_size,
                             max_overflow=settings.database_pool_size,
                             ping_after_idle=settings.database_ping_after_idle_seconds)
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        app.state.temporal = temporal or await connect(settings)
        app.state.renderer = renderer or RenderPool(settings.render_processes, settings.render_memory_mb)
        sweeping = asyncio.create_task(imports.sweep_forever(app.state.sessions, settings))
        if temporal is None:  # served: what is loaded by now lives as long as the process
            gc.collect()
            gc.freeze()  # the collector's full passes skip it: no pause of tens of ms under load (start p99)
        try:
            yield
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping
            if renderer is None:
                await app.state.renderer.close()
            await engine.dispose()

    app = FastAPI(title="Stagecoach", version="0.1.0", lifespan=lifespan,
                  dependencies=[Depends(no_nul_in_path_or_query), Depends(bounded_integers),
                                Depends(keys_given_once)],
                  description="Durable process automation for CRMs. Every error is application/problem+json.",
                  docs_url=None, redoc_url=None)
    app.state.api_keys = KeyCache(settings.api_key_cache_seconds)  # api.admission's, before any request
    problems.install(app)
    docs.install(app)
    metrics.install(app)
    if settings.otel_exporter_otlp_endpoint and tracing.provider() is None:
        tracing.enable(settings.otel_exporter_otlp_endpoint, "stagecoach-api")
    tracing.instrument(app)
    for module in (health, templates, pipelines, users, records, documents, moves, timeline, cases, tags, imports,
                   exports, processes, tasks, outbox, deliveries, webhook_endpoints, api_keys,
                   client_request_templates, client_requests, signatures):
        app.include_router(module.router)
    console.install(app)
    client_forms.install(app, settings)
    app.include_router(signing_page.router)
    app.add_middleware(Admission, max_body_bytes=settings.max_body_bytes,
                       limits={"max_import_bytes": settings.max_import_bytes,
                               "max_document_bytes": settings.max_document_bytes,
                               "client_request_max_body_bytes": settings.client_request_max_body_bytes},
                       pages={"client_request_max_body_bytes": client_forms.too_large},
                       page=console_errors.too_large)  # inside the next one
    app.add_middleware(problems.UnexpectedErrors, page=console_errors.error_page)
    app.add_middleware(HeadAsGet)  # outermost: every route that answers GET answers HEAD
    documented = {id(route): n for n, route in enumerate(app.routes)}  # the OpenAPI document's order
    _matched_first(app, processes.router)
    _passed_by_prefix(app)
    express_start.install(app)  # ahead of them all: the usual start without FastAPI's request handling

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            routes = sorted(app.routes, key=lambda route: documented.get(id(route), len(documented)))
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (ProcessTemplate, Pipeline, RequestTemplate):  # the documents saved as YAML or JSON
                defs = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(defs.pop("$defs", {}))
                components[model.__name__] = defs
            problems.document(schema)
            sent_json.document(schema)
            bounds.document(schema, api_routes(app))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _matched_first(app: FastAPI, router: APIRouter) -> None:
    """Try `router`'s routes first for every request (the start path's: `POST /processes`). FastAPI tries the app's
    routes in order, each included router's one by one, at a cost for each (about half a millisecond of CPU a start
    when the processes came thirteenth). The routers' paths do not overlap, so the order decides nothing else; the
    OpenAPI document keeps the order they were included in."""
    routes = app.router.routes
    at = next(n for n, route in enumerate(routes) if getattr(route, "original_router", None) is router)
    routes.insert(0, routes.pop(at))


def _passed_by_prefix(app: FastAPI) -> None:
    """Pass over an included router whose prefix the request's path does not start with, without asking its routes.
    FastAPI asks each included router's routes in turn, each at a cost (about 10 µs a router: 150 µs before
    `/records/{id}` was found, 240 before `/console`); a path outside a router's prefix matches none of them, fully
    or partly (a method not allowed), so the answer is the same (`tests/test_routing.py`). The prefix's part before
    its first parameter is compared."""
    for route in app.router.routes:
        literal = (getattr(getattr(route, "original_router", None), "prefix", "") or "").split("{", 1)[0]
        if literal:
            route.matches = _unless_under(literal, route.matches)  # type: ignore[method-assign]


Matcher = Callable[[Scope], tuple[Match, Scope]]


def _unless_under(literal: str, matches: Matcher) -> Matcher:
    def under(scope: Scope) -> tuple[Match, Scope]:
        return matches(scope) if get_route_path(scope).startswith(literal) else (Match.NONE, {})

    return under
