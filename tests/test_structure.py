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


# --- history lines ---------------------------------------------------------------------------------------------

HISTORY_WRITERS = ("activities", "crm", "api", "workflows")
# the calls that make a history line, and the arguments that are its text (by keyword, or by position)
LINE_CALLS = {"HistoryEntry", "HistoryLine", "RecordHistoryInput", "PhaseTaskOpening", "model_construct",
              "send_once", "add_once", "_new_version"}
TEXT_KEYWORDS = {"text", "line", "history_text"}
TEXT_POSITIONS = {"line": 2, "history": 2, "_line": 2, "_history": 3, "_note": 3}


def _written_in_english(node: ast.expr) -> bool:
    """A text made of literal words: a string of words, an f-string, or either joined to something."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return any(c.isalpha() for c in node.value)
    if isinstance(node, ast.BinOp):
        return _written_in_english(node.left) or _written_in_english(node.right)
    if isinstance(node, ast.IfExp):
        return _written_in_english(node.body) or _written_in_english(node.orelse)
    return False


def english_history_lines(root: Path = ROOT) -> list[str]:
    """Where a history line's text is written from literal words instead of processes/history_words.py (which
    writes it in the office's language)."""
    found = []
    for top in HISTORY_WRITERS:
        for path in sorted((root / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.attr if isinstance(node.func, ast.Attribute) else \
                    node.func.id if isinstance(node.func, ast.Name) else ""
                texts = [k.value for k in node.keywords if k.arg in TEXT_KEYWORDS] if name in LINE_CALLS else []
                if name in TEXT_POSITIONS and len(node.args) > TEXT_POSITIONS[name]:
                    texts.append(node.args[TEXT_POSITIONS[name]])
                found += [f"{path.relative_to(root)}:{text.lineno}" for text in texts if _written_in_english(text)]
    return found


def test_history_lines_are_written_in_the_offices_language() -> None:
    assert english_history_lines() == []


def test_the_check_finds_a_line_written_in_english(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "lines.py").write_text(
        'HistoryEntry(record_id=1, kind=kind, text=f"Task created: {title}")\n'
        'HistoryEntry(record_id=1, kind=kind, text="Case reopened" + why)\n'
        'run.line(f"{wf}/done", kind, f"Phase {name} done")\n'
        'HistoryEntry(record_id=1, kind=kind, text=history_text(locale, "case_reopened"))\n'
        'HistoryEntry(record_id=1, kind=kind, text=body.description)\n')
    for top in ("activities", "crm", "workflows"):
        (tmp_path / top).mkdir()
    assert english_history_lines(tmp_path) == ["api/lines.py:1", "api/lines.py:2", "api/lines.py:3"]
