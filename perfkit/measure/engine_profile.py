"""`perfkit profile --engine SPEC`: where an engine's search spends its time, beside what batching gave.

Three plays of the same games, so no profiler's overhead lands in another's figures:

1. measured, no profiler: the run's moves/s and Amdahl's bound ("your search's CPU side caps
   this run at N moves/s here; the network is X% of wall");
2. under pyinstrument, sampling CPU time in every thread that plays games
   (`perfkit.instrument.profilers`): the call tree, and the engine's functions by the CPU
   time spent in them; perfkit's `predict`, cache, move marks and the network's call are
   charged to none of them, so the table is the engine's search alone;
3. under line_profiler, on every function of the engine's files (the file of its class and
   any module it names in `profile_modules`), enabled in each game thread: the engine's own
   lines, its functions in the order of table 2.

On request, a per-operator table of the network's forward (torch.profiler) at the run's mean
batch. Everything runs in this process: `--workers` is refused.
"""

from __future__ import annotations

import importlib
import inspect
import os
import threading
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from line_profiler import LineProfiler
from pyinstrument.renderers import HTMLRenderer
from pyinstrument.session import Session

from perfkit.analysis.bottleneck import cpu_side_line, engine_run_lines
from perfkit.instrument.profilers import (
    TREE_THRESHOLD,
    FunctionCost,
    ThreadSessions,
    code_file,
    function_costs,
    render_engine_lines,
    render_functions,
    render_tree,
    resolved_path,
    sides_line,
)
from perfkit.instrument.run import Run
from perfkit.instrument.trace import Tracer
from perfkit.measure.engine import EngineRun, EngineSetup, check_engine_request, finish_engine_runs
from perfkit.measure.profile import _check_writable_file
from perfkit.search.engines.run import GamesFailed, play_engine
from perfkit.strategies import EngineOptions
from perfkit.types import PerfkitError


@dataclass
class EngineProfile:
    """What `profile_engine` measured and where it saved it."""

    spec: str
    strategy: str
    run: Run  # the measured run (no profiler)
    files: list[str]  # the engine's files: their functions are "the engine's own"
    functions: list[FunctionCost]  # the engine's functions, costliest first (from the call tree)
    call_tree: Session | None
    call_tree_text: str
    call_tree_path: Path | None
    line_text: str  # line_profiler's tables of the engine's functions, in the order of `functions`
    lprof_path: Path | None
    operators: str | None = None  # torch.profiler's table of the forward (None: not asked)
    operators_path: Path | None = None
    sides: dict[str, float] = field(default_factory=dict)  # CPU seconds sampled by side (`function_costs`)


# --------------------------------------------------------------- the engine's own code


def engine_files(engine: Any) -> list[str]:
    """The files whose functions are the engine's own: its class's file, then each module it
    names in an optional `profile_modules` (e.g. OpenSpiel's MCTS module for `openspiel-mcts`)."""
    files = []
    source = _source_file(type(engine))
    if source is not None:
        files.append(source)
    for name in getattr(engine, "profile_modules", ()) or ():
        module = importlib.import_module(name) if isinstance(name, str) else name
        path = getattr(module, "__file__", None)
        if path:
            files.append(str(Path(path).resolve()))
    return list(dict.fromkeys(files))


def _source_file(cls: type) -> str | None:
    """The file a class was defined in, read from its methods' code (a class of a file loaded by path
    has no module in `sys.modules`, where `inspect.getsourcefile` looks)."""
    for value in vars(cls).values():
        func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
        if isinstance(func, types.FunctionType):
            return code_file(func.__code__)
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        return None
    return str(Path(path).resolve()) if path else None


def _namespaces(engine: Any) -> list[dict[str, Any]]:
    """The global namespaces of the engine's files: its class's module (read from a method's globals:
    a file loaded by path is in no `sys.modules`) and its `profile_modules`."""
    spaces = []
    for value in vars(type(engine)).values():
        func = inspect.unwrap(value.__func__ if isinstance(value, (staticmethod, classmethod)) else value)
        if isinstance(func, types.FunctionType):
            spaces.append(func.__globals__)
            break
    for name in getattr(engine, "profile_modules", ()) or ():
        module = importlib.import_module(name) if isinstance(name, str) else name
        spaces.append(vars(module))
    return spaces


