"""The workflow code stays deterministic: the worker runs it without the SDK's sandbox (`worker.RUNNER`).

Every registered workflow's module and every `workflows/` module they reach (the interpreter's rooms: phases,
actions, timers, incidents, staff requests, follow-ups, continue-as-new, the run and its ledger) run as they
are, with nothing to stop them reading the clock, randomness or the network (the sandbox did not either: they
were passed through it, so that a run imported none of them again). This test does that job: their imports come
from an allowlist, and they call nothing that differs between a run and its replay. The modules are found by
following the imports, so a new room is checked as soon as a workflow imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from temporalio.worker import UnsandboxedWorkflowRunner

from worker import RUNNER
from workflows.registry import ALL_WORKFLOWS

ROOT = Path(__file__).resolve().parent.parent.parent


# the client side: workflow code imports its names (the dispatcher's id, a signal's name, an input model), never
# calls it (test_workflow_code_takes_only_names_from_the_client_side)
CLIENT_SIDE = "workflows.client"


def reached(*starts: str) -> list[str]:
    """The `workflows/` modules `starts` reach through their imports, themselves included (not the client side)."""
    seen, todo = {CLIENT_SIDE}, list(starts)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
        for node in ast.walk(tree):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module == "workflows":
                names = [f"workflows.{a.name}" for a in node.names]
            todo += [n for n in names if n.startswith("workflows.")]
    return sorted(m.replace(".", "/") + ".py" for m in seen - {CLIENT_SIDE})


WORKFLOW_MODULES = sorted({cls.__module__.replace(".", "/") + ".py" for cls in ALL_WORKFLOWS})
WORKFLOW_CODE = reached(*{cls.__module__ for cls in ALL_WORKFLOWS})

# what workflow code may import: pure modules, the SDK's workflow API, models
ALLOWED_IMPORTS = ("__future__", "asyncio", "collections.abc", "dataclasses", "datetime", "enum", "typing",
                   "temporalio.workflow", "temporalio.common", "temporalio.exceptions", "temporalio", "pydantic",
                   "activities.", "crm.models", "processes.", "workflows.")
# names whose use reads the clock, randomness or the outside world
FORBIDDEN_ATTRIBUTES = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "random", "uuid4",
                        "urandom", "getenv", "environ"}
FORBIDDEN_CALLS = {"open", "input", "print", "hash", "id"}


def violations(source: str, name: str = "<source>") -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            for module in modules:
                if not any(module == allowed.rstrip(".") or module.startswith(allowed)
                           for allowed in ALLOWED_IMPORTS):
                    found.append(f"{name}:{node.lineno}: imports {module}")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            owner = node.value.id if isinstance(node.value, ast.Name) else ""
            if owner != "workflow":  # workflow.now(), workflow.random(), workflow.uuid4() are deterministic
                found.append(f"{name}:{node.lineno}: uses .{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            found.append(f"{name}:{node.lineno}: calls {node.func.id}()")
    return found


def test_every_room_of_the_interpreter_is_checked() -> None:
    """The import walk finds the interpreter's rooms (a walk that found nothing would check nothing)."""
    assert {"workflows/interpreter.py", "workflows/run.py", "workflows/ledger.py", "workflows/phases.py",
            "workflows/actions.py", "workflows/timers.py", "workflows/incidents.py", "workflows/staff_requests.py",
            "workflows/follow_ups.py", "workflows/continuing.py"} <= set(WORKFLOW_CODE)
    assert "workflows/client.py" not in WORKFLOW_CODE  # client side: no workflow code reaches it
    assert {"workflows/process.py", "workflows/record_events.py", "workflows/notices.py"} <= set(WORKFLOW_MODULES)
    assert set(WORKFLOW_MODULES) <= set(WORKFLOW_CODE)


def test_the_worker_runs_its_workflows_without_the_sandbox() -> None:
    """What this guard checks is all that keeps the workflows deterministic: the worker has no sandbox."""
    assert isinstance(RUNNER, UnsandboxedWorkflowRunner)


def test_workflow_code_takes_only_names_from_the_client_side() -> None:
    """Constants and models, no function: nothing of the client side runs in a workflow."""
    taken = [(path, alias.name) for path in WORKFLOW_CODE for node in ast.walk(ast.parse((ROOT / path).read_text()))
             if isinstance(node, ast.ImportFrom) and node.module == CLIENT_SIDE for alias in node.names]
    assert taken and [(path, name) for path, name in taken if not name[0].isupper()] == []


@pytest.mark.parametrize("path", WORKFLOW_CODE)
def test_workflow_code_is_deterministic(path: str) -> None:
    assert violations((ROOT / path).read_text(), path) == []


@pytest.mark.parametrize(("snippet", "expected"), [
    ("from datetime import datetime\nx = datetime.now()", "uses .now"),
    ("import time\n", "imports time"),
    ("import random\n", "imports random"),
    ("from uuid import uuid4\n", "imports uuid"),
    ("x = open('f')", "calls open()"),
])
def test_the_guard_catches_nondeterminism(snippet: str, expected: str) -> None:
    assert any(expected in v for v in violations(snippet))


def test_the_workflow_module_imports_its_code_through_the_pass_through() -> None:
    """Everything workflows/process.py imports besides the SDK comes through imports_passed_through()."""
    tree = ast.parse((ROOT / "workflows/process.py").read_text())
    outside = [n.module for n in tree.body if isinstance(n, ast.ImportFrom)
               and n.module not in ("__future__", "collections.abc", "temporalio", "temporalio.common")]
    assert outside == []
    block = next(n for n in tree.body if isinstance(n, ast.With))
    assert "workflows.interpreter" in [n.module for n in block.body if isinstance(n, ast.ImportFrom)]


def test_every_staff_request_is_an_update_of_the_workflow() -> None:
    """The table of staff requests drives ProcessWorkflow's updates: each is there, under its own name."""
    from workflows.process import ProcessWorkflow
    from workflows.staff_requests import STAFF_REQUESTS

    for kind in STAFF_REQUESTS:
        update = getattr(ProcessWorkflow, kind.name)
        assert update._defn.name == kind.name and update._defn.arg_types == [kind.request]
        assert update._defn.validator is not None
