"""The staff console: server-rendered pages under /console (Jinja2, one CSS file, no script needed).

`install(app)` adds its routes (none in the OpenAPI document), its stylesheet under /console/static,
the answers to a caller who is not signed in (the sign-in page) or whose form lacks its CSRF
token (a 403 page) or is not one its page sends (more files or fields than it takes: a 400 page), and its own pages for a wrong console address or an unexpected error (api.console.errors).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.console import actions, board_pages, case_pages, delivery_pages, document_pages, errors, import_pages, \
    key_pages, outbox_pages, pipeline_pages, process_pages, record_forms, record_pages, request_actions, \
    request_pages, request_template_pages, signin, tag_pages, task_pages, template_pages, today, user_pages
from api.console.web import FormRefused, SignInNeeded, refused_page


def install(app: FastAPI) -> None:
    app.mount("/console/static", StaticFiles(directory=str(files("api.console") / "static")), name="console-static")
    for module in (signin, today, process_pages, actions, record_forms, record_pages, board_pages, pipeline_pages,
                   template_pages, outbox_pages, delivery_pages, document_pages, case_pages, task_pages, import_pages,
                   request_pages, request_actions, request_template_pages, user_pages, key_pages, tag_pages):
        app.include_router(module.router)

    @app.exception_handler(SignInNeeded)
    async def _sign_in(_: Request, exc: SignInNeeded) -> RedirectResponse:
        return RedirectResponse(f"/console/sign-in?next={exc.back if exc.back != '/console' else ''}",
                                status_code=303)

    @app.exception_handler(FormRefused)
    async def _refused(request: Request, exc: FormRefused) -> HTMLResponse:
        return refused_page(request, request.app.state.settings, str(exc), exc.status)

    errors.install(app)
