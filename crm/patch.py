"""The body of a PATCH: each field given is changed, each left out is kept, and null only where the column takes it.

A field the table holds NOT NULL (a record's title, a user's email) is declared without `None`
in its type, with `None` as its default only to mean "left out":

    title: str = Field(default=None, min_length=1, max_length=300)

Sending `null` for it is then refused before anything is read or written (422 naming the field),
and the OpenAPI schema offers neither `null` nor a `null` default for it. A field whose column
is nullable (`phone: str | None`) takes `null` to clear it. `tests/bad_input/test_patch_nulls.py`
holds every `Patch` model to its table.
"""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from sqlmodel import SQLModel
from sqlmodel._compat import SQLModelConfig


def admits_null(annotation: Any) -> bool:
    """Whether a field declared with this type may be sent as null."""
    if annotation is None or annotation is type(None) or annotation is Any:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(admits_null(arg) for arg in get_args(annotation))
    return False


def _schema_without_null_defaults(schema: dict[str, Any], model: type[SQLModel]) -> None:
    by_alias = {info.alias or name: info for name, info in model.model_fields.items()}
    for name, prop in schema.get("properties", {}).items():
        info = by_alias.get(name)
        if info is not None and not admits_null(info.annotation) and prop.get("default", ...) is None:
            del prop["default"]  # "left out" is not a value a client can send


class Patch(SQLModel):
    model_config = SQLModelConfig(json_schema_extra=_schema_without_null_defaults)

    @field_validator("*", mode="before")
    @classmethod
    def _null_only_where_allowed(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name is not None \
                and not admits_null(cls.model_fields[info.field_name].annotation):
            raise PydanticCustomError("null_not_allowed", "cannot be null: leave it out to keep the current value")
        return value
