"""A render child: `python -m renderer.child --memory-mb N [--nice N]`, driven by `renderer.pool` over its pipes.

It reads requests from stdin (a 4-byte length, then a pickle: the parent is trusted) and
answers on stdout (a 4-byte length, then JSON: nothing a text does can make the parent unpickle
anything). Its address space is capped (`RLIMIT_AS`, the soft limit) at what it holds when a
request comes plus `--memory-mb`, so a text that allocates past that gets a `MemoryError`,
answered as a refusal, after which the child exits and the pool starts another. A child that
has come to hold half an allowance more than when it was ready (the compiled texts it keeps, a
fragmented heap) answers, then retires the same way: what earlier requests left never eats a
later one's allowance, and a child never holds more than that plus one request's allowance.
(The PDF lane's child holds about 75 MB more once it has made a PDF: fonts and libraries.)
It ignores Ctrl-C and lives in its own session, so stopping the worker never interrupts a
render midway; it ends when its parent does (stdin closes, or the kernel's parent-death signal).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pickle
import resource
import signal
import struct
import sys
import time
from datetime import UTC, datetime
from typing import Any, BinaryIO

from processes.display import Office
from processes.documents import parse_document
from processes.errors import RenderError, TemplateInvalid
from processes.rendering import Memory, OutOfTrial, evaluate_condition, render_text
from processes.template_basics import RecordKind
from processes.trials import noting_untried
from processes.validation import validate_template

HEADER = struct.Struct(">I")


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    data = stream.read(size)
    return data if len(data) == size else None


def write_frame(stream: BinaryIO, payload: dict[str, Any]) -> None:
    try:
        data = json.dumps(payload, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate in a text (an echoed value): JSON's escapes carry it, UTF-8 cannot
        data = json.dumps(payload).encode()
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def _office(request: dict[str, Any]) -> Office:
    return Office(request.get("locale") or "en", request.get("timezone") or "UTC")


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """One request: `render` a text, `decide` (the first condition that holds), `validate` a template, or make a
    `pdf` of HTML (base64). A
    render or decision given a trial (`seconds`) shorter than its budget answers `slow` once past it."""
    op = request["op"]
    try:
        if op == "render":
            return {"ok": render_text(request["source"], request["variables"], where=request["where"],
                                      office=_office(request), seconds=request.get("seconds"))}
        if op == "decide":
            for b, (where, source) in enumerate(request["conditions"]):
                if evaluate_condition(source, request["variables"], where=where, office=_office(request),
                                      seconds=request.get("seconds")):
                    return {"ok": b}
            return {"ok": None}
        if op == "validate":
            document = parse_document(request["text"], source=request.get("source", "body"))
            kinds = {key: RecordKind(kind) for key, kind in request["known_templates"].items()} \
                if request.get("known_templates") is not None else None
            with noting_untried() as untried:
                template = validate_template(document, known_users=request.get("known_users"),
                                             known_templates=kinds, known_endpoints=request.get("known_endpoints"),
                                             known_requests=request.get("known_requests"),
                                             known_signers=request.get("known_signers"))
            return {"ok": template.model_dump(mode="json"), "untried": untried}
        if op == "validate_pipeline":
            from processes.pipeline_validation import remap_of, validate_pipeline

            document = parse_document(request["text"], source=request.get("source", "body"))
            kinds = {key: RecordKind(kind) for key, kind in request["known_templates"].items()}
            pipeline = validate_pipeline(document, known_users=request["known_users"], known_templates=kinds,
                                         known_endpoints=request.get("known_endpoints"),
                                         known_requests=request.get("known_requests"),
                                         known_signers=request.get("known_signers"))
            return {"ok": pipeline.model_dump(mode="json"), "remap": remap_of(document)[1]}
        if op == "pdf":
            from renderer.pdf import PdfRefused, html_to_pdf

            try:
                data = html_to_pdf(request["html"], title=request.get("title", ""), author=request.get("author", ""))
            except PdfRefused as exc:
                return {"error": f"{request['where']}: {exc}" if request.get("where") else str(exc)}
            return {"ok": base64.b64encode(data).decode("ascii")}
        if op == "ping":
            return {"ok": os.getpid()}
    except RenderError as exc:
        return {"error": exc.message}
    except OutOfTrial:
        return {"slow": True}
    except TemplateInvalid as exc:
        return {"invalid": [[detail.path, detail.message] for detail in exc.details]}
    raise ValueError(f"unknown request {op!r}")


def _address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _die_with_parent() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the child still ends when its stdin closes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--memory-mb", type=int, default=256)
    parser.add_argument("--nice", type=int, default=0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    if args.nice:
        os.nice(args.nice)
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but answers on the answer pipe
    render_text("{{ now|date }} {{ 1|currency }}", {"now": datetime.now(UTC)})  # Babel's data, loaded once
    Memory.limit_mb = args.memory_mb
    budget = args.memory_mb * 1024 * 1024
    held = _address_space()
    retire_at = held + budget // 2
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    write_frame(answers, {"ready": os.getpid()})
    while True:
        # the next request may allocate `budget` past what the child holds now (its caches of compiled texts grow)
        resource.setrlimit(resource.RLIMIT_AS, (held + budget, hard))
        if (frame := read_frame(requests)) is None:
            return 0
        started = time.thread_time()
        try:
            answer = handle(pickle.loads(frame))  # noqa: S301 (from the parent, over a pipe it made)
        except MemoryError:  # outside a render (reading the request, validating its structure)
            Memory.ran_out = True
            answer = {"error": f"refused: the request needed more than {args.memory_mb} MB of memory"}
        except Exception as exc:  # a bug, not the text: said as it is, and the child goes on
            answer = {"failed": f"{type(exc).__name__}: {exc}"}
        answer["seconds"] = time.thread_time() - started  # processor time: a busy machine makes no text slow
        held = _address_space()
        if Memory.ran_out:
            answer["memory"] = True
        elif held > retire_at:
            answer["retire"] = True  # a fresh child takes over
        try:
            write_frame(answers, answer)
        except MemoryError:
            return 3
        if answer.get("memory") or answer.get("retire"):
            return 0  # its heap may stay large: the pool starts a fresh child


if __name__ == "__main__":
    sys.exit(main())
