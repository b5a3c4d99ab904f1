"""The product's modules import each other without a cycle (docs/architecture.md: imports go one way).

A cycle is how `activities/` once reached `workflows/process.py` and back; a module that starts or
signals a workflow goes through `workflows/client.py`, which imports no workflow class.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("processes", "crm", "workflows", "activities", "api", "cli", "worker.py", "settings.py", "logs.py")


def product_modules() -> dict[str, Path]:
    paths = [p for top in PRODUCT for p in ([ROOT / top] if top.endswith(".py") else (ROOT / top).rglob("*.py"))
             if "migrations" not in p.parts]
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p for p in paths}


def import_graph() -> dict[str, set[str]]:
    """Module -> the product modules it imports (anywhere in it: a function-level import counts too)."""
    modules = product_modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != module and not module.startswith(target + "."):
                    graph[module].add(target)
    return graph


def test_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the walk found the product
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_the_check_finds_a_cycle() -> None:
    graph = import_graph()
    graph["workflows.client"].add("workflows.process")  # as if the client imported the workflow class
    try:
        TopologicalSorter(graph).prepare()
    except CycleError:
        return
    raise AssertionError("a cycle went unnoticed")
