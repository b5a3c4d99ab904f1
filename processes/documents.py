"""Reading a template document: YAML or JSON into a mapping, refusing shapes that would exhaust a reader.

A document is parsed with YAML 1.2 booleans and no duplicate keys, and refused when it nests
too deeply, when its YAML aliases expand it past a bound, or when a text holds NUL, each with where.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from datetime import date, datetime
from typing import Any

import yaml

from processes.errors import ErrorDetail, TemplateInvalid


def format_path(loc: tuple[Any, ...]) -> str:
    """('phases', 2, 'actions', 0, 'send_email', 'to') -> 'phases[2].actions[0].send_email.to'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


class _Loader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2 booleans (`on`, `off`, `yes`, `no` stay strings) that refuses duplicate keys."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{key}'", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # past Python's 4,300 digits of a text read as a number: no template value is
            raise yaml.constructor.ConstructorError(None, None, LONG_NUMBER, node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader), _Loader):  # type: ignore[misc]
    """`_Loader` reading with libyaml (PyYAML's wheels have it): a hostile 800 KB document of 200,000 aliases took 6 s
    of the check pool's time to read in Python before its values were counted and it was refused; 0.1 s so. libyaml
    refuses a UTF-16 surrogate escape (`\\ud83d\\ude00`, how JSON may write an emoji): a document holding one is
    read in Python."""


def _shallow(text: str) -> bool:
    """Whether the document nests no deeper than `MAX_DOCUMENT_DEPTH`, read as libyaml's events (its parser keeps its
    own stack): libyaml's composer recurses in C, and `[` or `- ` nested 100,000 deep crashed the process (a
    segmentation fault) where Python's reader stops at its recursion limit. A deeper one is read in Python, which
    refuses it saying so; one libyaml cannot parse, too, which says why."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_FastLoader):
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > MAX_DOCUMENT_DEPTH:
                    return False
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        return False
    return True


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def parse_document(text: str, *, source: str = "body") -> dict[str, Any]:
    """Parse a YAML or JSON document (JSON is YAML) into a mapping."""
    try:
        loader = _FastLoader if not _SURROGATE_ESCAPE.search(text) and _shallow(text) else _Loader
        data = yaml.load(text, Loader=loader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TemplateInvalid([ErrorDetail("", f"{source} is not valid YAML or JSON{where}: {problem}")]) from None
    except RecursionError:
        raise TemplateInvalid([ErrorDetail("", f"{source} is nested more than {MAX_DOCUMENT_DEPTH} levels deep")]) \
            from None
    if not isinstance(data, dict):
        raise TemplateInvalid([ErrorDetail("", f"{source} must be a mapping of template fields")])
    _check_shape(data, source)
    return json.loads(json.dumps(data, default=str))


MAX_NUMBER_DIGITS = 100
LONG_NUMBER = f"a number of more than {MAX_NUMBER_DIGITS} digits: no template value is one (write it in quotes for text)"
MAX_DOCUMENT_DEPTH = 64
MAX_DOCUMENT_VALUES = 100_000
MAX_DOCUMENT_CHARS = 1_000_000  # of text, once YAML aliases are expanded (an alias repeats its anchor's text)


def _check_shape(data: Any, source: str) -> None:
    """Refuse a document nested too deeply, or one whose YAML aliases refer to themselves or expand too far."""
    budget, chars = [MAX_DOCUMENT_VALUES], [MAX_DOCUMENT_CHARS]

    def walk(value: Any, path: str, depth: int, ancestors: set[int]) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** MAX_NUMBER_DIGITS:
            texts.append(ErrorDetail(_readable(path), LONG_NUMBER))  # 0xfff… of any length (no limit in base 16)
        if isinstance(value, str):
            if "\x00" in value:  # YAML's "\0": PostgreSQL keeps no such text, and a status so named looks like another
                texts.append(ErrorDetail(_readable(path), NUL))
            if half_pair(value):
                texts.append(ErrorDetail(_readable(path), HALF_PAIR))
            chars[0] -= len(value)
            if chars[0] < 0:
                raise TemplateInvalid([ErrorDetail("", f"{source} holds more than {MAX_DOCUMENT_CHARS} characters "
                                                       "of text (once its YAML aliases are expanded)")])
        if not isinstance(value, (dict, list)):
            return
        if depth >= MAX_DOCUMENT_DEPTH:
            raise TemplateInvalid([ErrorDetail(_readable(path), f"nested more than {MAX_DOCUMENT_DEPTH} levels deep")])
        if id(value) in ancestors:
            raise TemplateInvalid([ErrorDetail(_readable(path),
                                               "contains itself (a YAML alias inside its own anchor)")])
        budget[0] -= len(value)
        if budget[0] < 0:
            raise TemplateInvalid([ErrorDetail("", f"{source} holds more than {MAX_DOCUMENT_VALUES} values "
                                                   "(once its YAML aliases are expanded)")])
        ancestors.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            where = format_path((path, key) if path else (key,)) if isinstance(value, list) else \
                (f"{path}.{key}" if path else str(key))
            if isinstance(value, dict) and not isinstance(key, str):
                keys.append(ErrorDetail(_readable(where), _not_text(key)))
            elif isinstance(key, str) and "\x00" in key:
                keys.append(ErrorDetail(_readable(where).replace("\x00", "\\0"), f"a key {NUL}"))
            elif isinstance(key, str) and half_pair(key):
                keys.append(ErrorDetail(_readable(where), f"a key {HALF_PAIR}"))
            walk("k" * len(key) if isinstance(key, str) else key, path, depth + 1, ancestors)  # its length counted
            walk(child, where, depth + 1, ancestors)
        ancestors.discard(id(value))

    keys: list[ErrorDetail] = []
    texts: list[ErrorDetail] = []
    walk(data, "", 0, set())
    if keys or texts:
        raise TemplateInvalid(keys + texts)


NUL = "holds the NUL character (\\0 or \\u0000), which no text may hold"
HALF_PAIR = ("holds half of a UTF-16 surrogate pair alone (an escape such as \\ud83d without its \\ude00), which is "
             "no character")


def half_pair(text: str) -> bool:
    """Whether `text` holds a surrogate no other completes (JSON's escapes of an emoji are two: YAML reads each alone,
    and they are paired when the document is given back; one of them alone is no character)."""
    if not _surrogates(text):
        return False
    try:
        text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return True
    return False


def _surrogates(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


def _readable(path: str) -> str:
    """A path as text that can be written: its surrogate pairs as the characters they encode, a lone one as U+FFFD."""
    if not _surrogates(path):
        return path
    return path.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _not_text(key: Any) -> str:
    """What to say of a mapping key YAML did not read as text (`2024-05-01:`, `12:`, `null:`)."""
    kind = {bool: "true or false", int: "a number", float: "a number", date: "a date", datetime: "a date and time",
            type(None): "null"}.get(type(key), type(key).__name__)
    shown = "null" if key is None else "…" if isinstance(key, int) and abs(key) >= 10 ** MAX_NUMBER_DIGITS else str(key)
    return f"a key must be text, and YAML reads {shown} as {kind}: put it in quotes ('{shown}')"