def engine_functions(engine: Any) -> list[types.FunctionType]:
    """Every function defined in the engine's files: module functions and the methods of its classes."""
    files = set(engine_files(engine))
    found: dict[Any, types.FunctionType] = {}

    def add(value: Any) -> None:
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            for part in (value.fget, value.fset):
                add(part)
            return
        value = inspect.unwrap(value) if callable(value) else value
        if isinstance(value, types.FunctionType) and code_file(value.__code__) in files:
            found.setdefault(value.__code__, value)

    for space in _namespaces(engine):
        for value in list(space.values()):
            if inspect.isclass(value) and _source_file(value) in files:
                for member in vars(value).values():
                    add(member)
            else:
                add(value)
    return list(found.values())


# --------------------------------------------------------------- profilers in every game thread



class ProfiledEngine:
    """The engine, unchanged, whose `play_game` starts `enter()` in the calling thread before its first
    game there and calls `leave()` after its last: once per game thread, once for the thread that plays
    every game as a greenlet (its games overlap: the count only falls to 0 after the last)."""

    def __init__(self, engine: Any, enter: Callable[[], None], leave: Callable[[], None]) -> None:
        self.inner, self.enter, self.leave = engine, enter, leave
        self.obs_shape, self.actions = engine.obs_shape, engine.actions
        self._local = threading.local()

    def play_game(self, game_id: int, predict: Callable[..., Any], tracer: Tracer) -> Any:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self.enter()
        self._local.depth = depth + 1
        try:
            return self.inner.play_game(game_id, predict, tracer)
        finally:
            self._local.depth -= 1
            if self._local.depth == 0:
                self.leave()


# --------------------------------------------------------------- the three plays


@dataclass(frozen=True)
class ProfileOutputs:
    """Where `profile_engine` writes: the .lprof, the call tree's .html and the operators' .txt beside it."""

    lprof: Path | None

    @property
    def html(self) -> Path | None:
        return None if self.lprof is None else self.lprof.with_suffix(".html")

    @property
    def operators(self) -> Path | None:
        return None if self.lprof is None else self.lprof.with_name(f"{self.lprof.stem}-operators.txt")

    def check(self, *, call_tree: bool, torch_profile: bool) -> None:
        """PerfkitError before any game if one of the files cannot be written."""
        if self.lprof is None:
            return
        _check_writable_file(self.lprof)
        if call_tree and self.html is not None:
            _check_writable_file(self.html, what="call tree", example="profile.html")
        if torch_profile and self.operators is not None:
            _check_writable_file(self.operators, what="operator table", example="operators.txt")


def profile_engine(
    engine: str | EngineRun,
    *,
    strategy: str = "crossgame",
    output: str | os.PathLike[str] | None = None,
    call_tree: bool = True,
    torch_profile: bool = False,
    curves: str | os.PathLike[str] | None = None,
    **settings: Any,
) -> EngineProfile:
    """Profile the games of `engine` (an EngineRun, or a spec and `settings`: EngineRun's fields)
    played by `strategy` (naive or crossgame): see the module doc.

    Saves the line profile to `output` (.lprof), the call tree beside it (.html) and, with
    `torch_profile`, the forward's operators (-operators.txt).
    """
    what = EngineRun.of(engine, **settings)
    options = what.options
    check_engine_request([strategy], what.device)
    if options.workers:
        raise PerfkitError("perfkit profile plays in this process (a profiler sees its own threads only): drop --workers")
    setup = what.prepare()
    outputs = ProfileOutputs(Path(output) if output is not None else None)
    outputs.check(call_tree=call_tree, torch_profile=torch_profile)
    run = _play(setup, strategy, options)
    finish_engine_runs(setup, [run], Path(curves) if curves is not None else None)
    files = engine_files(setup.engine)
    session, tree_text = None, ""
    functions: list[FunctionCost] = []
    sides: dict[str, float] = {}
    if call_tree:
        sessions = ThreadSessions()
        _play(setup, strategy, options, engine=ProfiledEngine(setup.engine, sessions.enter, sessions.leave))
        session = sessions.combined()
        if session is not None:
            tree_text, (functions, sides) = render_tree(session), function_costs(session, files)
            if outputs.html is not None:
                outputs.html.write_text(HTMLRenderer().render(session), encoding="utf-8")
    line_text = _line_profile(setup, strategy, options, functions, outputs.lprof)
    result = EngineProfile(
        spec=what.spec, strategy=strategy, run=run, files=files, functions=functions, call_tree=session,
        call_tree_text=tree_text, call_tree_path=outputs.html if session is not None else None, line_text=line_text,
        lprof_path=outputs.lprof, sides=sides,
    )
    if torch_profile:
        result.operators = operator_table(setup, batch=max(1, round(run.summary.get("mean_batch") or 1)))
        if outputs.operators is not None:
            outputs.operators.write_text(result.operators, encoding="utf-8")
            result.operators_path = outputs.operators
    return result


