"""`perfkit profile`: where a strategy's time goes, line by line and as a call tree.

Two runs of the same games, so that neither profiler's overhead lands in the other's figures:

- line_profiler on the same functions the notebooks' `%lprun` would name (the search, the
  board logic, the game loop and call accounting, the evaluator and the network, and every
  function of the strategy's own module); the table lists the most expensive lines first,
  then each function's lines, the costliest function first. Line timings are inflated by the
  profiler itself, so read them as shares, not as the run's speed.
- pyinstrument (sampling) for the call tree of the CPU side, saved as HTML beside the `.lprof`.

Both see this process only: with `--workers` the games' search runs in worker processes.
"""

from __future__ import annotations

import inspect
import io
import linecache
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from line_profiler import LineProfiler
from line_profiler.line_profiler import show_func
from pyinstrument import Profiler as CallTreeProfiler
from pyinstrument.session import Session

from perfkit.game import connect_four
from perfkit.game import hex as hex_game
from perfkit.measure.bench import Workload, run_strategy
from perfkit.model import evaluator as evaluator_module
from perfkit.model import net
from perfkit.search import mcts, minimax
from perfkit.strategies import base, make_strategy
from perfkit.types import PerfkitError

TOP_LINES = 20  # rows of the "most expensive lines" table


@dataclass(frozen=True)
class LineCost:
    """One profiled source line and what it cost (inclusive: a call's line holds its callee's time)."""

    file: str
    line: int
    function: str
    hits: int
    time_s: float  # under line_profiler, so inflated: compare shares
    share: float  # of the profiled functions' outermost total (the costliest function's total)
    source: str


@dataclass
class ProfileResult:
    """What `profile_strategy` measured: both profilers, the tables, and where they were saved."""

    strategy: str
    games: int
    wall_s: float  # the line-profiled run's wall time
    functions: list[str]  # qualified names of the profiled functions
    lines: list[LineCost]  # every line that ran, the most expensive first
    text: str  # the most expensive lines, then line_profiler's tables (costliest function first)
    path: Path | None  # the .lprof file (`python -m line_profiler FILE` shows it again)
    profiler: LineProfiler
    call_tree: Session | None  # pyinstrument's session (None: call_tree=False)
    call_tree_path: Path | None  # its HTML, beside the .lprof


# (module, dotted name) of the functions every strategy runs through; missing names are
# skipped, so that a refactor of the game loop narrows the profile instead of breaking it.
COMMON_HOT = [
    (base, "play_games"), (base, "drive"), (base, "call"), (base, "batch_of"),
    (base, "GameSlots.begin"), (base, "GameSlots.end"),
    (minimax, "search"), (minimax, "top_k"),
    (mcts, "Forest.search"), (mcts, "Forest._round"), (mcts, "Forest._descend"), (mcts, "Forest._create"),
    (hex_game, "play"), (connect_four, "C4Positions.play"),
    (evaluator_module, "Evaluator.__call__"), (evaluator_module, "encode"),
    (net, "ResNet.forward"), (net, "ResidualBlock.forward"),
]


def _lookup(module: object, dotted: str) -> Callable[..., Any] | None:
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return inspect.unwrap(obj) if callable(obj) else None


def hot_functions(strategy_name: str, *, device_kind: str = "cpu") -> list[Callable[..., Any]]:
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
    seen: set[Callable[..., Any]] = set()
    out: list[Callable[..., Any]] = []
    for f in found + own:
        if f is not None and f not in seen:
            seen.add(f)
            out.append(f)
    return out


def call_tree_path(lprof: Path) -> Path:
    """Where the call tree's HTML goes for the line profile saved at `lprof`: beside it, same stem."""
    html = lprof.with_suffix(".html")
    return html if html != lprof else lprof.with_name(f"{lprof.stem}-calltree.html")


