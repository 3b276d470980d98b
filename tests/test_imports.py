"""The package's modules form layers: each imports on its own, and no chain of imports leads back to where it began.

Every `import` counts, also those inside functions: a lazy import only hides a cycle until the day it runs first.
"""

from __future__ import annotations

import ast
import subprocess
import sys

import networkx as nx
import pytest

from kbtest import ROOT

PACKAGE = ROOT / "kb"


def module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, tree: ast.AST) -> set[str]:
    """The kb modules a module imports (`from kb.publish import x` counts as kb.publish.x when x is a module)."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names}
    return {module for module in found if module in MODULES and module != name}


def import_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, path in MODULES.items():
        graph.add_node(name)
        graph.add_edges_from((name, target) for target in imported(name, ast.parse(path.read_text(encoding="utf-8"))))
    return graph


def test_the_walk_sees_the_imports_it_should():
    graph = import_graph()
    assert ("kb.cli", "kb.project") in graph.edges  # a top-level import
    assert ("kb.cli", "kb.publish.serve") in graph.edges  # an import inside a function


def test_no_module_imports_itself_through_others():
    cycles = list(nx.simple_cycles(import_graph()))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c + [c[0]]) for c in cycles)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_on_its_own(name):
    """In a fresh interpreter, as the first thing imported: no module relies on another having been imported first."""
    done = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
