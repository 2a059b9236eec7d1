"""The import graph follows the layers: no module imports one of a higher layer, and
no import cycle, at module level, anywhere in spacer. Read from the source (ast), so
imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import spacer

ROOT = Path(spacer.__file__).resolve().parent

# Lowest first. A module belongs to the longest prefix listed; spacer.core alone is
# the shared base (errors, external programs).
LAYERS = [
    "spacer.core",
    "spacer.core.readers",
    "spacer.core.outputs",
    "spacer.core.options",
    "spacer.core.formats",
    "spacer.core.sharing",
    "spacer.core.rewrite",
    "spacer.core.planner",
    "spacer.core.stages",
    "spacer.demo",
    "spacer.measure",
    "spacer.engine",
    "spacer.tasks",
    "spacer.run",
    "spacer.views",
    "spacer.bench",
    "spacer.cli",
    "spacer.__main__",
]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The spacer modules ``path`` imports (a name imported from a package counts as
    the submodule when there is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("spacer"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                is_module = (ROOT.parent / sub.replace(".", "/")).with_suffix(".py").is_file() \
                    or (ROOT.parent / sub.replace(".", "/") / "__init__.py").is_file()
                found.add(sub if is_module else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("spacer"))
    return found


GRAPH = {_module(p): _imports(p) for p in ROOT.rglob("*.py")}


def _layer(module: str) -> int:
    matches = [i for i, name in enumerate(LAYERS)
               if module == name or module.startswith(name + ".")]
    if module == "spacer":
        return 0
    assert matches, f"{module} is in no layer: add it to LAYERS"
    return max(matches, key=lambda i: len(LAYERS[i]))


def test_no_module_imports_a_higher_layer():
    upward = [f"{m} -> {d}" for m, deps in GRAPH.items() for d in deps
              if _layer(d) > _layer(m)]
    assert upward == []


def test_core_imports_neither_doit_nor_rich():
    for path in (ROOT / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not any(n.split(".")[0] in ("doit", "rich") for n in names), path


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(GRAPH.get(module, ())):
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep] if dep in path else [module, dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*path, dep])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
