"""The client's form for a client request: public pages under /r/{token} (no login, no script needed).

`install(app)` adds its routes (none in the OpenAPI document) and the guess limit they share.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.client_forms import guard, pages
from settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    app.state.client_form_guesses = guard.GuessLimit(settings.client_form_guess_limit,
                                                     settings.client_form_guess_window_seconds)
    app.include_router(pages.router)
