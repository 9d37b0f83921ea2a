"""The package's imports run one way: no circle between files or parts, no import against the
direction of the parts (see ``chaosbench/__init__.py``).

Every module of ``chaosbench`` is read with ``ast`` (nothing is imported): top-level imports,
imports inside functions and ``TYPE_CHECKING`` blocks all count, since a ``TYPE_CHECKING``
import is still a dependency of the code on the imported part.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import chaosbench

ROOT = Path(chaosbench.__file__).resolve().parent
PACKAGE = "chaosbench"

#: The parts each part may import (besides itself). wiring, cli and the package root (harness)
#: import anything; sut imports nothing outside chaosbench.sut.
ANYTHING = frozenset(
    {"ground", "bundled", "proxy", "chaos", "users", "analysis", "wiring", "cli", "sut", "(root)"}
)
ALLOWED: dict[str, frozenset[str]] = {
    "ground": frozenset(),
    # the bundled profiles, gates and locustfiles (package data) and their lookup: ground level
    "bundled": frozenset({"ground"}),
    "proxy": frozenset({"ground"}),
    "chaos": frozenset({"ground", "bundled", "proxy"}),
    "users": frozenset({"ground"}),
    "analysis": frozenset({"ground", "bundled"}),
    "wiring": ANYTHING,
    "cli": ANYTHING,
    "(root)": ANYTHING,
    "sut": frozenset(),
}

#: Edges (importer, imported) tolerated for now, each with a comment saying why; a test fails
#: when one is no longer needed. Keep it empty.
KNOWN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported} (line {self.line})"


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def part_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in ALLOWED:
        return "(root)"
    return parts[1]


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a (maybe relative) ``from`` import."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Edge]:
    """Every chaosbench module ``module`` imports, wherever the import statement is."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                while name and name not in modules:  # ``import a.b.c`` of a non-module name
                    name = name.rpartition(".")[0]
                if name.split(".")[0] == PACKAGE:
                    yield Edge(module, name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            if base.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:  # ``from pkg import submodule``
                    yield Edge(module, sub, node.lineno)
                    continue
                name = base
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                yield Edge(module, name, node.lineno)


def all_edges() -> list[Edge]:
    modules = all_modules()
    edges: list[Edge] = []
    for name, path in modules.items():
        edges += [e for e in imports_of(name, path, modules) if e.imported != name]
    return edges


def import_graph() -> list[Edge]:
    """Every import edge but the known exceptions."""
    return [e for e in all_edges() if (e.importer, e.imported) not in KNOWN_EXCEPTIONS]


def cycles(nodes: set[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(succ[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(succ[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp: list[str] = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def _describe(components: list[list[str]], edges: list[Edge], key: str) -> str:
    lines = []
    for comp in components:
        members = set(comp)
        lines.append("circle: " + ", ".join(comp))
        for e in edges:
            a, b = (
                (e.importer, e.imported)
                if key == "module"
                else (part_of(e.importer), part_of(e.imported))
            )
            if a in members and b in members and a != b:
                lines.append(f"    {e}")
    return "\n".join(lines)


def test_the_walk_finds_imports() -> None:
    """The walk itself works: it sees top-level, function-level and TYPE_CHECKING imports."""
    pairs = {(e.importer, e.imported) for e in import_graph()}
    assert ("chaosbench.harness", "chaosbench.wiring.results") in pairs  # import a.b.c
    assert ("chaosbench.analysis.verdict", "chaosbench.analysis.report") in pairs  # a package
    assert ("chaosbench.wiring.results", "chaosbench.analysis.verdict") in pairs  # in a function
    assert ("chaosbench.analysis.model", "chaosbench.analysis.rundir.record") in pairs  # typing
    assert len(pairs) > 100


def test_known_exceptions_are_still_needed() -> None:
    """An exception whose import is gone must go too (the circle was removed)."""
    pairs = {(e.importer, e.imported) for e in all_edges()}
    stale = sorted(KNOWN_EXCEPTIONS - pairs)
    assert not stale, "remove from KNOWN_EXCEPTIONS (no such import any more): " + ", ".join(
        f"{a} -> {b}" for a, b in stale
    )


def test_no_circle_between_files() -> None:
    edges = import_graph()
    nodes = set(all_modules())
    found = cycles(nodes, {(e.importer, e.imported) for e in edges})
    assert not found, "import circles between files:\n" + _describe(found, edges, "module")


def test_no_circle_between_parts() -> None:
    edges = import_graph()
    part_edges = {(part_of(e.importer), part_of(e.imported)) for e in edges}
    part_edges = {(a, b) for a, b in part_edges if a != b}
    found = cycles(set(ALLOWED), part_edges)
    assert not found, "import circles between parts:\n" + _describe(found, edges, "part")


def test_imports_follow_the_direction_of_the_parts() -> None:
    wrong = [
        e
        for e in import_graph()
        if part_of(e.importer) != part_of(e.imported)
        and part_of(e.imported) not in ALLOWED[part_of(e.importer)]
    ]
    assert not wrong, "imports against the direction of the parts:\n" + "\n".join(
        f"    [{part_of(e.importer)} -> {part_of(e.imported)}] {e}" for e in wrong
    )
