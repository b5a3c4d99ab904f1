"""Integers in a request's path, query or body are refused past what the database holds: 422 naming where.

Pydantic takes any integer, however large; the database does not (PostgreSQL's `integer`
ids stop at 2**31-1, SQLite's at 2**63-1), and its overflow would be a 500. Checked for every
route by one app-level dependency, from the types its parameters and body model declare.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

MAX_INT = 2**31 - 1


def _declares_int(annotation: Any) -> bool:
    """int, int | None, list[int], Annotated[int, ...]: an integer the database may store."""
    if annotation is int:
        return True
    origin = get_origin(annotation)
    if origin is Annotated:
        return _declares_int(get_args(annotation)[0])
    if origin in (Union, types.UnionType, list, tuple, set, frozenset):
        return any(_declares_int(arg) for arg in get_args(annotation))
    return False


def out_of_range(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_INT]


def _as_int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None  # not a number: FastAPI's own validation says so


def _all(dependant: Dependant) -> list[Dependant]:
    return [dependant, *(d for sub in dependant.dependencies for d in _all(sub))]


@dataclass(frozen=True)
class _Checked:
    """What `bounded_integers` looks at in a route's requests: found once per route, from its dependants."""

    path: tuple[str, ...]  # the integer path parameters' names
    query: tuple[str, ...]
    body: tuple[str, ...]  # the integer fields of a body model, by their names in the JSON


_CHECKED = "_stagecoach_bounded_integers"  # the route's _Checked, kept on the route


def _checked(route: APIRoute) -> _Checked:
    if (found := getattr(route, _CHECKED, None)) is not None:
        return found  # type: ignore[no-any-return]
    dependants = _all(route.dependant)
    body = []
    for field in (f for d in dependants for f in d.body_params):
        model = field.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            body += [info.alias or name for name, info in model.model_fields.items() if _declares_int(info.annotation)]
    found = _Checked(
        path=tuple(f.alias for d in dependants for f in d.path_params if _declares_int(f.field_info.annotation)),
        query=tuple(f.alias for d in dependants for f in d.query_params if _declares_int(f.field_info.annotation)),
        body=tuple(body))
    setattr(route, _CHECKED, found)
    return found


async def bounded_integers(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    checked = _checked(route)
    errors: list[dict[str, Any]] = []

    def refuse(loc: tuple[str, ...], value: int) -> None:
        errors.append({"loc": loc, "msg": f"{value} is out of range (at most {MAX_INT})", "type": "less_than_equal",
                       "input": value})

    for alias in checked.path:
        for value in out_of_range(_as_int(request.path_params.get(alias))):
            refuse(("path", alias), value)
    for alias in checked.query:
        for value in out_of_range([_as_int(v) for v in request.query_params.getlist(alias)]):
            refuse(("query", alias), value)
    if checked.body:
        try:
            data = await request.json()  # parsed once: FastAPI has read it (Starlette keeps it on the request)
        except (ValueError, UnicodeDecodeError, json.JSONDecodeError):
            return  # FastAPI refuses the body itself
        if isinstance(data, dict):
            for key in checked.body:
                if key in data:
                    for value in out_of_range(data[key]):
                        refuse(("body", key), value)
    if errors:
        raise RequestValidationError(errors)


def _bound(schema: dict[str, Any]) -> None:
    """Declare the range on an integer schema (inside `anyOf` alternatives and array items too)."""
    if schema.get("type") == "integer":
        schema["maximum"] = min(schema.get("maximum", MAX_INT), MAX_INT)
        schema["minimum"] = max(schema.get("minimum", -MAX_INT), -MAX_INT)
    for alternative in schema.get("anyOf", []):
        _bound(alternative)
    if isinstance(schema.get("items"), dict):
        _bound(schema["items"])


_KEYWORDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _named_bounds(node: Any) -> None:
    """A field's own bounds on a type with a validator around it (processes.sent_values.WholeNumber) are left by
    pydantic under their Python names (`ge`, `le`), where no client reads them: written as JSON Schema's."""
    if isinstance(node, list):
        for item in node:
            _named_bounds(item)
    elif isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            for name, keyword in _KEYWORDS.items():
                if name in node:
                    node[keyword] = node.pop(name)
        for value in node.values():
            _named_bounds(value)


def document(schema: dict[str, Any], routes: Iterable[tuple[str, APIRoute]]) -> None:
    """Declare in the OpenAPI schema the range `bounded_integers` holds every route's integers to."""
    components = schema.get("components", {}).get("schemas", {})
    _named_bounds(components)
    for path, route in routes:
        if not route.include_in_schema:
            continue
        dependants = _all(route.dependant)
        declared = {(kind, f.alias) for d in dependants for kind, fields in (("path", d.path_params),
                                                                              ("query", d.query_params))
                    for f in fields if _declares_int(f.field_info.annotation)}
        for method in route.methods:
            operation = schema["paths"].get(path, {}).get(method.lower())
            if operation is None:
                continue
            for parameter in operation.get("parameters", []):
                if (parameter["in"], parameter["name"]) in declared:
                    _bound(parameter["schema"])
            for field in (f for d in dependants for f in d.body_params):
                model = field.field_info.annotation
                ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}) \
                    .get("schema", {}).get("$ref", "")
                if not (isinstance(model, type) and issubclass(model, BaseModel)) or not ref:
                    continue
                properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
                for name, info in model.model_fields.items():
                    if _declares_int(info.annotation) and (info.alias or name) in properties:
                        _bound(properties[info.alias or name])
