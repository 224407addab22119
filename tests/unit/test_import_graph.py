"""No import circle anywhere in chronoflow/.

The graph is read from the source with `ast`, not from a running interpreter, so an import
hidden inside a function counts as much as one at the top of a module: both run sooner or
later. Imports under `if TYPE_CHECKING:` never run and are left out.

What counts as an edge:
- `import chronoflow.a.b` and `from chronoflow.a.b import name` import module `chronoflow.a.b`
  (a package means its `__init__.py`);
- `from chronoflow.a import b` imports `chronoflow.a.b` when `b` is a submodule, and the package
  `chronoflow.a` when `b` is a name defined there;
- relative imports are resolved against the importing module's package.
Parent packages that Python runs on the way to a dotted module are not edges: every submodule
would otherwise depend on its own package's `__init__.py`.
"""

from __future__ import annotations

import ast
import itertools
from collections import deque
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "chronoflow"

Graph = dict[str, set[str]]


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted name of every module under `root/package`, packages named by their `__init__.py`."""
    names: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    """`TYPE_CHECKING` or `typing.TYPE_CHECKING`, the guards whose body never runs."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _executed_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under `node`, at any depth, except `if TYPE_CHECKING:` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                if isinstance(other, ast.Import | ast.ImportFrom):
                    yield other
                yield from _executed_imports(other)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _executed_imports(child)


def _base_of(statement: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a `from ... import` reads from, relative levels resolved."""
    if statement.level == 0:
        return statement.module or ""
    parts = module.split(".")
    if not is_package:
        parts.pop()
    if statement.level > 1:
        parts = parts[: len(parts) - (statement.level - 1)]
    return ".".join([*parts, *([statement.module] if statement.module else [])])


def import_graph(root: Path, package: str) -> Graph:
    """Edges from each module of `package` to the modules of `package` it imports."""
    modules = module_names(root, package)
    graph: Graph = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for statement in _executed_imports(tree):
            targets: list[str] = []
            if isinstance(statement, ast.Import):
                targets = [alias.name for alias in statement.names]
            else:
                base = _base_of(statement, name, is_package)
                for alias in statement.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else base)
            graph[name].update(target for target in targets if target in modules)
    return graph


def _components(graph: Graph) -> list[list[str]]:
    """Strongly connected components (Tarjan), each sorted; order of discovery."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _shortest_cycle(graph: Graph, start: str, members: set[str]) -> list[str]:
    """The shortest path from `start` back to itself inside one component."""
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return []


def cycles(graph: Graph) -> list[list[str]]:
    """One shortest cycle through each module that sits on a cycle, duplicates dropped."""
    seen: set[frozenset[tuple[str, str]]] = set()
    found: list[list[str]] = []
    for component in _components(graph):
        members = set(component)
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        for start in component:
            cycle = _shortest_cycle(graph, start, members)
            key = frozenset(itertools.pairwise(cycle))
            if cycle and key not in seen:
                seen.add(key)
                found.append(cycle)
    return found


def test_chronoflow_has_no_import_cycle() -> None:
    """It finds no circle among chronoflow's own imports."""
    found = cycles(import_graph(ROOT, PACKAGE))
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_it_reports_cycles_through_functions_relative_and_submodule_imports(tmp_path: Path) -> None:
    """It denies a circle closed by a late import, a relative import or a `from pkg import sub`."""
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import thing\n",
            "pkg/b.py": "def thing():\n    from . import c\n",
            "pkg/c.py": "from pkg import a\n",
            "pkg/sub/__init__.py": "from pkg.sub.x import name\n",
            "pkg/sub/x.py": "from pkg.sub import other\n",
        },
    )
    found = cycles(import_graph(tmp_path, "pkg"))
    assert ["pkg.a", "pkg.b", "pkg.c", "pkg.a"] in found
    assert ["pkg.sub", "pkg.sub.x", "pkg.sub"] in found


def test_it_allows_type_checking_imports(tmp_path: Path) -> None:
    """It allows an import back that only runs for the type checker."""
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import thing\n",
            "pkg/b.py": (
                "from typing import TYPE_CHECKING\n"
                "import typing\n"
                "if TYPE_CHECKING:\n    from pkg.a import x\n"
                "if typing.TYPE_CHECKING:\n    import pkg.a\n"
                "thing = 1\n"
            ),
        },
    )
    assert cycles(import_graph(tmp_path, "pkg")) == []
