"""The package's layers: imports only go down, and no two modules import each other.

Reads every module's imports with ``ast`` (``TYPE_CHECKING`` and function-level ones
included: each is a dependency a reader has to follow) and checks them against the
layer order that the README's Layout section draws.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline_kit"

# Bottom to top. A module may import its own layer's modules and any layer below.
# Two layers on one rank are siblings and import neither each other.
LAYERS: dict[str, int] = {
    "base": 0,
    "tasks": 1, "ingest": 1,
    "stages": 2,
    "pipeline": 3,
    "collection": 4,
    "notebook": 5,
    "": 6,  # pipeline_kit/__init__.py, the public face
    "faces": 7, "faces.api": 7,
    "faces.cli": 8,
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``pipeline_kit/stages/_chunking.py`` -> ``pipeline_kit.stages._chunking``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str], root: Path = PACKAGE) -> set[str]:
    """The package's modules that ``path`` imports, relative imports resolved."""
    me = module_name(path, root)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names = [f"{base}.{a.name}" for a in node.names]
            if not all(n in modules for n in names):  # names defined in base itself
                names.append(base)
        else:
            continue
        found.update(n for n in names if n in modules and n != me)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports."""
    paths = {module_name(p, root): p for p in root.rglob("*.py")}
    return {m: imported_modules(p, set(paths), root) for m, p in paths.items()}


def layer_of(module: str) -> str:
    """The longest declared layer that holds ``module`` ("" for the package root)."""
    inner = module.split(".")[1:]
    for n in range(len(inner), 0, -1):
        if ".".join(inner[:n]) in LAYERS:
            return ".".join(inner[:n])
    if len(inner) <= 1 and not (inner and inner[0] in LAYERS):
        return ""
    raise KeyError(f"{module} is in no declared layer: add its package to LAYERS")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a higher layer or of a sibling layer on the same rank."""
    bad = []
    for m, targets in graph.items():
        lm = layer_of(m)
        for t in targets:
            lt = layer_of(t)
            if lt != lm and LAYERS[lt] >= LAYERS[lm] and not lm.startswith(lt + "."):
                bad.append(f"{m} ({lm or 'root'}) imports {t} ({lt or 'root'})")
    return sorted(bad)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_imports_only_go_down_a_layer():
    assert upward_imports(import_graph()) == []


def test_every_module_is_in_a_declared_layer():
    for m in import_graph():
        layer_of(m)  # raises, naming the module, when a new package has no rank


def test_top_level_shows_the_layers():
    entries = {p.name for p in PACKAGE.iterdir()
               if p.name not in ("__init__.py", "py.typed", "__pycache__")}
    assert len(entries) <= 8, sorted(entries)
    assert all((PACKAGE / e).is_dir() for e in entries), sorted(entries)


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root / "pipeline_kit"


@pytest.mark.parametrize("late", [False, True])
def test_a_circle_added_back_is_found(tmp_path, late):
    """The registry importing the stage declarations that import it, as it once did."""
    back = ("def load():\n    import pipeline_kit.pipeline._builtin_stages\n" if late else
            "from pipeline_kit.pipeline import _builtin_stages\n")
    pkg = _write(tmp_path, {
        "pipeline_kit/__init__.py": "",
        "pipeline_kit/pipeline/__init__.py": "",
        "pipeline_kit/pipeline/_registry.py": back,
        "pipeline_kit/pipeline/_builtin_stages.py": "from ._registry import load\n",
    })
    assert circles(import_graph(pkg)) == [["pipeline_kit.pipeline._builtin_stages",
                                           "pipeline_kit.pipeline._registry"]]


def test_an_upward_import_is_found(tmp_path):
    """The pipeline importing a notebook view, as it once did for its progress panel."""
    pkg = _write(tmp_path, {
        "pipeline_kit/__init__.py": "",
        "pipeline_kit/notebook/__init__.py": "",
        "pipeline_kit/notebook/_display.py": "def follow(): ...\n",
        "pipeline_kit/pipeline/__init__.py": "",
        "pipeline_kit/pipeline/_pipeline.py": "from ..notebook._display import follow\n",
        "pipeline_kit/stages/__init__.py": "",
        "pipeline_kit/stages/_chunking.py": "from pipeline_kit.pipeline import _pipeline\n",
    })
    assert upward_imports(import_graph(pkg)) == [
        "pipeline_kit.pipeline._pipeline (pipeline) imports pipeline_kit.notebook._display "
        "(notebook)",
        "pipeline_kit.stages._chunking (stages) imports pipeline_kit.pipeline._pipeline "
        "(pipeline)",
    ]
