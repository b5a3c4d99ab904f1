"""A JSON body names each key once per object: a key given twice is a 422 naming where, not the last one taken.

JSON parsers keep the last of two equal names, others the first, others fail (RFC 8259 leaves it open;
I-JSON, RFC 7493, forbids it), so `{"owner_id": 1, "owner_id": 2}` is a request whose meaning depends
on who reads it. Checked for every route that takes a JSON body by one app-level dependency, after
FastAPI has read the body (it refuses what is not JSON) and before anything is done with it. The
template and pipeline documents are read by their own loader, which refuses duplicate keys too.

No text of a JSON body, key or value, holds the NUL character (`\u0000`): PostgreSQL cannot keep it in a text, and
SQLite would keep it to trouble every export and email after; a 422 names where it is, on either database.

A JSON body names only keys its model knows, in the body and in every object of a model inside it (a free map, such
as a record's `fields`, takes any): `{"template": "sale", "record_id": 7, "ownr_id": 3}` is a 422 naming `ownr_id`
and the body's fields, where the misspelt key was dropped and the process started with the default owner.
"""

from __future__ import annotations

import json
import types
from collections import Counter
from collections.abc import Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.no_nul import NUL_MESSAGE
from api.problems import is_json, other_charset
from processes.documents import HALF_PAIR, half_pair
from processes.errors import StagecoachError

Location = tuple[str | int, ...]


class JsonNotUtf8(StagecoachError):
    status = 415


