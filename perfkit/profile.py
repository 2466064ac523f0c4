"""`perfkit profile`: line_profiler on the hot functions of a strategy while it plays games.

The same functions the notebooks' `%lprun` would name: the search, the board logic, the
game loop and call accounting, the evaluator and the network, and every function of the
strategy's own module (its schedule). Line timings are inflated by the profiler itself, so
read them as shares, not as the run's speed.
"""

from __future__ import annotations

import inspect
import io
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from line_profiler import LineProfiler

from perfkit.bench import Workload, run_strategy
from perfkit.game import hex as hex_game
from perfkit.model import evaluator as evaluator_module
from perfkit.model import net
from perfkit.search import minimax
from perfkit.strategies import base, make_strategy
from perfkit.types import PerfkitError


@dataclass
class ProfileResult:
    """What `profile_strategy` measured: the profiler, its table, and where it was saved."""

    strategy: str
    games: int
    wall_s: float
    functions: list[str]  # qualified names of the profiled functions
    text: str  # line_profiler's table (print_stats)
    path: Path | None  # the .lprof file (`python -m line_profiler FILE` shows it again)
    profiler: LineProfiler


# (module, dotted name) of the functions every strategy runs through; missing names are
# skipped, so that a refactor of the game loop narrows the profile instead of breaking it.
COMMON_HOT = [
    (base, "play_games"), (base, "drive"), (base, "call"), (base, "batch_of"),
    (base, "GameSlots.begin"), (base, "GameSlots.end"),
    (minimax, "search"), (minimax, "top_k"),
    (hex_game, "play"),
    (evaluator_module, "Evaluator.__call__"), (evaluator_module, "encode"),
    (net, "HexNet.forward"), (net, "ResidualBlock.forward"),
]


def _lookup(module, dotted: str):
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return inspect.unwrap(obj) if callable(obj) else None


def hot_functions(strategy_name: str, *, device_kind: str = "cpu") -> list:
    """The functions worth a line profile when `strategy_name` plays on a device of `device_kind` (see module doc)."""
    import importlib

    strategy = make_strategy(strategy_name)
    module = sys.modules[type(strategy).__module__]
    runner = importlib.import_module(f"perfkit.devices.{device_kind}")
    forward = f"{device_kind.capitalize()}Runner.forward"  # the device's call path (perfkit.devices)
    found = [_lookup(m, name) for m, name in [*COMMON_HOT, (runner, forward)]]
    # The strategy's own module: its schedule, its game loop, its methods (not dataclass dunders).
    own = [f for _, f in inspect.getmembers(module, inspect.isfunction) if f.__module__ == module.__name__]
    own += [
        f for name, f in inspect.getmembers(type(strategy), inspect.isfunction)
        if f.__module__ == module.__name__ and not name.startswith("__")
    ]
    seen, out = set(), []
    for f in found + own:
        if f is not None and f not in seen:
            seen.add(f)
            out.append(f)
    return out


def profile_strategy(
    name: str, workload: Workload, *, output: str | os.PathLike | None = None, output_unit: float = 1e-3
) -> ProfileResult:
    """Play the workload's games with `name` under line_profiler; save the `.lprof` to `output`."""
    path = Path(output) if output is not None else None
    if path is not None:
        _check_writable_file(path)
    functions = hot_functions(name, device_kind=workload.backend.kind if workload.backend else "cpu")
    profiler = LineProfiler()
    for f in functions:
        profiler.add_function(f)
    t0 = time.perf_counter()
    profiler.enable_by_count()
    try:
        run_strategy(name, workload, progress=False)
    finally:
        profiler.disable_by_count()
    wall_s = time.perf_counter() - t0
    buf = io.StringIO()
    profiler.print_stats(stream=buf, output_unit=output_unit, stripzeros=True)
    if path is not None:
        profiler.dump_stats(str(path))
    return ProfileResult(
        strategy=name, games=workload.settings.games, wall_s=wall_s,
        functions=[f"{f.__module__}.{f.__qualname__}" for f in functions], text=buf.getvalue(), path=path,
        profiler=profiler,
    )


def _check_writable_file(path: Path, *, what: str = "profile", example: str = "profile.lprof") -> None:
    """PerfkitError before any game is played if `path` cannot be written; `what` names the file in messages."""
    if path.is_dir():
        raise PerfkitError(f"output {path} is a directory; give a file name such as {path / example}")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        raise PerfkitError(f"cannot write {what} to {path}: {exc.strerror or exc}") from None
