"""No text of a request's path or query holds the NUL character: a 422 naming the parameter.

A JSON body's texts are checked where it is read (`api.sent_json`). `%00` in a query string went through: a search
for it matched every record on SQLite (`q=%00`), and PostgreSQL refuses it in a statement's parameters. Checked for
every route by one app-level dependency.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError

NUL_MESSAGE = "holds the NUL character (\\u0000), which no text may hold"


async def no_nul_in_path_or_query(request: Request) -> None:
    errors = [{"loc": ("query", name), "type": "string_nul", "input": None, "msg": NUL_MESSAGE}
              for name, value in request.query_params.multi_items() if "\x00" in name or "\x00" in value]
    errors += [{"loc": ("path", name), "type": "string_nul", "input": None, "msg": NUL_MESSAGE}
               for name, value in request.path_params.items() if isinstance(value, str) and "\x00" in value]
    if errors:
        raise RequestValidationError(list({e["loc"]: e for e in errors}.values()))