class _Object(dict[str, Any]):
    """A JSON object as parsed, with the keys it was given more than once."""

    twice: tuple[str, ...] = ()


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    parsed = _Object(pairs)
    if len(parsed) != len(pairs):
        parsed.twice = tuple(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
    return parsed


def _twice(value: Any, at: Location) -> Iterator[Location]:
    if isinstance(value, _Object):
        yield from (at + (key,) for key in value.twice)
        for key, item in value.items():
            yield from _twice(item, at + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _twice(item, at + (index,))


def _nul(value: Any, at: Location) -> Iterator[tuple[Location, str]]:
    """Where a text holds NUL, or half of a surrogate pair alone (`"\\ud83d"`: no character; neither database keeps
    it, and an answer echoing it could not be written), with what is wrong there."""
    if isinstance(value, str):
        if (wrong := _wrong(value)) is not None:
            yield at, wrong
    elif isinstance(value, dict):
        for key, item in value.items():
            if (wrong := _wrong(key)) is not None:
                yield at + (key,), wrong
            else:
                yield from _nul(item, at + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul(item, at + (index,))


def _wrong(text: str) -> str | None:
    return NUL_MESSAGE if "\x00" in text else HALF_PAIR if half_pair(text) else None


def keys_twice(text: bytes | str) -> list[Location]:
    """Where a JSON text (valid JSON) gives an object a key more than once: each key's location."""
    return list(_twice(json.loads(text, object_pairs_hook=_object), ()))


async def keys_given_once(request: Request) -> None:
    """The app-level dependency: a route's JSON body with a key given twice is refused (422, every one by path), and
    so is one with a text holding NUL, or with a key its model does not know (`unknown_keys`)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None \
            or not is_json(request.headers.get("content-type", "")):
        return
    if (charset := other_charset(request.headers.get("content-type", ""))) is not None:
        raise JsonNotUtf8(f"JSON is read as UTF-8: send it so, with Content-Type: application/json (it came as "
                          f"charset={charset})")
    body = await request.body()  # read once: FastAPI has read it, Starlette keeps it on the request
    if not body:
        return
    try:  # FastAPI has parsed it as JSON, taking UTF-16 and UTF-32 too (Python's reader guesses from the bytes)
        parsed = json.loads(body.decode("utf-8"), object_pairs_hook=_object)
    except ValueError:  # UnicodeDecodeError, or JSONDecodeError: not UTF-8 (UTF-16's NULs decode, and parse to nothing)
        raise JsonNotUtf8("JSON is read as UTF-8: send it so, with Content-Type: application/json (this body is "
                          "another encoding, UTF-16 or UTF-32)") from None
    if twice := list(_twice(parsed, ())):
        raise RequestValidationError([{"loc": ("body", *at), "type": "duplicate_key", "input": None,
                                       "msg": f"'{at[-1]}' is given twice in this object: a JSON object names each "
                                              "key once"} for at in twice])
    if nul := list(_nul(parsed, ())):
        raise RequestValidationError([{"loc": ("body", *at), "type": "string_nul", "input": None, "msg": message}
                                      for at, message in nul])
    if unknown := unknown_keys(_body_model(route), parsed):
        raise RequestValidationError(unknown)


def _body_model(route: APIRoute) -> type[BaseModel] | None:
    """The model a route's whole body is, given or optional (`body: Model | None = None`: a misspelt key of a close,
    a completion or a resend had been dropped, and the action done with the defaults); None for a body of several
    parameters, or not a model."""
    params = route.dependant.body_params
    if len(params) != 1 or route._embed_body_fields:
        return None
    inner = _model_in(params[0].field_info.annotation)
    return inner[1] if inner is not None and inner[0] == "one" else None


def unknown_keys(model: type[BaseModel] | None, data: Any) -> list[dict[str, Any]]:
    """The keys of a JSON body (`data`, parsed) that its model (and the models inside it) does not know, as 422
    errors by path: a misspelt `ownr_id` refused, not dropped for the default to apply. Read from the models' fields
    (SQLModel's models do not take pydantic's `extra` when validating)."""
    if model is None:
        return []
    return [{"loc": ("body", *at), "type": "extra_forbidden", "input": None,
             "msg": f"'{at[-1]}' is not a field of this object (its fields: {', '.join(known)})"}
            for at, known in _unknown(model, data, ())]


def _unknown(model: type[BaseModel], value: Any, at: Location) -> Iterator[tuple[Location, list[str]]]:
    if not isinstance(value, dict) or model.model_config.get("extra") == "allow":
        return
    fields = {(info.alias or name): info for name, info in model.model_fields.items()}
    known = set(fields) | set(model.model_fields)
    for key, item in value.items():
        if key not in known:
            yield at + (key,), list(fields)
        elif (inner := _model_in((fields.get(key) or model.model_fields[key]).annotation)) is not None:
            kind, sub = inner
            for index, element in (enumerate(item) if kind == "list" and isinstance(item, list) else
                                   [(None, item)] if kind == "one" else []):
                yield from _unknown(sub, element, at + ((key,) if index is None else (key, index)))


def _model_in(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """("one", M) for a field that is a model M (or M | None), ("list", M) for a list of them; None otherwise (a
    free map, a scalar, a choice of several models: not looked into)."""
    if get_origin(annotation) is Annotated:
        return _model_in(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "one", annotation
    origin, args = get_origin(annotation), [a for a in get_args(annotation) if a is not type(None)]
    if origin in (Union, types.UnionType) and len(args) == 1:
        return _model_in(args[0])
    if origin in (list, tuple, set, frozenset) and len(args) == 1 and (inner := _model_in(args[0])) is not None \
            and inner[0] == "one":
        return "list", inner[1]
    return None


def document(schema: dict[str, Any]) -> None:
    """The OpenAPI document says what `unknown_keys` refuses: an object of a JSON request body that is a model (the
    body, a model inside it, the models of a list) has `additionalProperties: false`; a free map keeps its own."""
    components = schema.get("components", {}).get("schemas", {})
    closed: set[str] = set()

    def close(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if (ref := node.get("$ref")) is not None:
            name = ref.rsplit("/", 1)[-1]
            if name in components and name not in closed:
                closed.add(name)
                close(components[name])
            return
        choices = [choice for choice in node.get("anyOf", []) if choice.get("type") != "null"]
        if len(choices) == 1:  # a model or nothing; a choice of several is not looked into, as unknown_keys does not
            close(choices[0])
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
            for field in node["properties"].values():
                close(field)
        if node.get("type") == "array":
            close(node.get("items"))

    for operation in (op for path in schema.get("paths", {}).values() for op in path.values() if isinstance(op, dict)):
        close(operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema"))