def profile_strategy(
    name: str,
    workload: Workload,
    *,
    output: str | os.PathLike[str] | None = None,
    output_unit: float = 1e-3,
    call_tree: bool = True,
) -> ProfileResult:
    """Play the workload's games with `name` under line_profiler, then again under pyinstrument.

    Saves the `.lprof` to `output` and, with `call_tree`, pyinstrument's HTML beside it
    (`call_tree_path`). Each profiler gets its own run so neither inflates the other.
    """
    path = Path(output) if output is not None else None
    html = call_tree_path(path) if path is not None and call_tree else None
    if path is not None:
        _check_writable_file(path)
    if html is not None:
        _check_writable_file(html, what="call tree", example="profile.html")
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
    if path is not None:
        profiler.dump_stats(str(path))
    stats = profiler.get_stats()
    lines = line_costs(stats.timings, stats.unit)
    text = render_line_profile(stats.timings, stats.unit, lines, output_unit=output_unit)

    session = None
    if call_tree:
        sampler = CallTreeProfiler()
        sampler.start()
        try:
            run_strategy(name, workload, progress=False)
        finally:
            session = sampler.stop()
        if html is not None:
            html.write_text(sampler.output_html(), encoding="utf-8")
    return ProfileResult(
        strategy=name, games=workload.settings.games, wall_s=wall_s,
        functions=[f"{f.__module__}.{f.__qualname__}" for f in functions], lines=lines, text=text, path=path,
        profiler=profiler, call_tree=session, call_tree_path=html,
    )


def line_costs(timings: Mapping[tuple[str, int, str], Sequence[tuple[int, int, float]]], unit: float) -> list[LineCost]:
    """Every line that ran in line_profiler's `timings` ({(file, first line, name): [(line, hits, time)]}), costliest first."""
    out = []
    for (file, _, function), rows in timings.items():
        for line, hits, t in rows:
            out.append((file, line, function, hits, t * unit))
    total = max((sum(t for _, _, t in rows) * unit for rows in timings.values()), default=0.0)
    out.sort(key=lambda r: (-r[4], r[0], r[1]))
    return [
        LineCost(file=file, line=line, function=function, hits=hits, time_s=t, share=t / total if total else 0.0,
                 source=linecache.getline(file, line).strip())
        for file, line, function, hits, t in out
    ]


def render_line_profile(
    timings: Mapping[tuple[str, int, str], Sequence[tuple[int, int, float]]], unit: float, lines: list[LineCost], *, output_unit: float = 1e-3, top: int = TOP_LINES
) -> str:
    """The `top` most expensive lines, then line_profiler's per-function tables, the costliest function first."""
    buf = io.StringIO()
    buf.write(
        f"Most expensive lines ({min(top, len(lines))} of {len(lines)}; a line's time includes the functions it "
        "calls, so the call tree (pyinstrument) splits the outer ones)\n"
    )
    buf.write(f"{'time ms':>10} {'share':>6} {'hits':>9}  {'where':<40} source\n")
    for c in lines[:top]:
        where = f"{Path(c.file).name}:{c.line} {c.function}"
        buf.write(f"{c.time_s * 1e3:>10.1f} {c.share:>6.1%} {c.hits:>9,}  {where:<40} {c.source[:60]}\n")
    buf.write(f"\nTimer unit: {output_unit:g} s; functions by total time, costliest first\n\n")
    by_cost = sorted(timings.items(), key=lambda kv: -sum(t for _, _, t in kv[1]))
    for (file, first, function), rows in by_cost:
        if rows:
            show_func(file, first, function, rows, unit, output_unit=output_unit, stream=buf, stripzeros=True)
    return buf.getvalue()


def _check_writable_file(path: Path, *, what: str = "profile", example: str = "profile.lprof") -> None:
    """PerfkitError before any game is played if `path` cannot be written; `what` names the file in messages."""
    if path.is_dir():
        raise PerfkitError(f"output {path} is a directory; give a file name such as {path / example}")
    blocker = next((p for p in path.parents if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise PerfkitError(f"cannot write {what} to {path}: {blocker} is a file, not a directory")
    existed = path.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
        if not existed:
            path.unlink()
    except OSError as exc:
        raise PerfkitError(f"cannot write {what} to {path}: {exc.strerror or exc}") from None
