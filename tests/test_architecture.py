"""The package keeps the shape docs/architecture.md draws: stages in order, no cycles, small parts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "digest"
# The pipeline's order: a stage imports only from the stages before it and the foundation.
STAGES = ("paper", "store", "ingest", "publish", "mail", "web", "service", "commands")
# Pure leaf modules the foundation (configuration checks) may use: they import nothing of ours
# but the foundation, so the configuration can check a value with the very rule its stage applies.
LEAVES = {"digest.paper.dating", "digest.store.urls", "digest.mail.address"}
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """The modules of ours that ``path`` imports (at the top level only, or anywhere)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("digest"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & set(MODULES)


def _stage(module: str) -> int | None:
    """The stage index of ``module``, None for the foundation (``digest.<module>``)."""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in STAGES:
        return STAGES.index(parts[1])
    return None


def test_no_import_cycle() -> None:
    graph = {name: _imports(path, top_level_only=True) - {name} for name, path in MODULES.items()}
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            pytest.fail("import cycle: " + " → ".join(cycle))
        if name in done:
            return
        path.append(name)
        for target in sorted(graph[name]):
            visit(target)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_no_stage_imports_a_later_one() -> None:
    upward = []
    for name, path in MODULES.items():
        stage = _stage(name)
        for target in _imports(path, top_level_only=False):
            target_stage = _stage(target)
            if target_stage is None or name == "digest.cli":
                continue
            if stage is None and target not in LEAVES:
                upward.append(f"{name} (foundation) → {target}")
            elif stage is not None and target_stage > stage:
                upward.append(f"{name} → {target}")
    assert upward == []


def test_modules_and_classes_stay_small() -> None:
    big = []
    for name, path in MODULES.items():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            big.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                size = node.end_lineno - node.lineno + 1
                if size > MAX_CLASS_LINES:
                    big.append(f"{name}.{node.name}: {size} lines")
    assert big == []