def _play(setup: EngineSetup, strategy: str, options: EngineOptions, *, engine: Any = None) -> Run:
    """One play of the games (a failed game stops the profile: its line says which and why)."""
    try:
        return play_engine(
            engine if engine is not None else setup.engine, setup.net, strategy, options, precision=setup.precision,
            device=setup.device, manifest=setup.manifest, recipe=setup.recipe,
        )
    except GamesFailed as exc:
        raise PerfkitError(f"profiling engine {setup.spec!r}: {exc}") from None


def _line_profile(
    setup: EngineSetup, strategy: str, options: EngineOptions, order: list[FunctionCost], lprof: Path | None,
) -> str:
    """The games again under line_profiler on the engine's functions; its tables, in `order` first."""
    functions = engine_functions(setup.engine)
    if not functions:
        return f"(no Python function found in the engine's files {', '.join(engine_files(setup.engine))})\n"
    profiler = LineProfiler()
    for f in functions:
        profiler.add_function(f)
    lines: Any = profiler  # enable/disable: line_profiler's C methods, per thread (its stubs lack them)
    _play(setup, strategy, options, engine=ProfiledEngine(setup.engine, lines.enable, lines.disable))
    if lprof is not None:
        profiler.dump_stats(str(lprof))
    stats = profiler.get_stats()
    rank = {(c.file, c.function.rsplit(".", 1)[-1], c.line): i for i, c in enumerate(order)}
    timings = dict(sorted(
        stats.timings.items(),
        key=lambda kv: (rank.get((resolved_path(kv[0][0]), kv[0][2].rsplit(".", 1)[-1], kv[0][1]), len(rank)),
                        -sum(t for _, _, t in kv[1])),
    ))
    return render_engine_lines(timings, stats.unit)


def operator_table(setup: EngineSetup, *, batch: int, calls: int = 20, rows: int = 20) -> str:
    """torch.profiler's per-operator table of `calls` calls of `batch` observations through the run's
    call path (the Tracer: host copy, forward, answers back), sorted by self time."""
    from torch.profiler import profile

    from perfkit.devices import get_device

    tracer = Tracer(setup.net, name="operators", actions=setup.engine.actions, precision=setup.precision,
                    device=setup.device, sample_gpu=False)
    planes = np.random.default_rng(0).random((batch, *setup.engine.obs_shape)).astype(np.float32)
    tracer.evaluate(planes)  # warm-up, untimed
    activities, sort = get_device(str(setup.device)).profiler_activities()
    with profile(activities=activities) as prof:
        for _ in range(calls):
            tracer.evaluate(planes)
    table = prof.key_averages().table(sort_by=sort, row_limit=rows)
    return f"{calls} calls of batch {batch} ({setup.precision} on {setup.device}), by {sort}:\n{table}\n"


def render_engine_profile(result: EngineProfile) -> str:
    """The profile on the console: Amdahl's line, the engine's functions, the call tree, the line tables."""
    s = result.run.summary
    lines = [
        f"engine {result.spec}, {result.strategy}: {s['moves']:,} moves in {s['wall_s']:.2f} s "
        f"({s['moves_per_s']:,.1f} moves/s, mean batch {s['mean_batch']:.1f}), measured without a profiler",
        cpu_side_line(result.strategy, s) or "(no Amdahl bound: no calls recorded)",
        *engine_run_lines(result.strategy, s),
        "",
    ]
    if result.call_tree is not None:
        lines += [
            "Your engine's functions by the CPU time spent in them (pyinstrument, a second play of the same games; "
            "perfkit's predict, batching, cache and the network excluded):",
            render_functions(result.functions) + sides_line(result.sides),
            f"Call tree of the games' CPU side, CPU time (frames under {TREE_THRESHOLD:.0%} hidden; all of it in "
            f"{result.call_tree_path}):" if result.call_tree_path else "Call tree of the games' CPU side:",
            result.call_tree_text,
        ]
    order = "in the order above" if result.call_tree is not None else "the costliest first"
    lines += [f"Your engine's lines (line_profiler, a third play), its functions {order}. Wall-clock "
              "times, inflated by the profiler (compare shares); a line that asks `predict` includes the wait for "
              "the network's call (and, as greenlets, the other games' turns), which the table above excludes:",
              result.line_text]
    if result.lprof_path is not None:
        lines.append(f"saved {result.lprof_path} (show again: python -m line_profiler {result.lprof_path})")
    if result.operators is not None:
        where = f" (saved {result.operators_path})" if result.operators_path else ""
        lines += [f"The network's operators (torch.profiler){where}:", result.operators]
    return "\n".join(lines)


__all__ = ["EngineProfile", "profile_engine", "render_engine_profile"]
