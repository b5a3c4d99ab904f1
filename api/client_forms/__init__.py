"""The client's form for a client request: public pages under /r/{token} (no login, no script needed).

`install(app)` adds its routes (none in the OpenAPI document) and the guess limit they share.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Scope

from api.client_forms import guard, pages
from api.client_forms.i18n import from_accept_language, size_text
from settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    app.state.client_form_guesses = guard.GuessLimit(settings.client_form_guess_limit,
                                                     settings.client_form_guess_window_seconds)
    app.include_router(pages.router)


def too_large(scope: Scope, limit: int) -> ASGIApp:
    """The page for a form whose body is declared over CLIENT_REQUEST_MAX_BODY_BYTES (api.admission): 413."""
    headers = {name.lower(): value for name, value in scope["headers"]}
    language = from_accept_language(headers.get(b"accept-language", b"").decode("latin-1"))
    return pages.message_page(413, language, "large", size=size_text(limit))
