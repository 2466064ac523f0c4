"""perfkit's layers: each package imports only the layers below it, and no two packages import each other.

Data flows one way (../shared/STYLE.md's layout, as it maps onto today's package names): a
game and a model are driven by a search, whose requests a strategy batches into calls; a run
is measured, stored and presented. Every `import` counts, at module level, inside functions
and under `TYPE_CHECKING`: a lazy import hides a dependency, it does not remove it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "perfkit"

# Lowest first. A module belongs to the longest prefix listed; a module may import its own layer.
LAYERS: list[tuple[str, ...]] = [
    ("perfkit.types", "perfkit.atomic"),  # core types and contracts; the one way to write a file
    ("perfkit.game",),
    ("perfkit.devices",),  # the hardware: devices (NVML included), CPU threads
    ("perfkit.model",),  # the network and the evaluator every call goes through
    ("perfkit.instrument",),  # recorder, GPU sampler, tracer, the stored run
    ("perfkit.search",),
    ("perfkit.batching",),
    ("perfkit.strategies",),
    ("perfkit.search.engines",),  # searches perfkit did not write
    ("perfkit.analysis",),
    ("perfkit.measure",),  # measuring a run (bench, tune, profile, an engine's bench): what the CLI and notebooks call
    ("perfkit.report",),
    ("perfkit.measure.ceiling", "perfkit.selfplay"),  # ceiling: its runs' reports
    ("perfkit.measure.gpu_results",),
    ("perfkit.cli", "perfkit.__main__"),
]
# The package root: its __init__ re-exports the public API from every layer; below it only
# `import perfkit` (its location) and `from perfkit import __version__` (defined before any import).
ROOT_NAMES = {"__version__"}

# (importer, imported): what cannot be fixed without editing code others are changing now.
# Keep it short: a test below fails once an entry is no longer needed.
ALLOWED: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, int, tuple[str, ...]]]:
    """(imported module, line, names taken from it) for every perfkit import in `path`."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno, ()) for a in node.names if a.name.split(".")[0] == "perfkit"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "perfkit":
                found.append((target, node.lineno, tuple(a.name for a in node.names)))
    return found


def layer_of(module: str) -> int:
    """The layer of `module` (len(LAYERS) for the package root, above every layer)."""
    best, best_len = None, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    if best is None:
        assert module == "perfkit", f"{module} is in no layer: add it to LAYERS"
        return len(LAYERS)
    return best


def unit_of(module: str) -> str:
    """The package (or loose top-level module) `module` belongs to: perfkit.devices.sim -> devices;
    a layer of its own inside a package is its own unit: perfkit.search.engines.run -> search.engines."""
    own = [p for layer in LAYERS for p in layer if p.count(".") > 1 and (module == p or module.startswith(p + "."))]
    if own:
        return max(own, key=len).removeprefix("perfkit.")
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "perfkit"


def edges() -> list[tuple[str, str, str]]:
    """(importer, imported, where) for every import between two perfkit modules."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = module_name(path)
        for target, line, names in imports(path):
            if target == "perfkit" and (not names or set(names) <= ROOT_NAMES):
                continue
            out.append((here, target, f"{path.relative_to(PACKAGE.parent)}:{line}"))
    return out


def test_no_layer_imports_a_layer_above_it():
    upward = [
        f"{where}: {here} (layer {layer_of(here)}) imports {target} (layer {layer_of(target)})"
        for here, target, where in edges()
        if layer_of(target) > layer_of(here) and (here, target) not in ALLOWED and here != "perfkit"
    ]
    assert upward == []


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_package_cycle():
    graph: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    for here, target, at in edges():
        a, b = unit_of(here), unit_of(target)
        if a != b and a != "perfkit" and (here, target) not in ALLOWED:
            graph[a].add(b)
            where.setdefault((a, b), at)
    found = cycle(graph)
    if found is not None:
        steps = ", ".join(where[e] for e in zip(found, found[1:], strict=False))
        raise AssertionError(f"package cycle {' -> '.join(found)} ({steps})")


def test_every_allowed_upward_import_still_exists():
    """An entry of ALLOWED that the code no longer needs is removed, so the list only shrinks."""
    present = {(here, target) for here, target, _ in edges()}
    assert sorted(set(ALLOWED) - present) == []


def test_the_checks_catch_what_they_are_for():
    assert layer_of("perfkit.devices.sim") < layer_of("perfkit.analysis.curve")
    assert layer_of("perfkit.search.engines.run") < layer_of("perfkit.measure.engine") < layer_of("perfkit.cli")
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}}) is None
