"""The import graph of src/ncaforge: no cycles, and no layer imports one above it (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ncaforge"
# low to high; a module may import its own layer and those below it
LAYERS = ("core", "kernels", "interventions", "data", "render", "objectives", "families", "io", "zoo",
          "training", "analysis", "web", "api", "cli")
FACADE = "ncaforge"  # the package's __init__: re-exports the API, sits above everything


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACADE


def imports(path: Path, modules: set[str]) -> set[str]:
    """Every ncaforge module ``path`` imports, at module level or inside functions, except
    ``if TYPE_CHECKING:`` blocks (annotations only); ``from package import module`` is the module."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ncaforge"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ncaforge"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if sub in modules else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    return {name: {m for m in imports(path, set(modules)) if m in modules and m != name}
            for name, path in modules.items()}


def test_every_module_sits_in_a_known_layer():
    unknown = sorted({layer(m) for m in graph()} - {*LAYERS, FACADE})
    assert not unknown, f"packages missing from the layer order: {unknown}"


def test_no_layer_imports_one_above_it():
    rank = {name: i for i, name in enumerate(LAYERS)} | {FACADE: len(LAYERS)}
    upward = sorted(f"{a} -> {b}" for a, targets in graph().items() for b in targets
                    if rank[layer(b)] > rank[layer(a)])
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            walk(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_cli_modules_use_no_other_cli_module_internals():
    """CLI modules may share cli.common and cli.options, never each other's commands or helpers."""
    shared = {"ncaforge.cli.common", "ncaforge.cli.options", "ncaforge.cli"}
    g = graph()
    crossing = sorted(f"{a} -> {b}" for a, targets in g.items() if layer(a) == "cli" and a != "ncaforge.cli"
                      for b in targets if layer(b) == "cli" and b not in shared and b != a)
    assert not crossing, "CLI modules importing other CLI modules:\n" + "\n".join(crossing)


@pytest.mark.parametrize("where", [Path("README.md"), SRC])
def test_nothing_points_outside_the_repository(where):
    root = SRC.parents[1]
    files = [root / where] if (root / where).is_file() else list((root / where).rglob("*.py"))
    hits = [str(f) for f in files if "shared/" in f.read_text()]
    assert not hits, f"files naming a folder outside the repository: {hits}"


UNPICKLERS = ("pickle", "cPickle", "_pickle", "joblib", "dill", "cloudpickle", "shelve")


@pytest.mark.parametrize("folder", ["src", "tests", "benchmarks"])
def test_nothing_is_ever_unpickled(folder):
    """No pickle-based loader is imported; torch.load only with weights_only=True; np.load never with
    allow_pickle=True (unpickling runs whatever the file says)."""
    root = SRC.parents[1] / folder
    found = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path}: import {n}" for n in names if n.split(".")[0] in UNPICKLERS]
            if isinstance(node, ast.Call):
                call = ast.unparse(node.func)
                keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
                if call.endswith("torch.load") and keywords.get("weights_only") != "True":
                    found.append(f"{path}:{node.lineno}: torch.load without weights_only=True")
                if keywords.get("allow_pickle") not in (None, "False"):
                    found.append(f"{path}:{node.lineno}: allow_pickle={keywords['allow_pickle']}")
    assert not found, "unpickling:\n" + "\n".join(found)
