"""Profilers that follow the games wherever they run, and what their samples say of a user's code.

- `ThreadSessions`: a pyinstrument profiler per thread that plays games (or the one thread
  that runs them all as greenlets: it samples each greenlet's own stack), timed by the
  thread's CPU time, so a game waiting for the network or the GIL is not sampled; the
  sessions are combined at the end;
- `function_costs`: the user's functions by the CPU time sampled in them, each sample
  charged to the innermost of the user's functions on its stack; perfkit's predict, cache,
  move marks and the network's call are charged to none of them (their own total is kept);
- `profiling_cell`: the same for a notebook cell (`%%perfkit --profile`), with line_profiler
  on the notebook's functions on request.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import os
import threading
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from line_profiler import LineProfiler
from line_profiler.line_profiler import show_func
from pyinstrument import Profiler as CallTreeProfiler
from pyinstrument.renderers import ConsoleRenderer
from pyinstrument.session import Session
from pyinstrument.stack_sampler import get_stack_sampler

import perfkit

PERFKIT_DIR = str(Path(perfkit.__file__).resolve().parent)
# Frames below these are the network's call (the batch server, the tracer, the forward): excluded,
# the engine's own network code included.
NETWORK_SIDE = (str(Path(PERFKIT_DIR) / "batching") + os.sep, str(Path(PERFKIT_DIR) / "instrument") + os.sep)
GAME_SIDE = str(Path(PERFKIT_DIR) / "game") + os.sep  # perfkit's game adapters an engine calls: the engine's time
TOP_FUNCTIONS = 15  # rows of the engine's functions table
TREE_THRESHOLD = 0.02  # the printed call tree hides frames under this share of the total (the HTML has all)

@dataclass(frozen=True)
class FunctionCost:
    """One function of the engine's files and the CPU time charged to it (see the module doc)."""

    function: str
    file: str
    line: int
    seconds: float
    share: float  # of the engine's own time (the sum over its functions)



@functools.lru_cache(maxsize=4096)
def resolved_path(path: str) -> str:
    return str(Path(path).resolve()) if path and not path.startswith("<") else path


def code_file(code: types.CodeType) -> str:
    return resolved_path(code.co_filename)



class ThreadSessions:
    """A pyinstrument profiler per thread that enters, timed by the thread's CPU time (a game thread
    waiting for the network or for the GIL is not sampled); the sessions of all, combined, at the end."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self._local = threading.local()
        self._lock = threading.Lock()
        self.sessions: list[Session] = []

    def enter(self) -> None:
        sampler = get_stack_sampler()  # this thread's: its clock becomes the thread's CPU time
        self._local.timer, sampler.timer_func = sampler.timer_func, time.thread_time
        profiler = CallTreeProfiler(interval=self.interval, async_mode="disabled")
        profiler.start()
        self._local.profiler = profiler

    def leave(self) -> None:
        session = self._local.profiler.stop()
        get_stack_sampler().timer_func = self._local.timer
        with self._lock:
            self.sessions.append(session)

    def combined(self) -> Session | None:
        with self._lock:
            return functools.reduce(Session.combine, self.sessions) if self.sessions else None


def function_costs(session: Session, files: list[str]) -> tuple[list[FunctionCost], dict[str, float]]:
    """The engine's functions by the time sampled in them (see the module doc), costliest first, and
    the sampled time by side: "engine" (its functions), "perfkit" (its predict, cache and move marks
    inside the games), "network" (the calls: batching, tracer, forward) and "other" (outside any game)."""
    owned = set(files)
    totals: dict[tuple[str, str, int], float] = {}
    sides = {"engine": 0.0, "perfkit": 0.0, "network": 0.0, "other": 0.0}

    def walk(frame: Any, owner: tuple[str, str, int] | None, side: str) -> None:
        path = resolved_path(frame.file_path or "")
        if side == "network" or path.startswith(NETWORK_SIDE):
            side, owner = "network", None  # the network's call, the engine's own network code included
        elif path in owned:
            side, owner = "engine", (frame.function, path, frame.line_no or 0)
        elif path.startswith(PERFKIT_DIR) and not path.startswith(GAME_SIDE):
            side, owner = ("perfkit" if side != "other" else "other"), None  # predict, cache, marks, the game loop
        own = max(0.0, frame.time - sum(c.time for c in frame.children))
        sides[side] += own
        if owner is not None:
            totals[owner] = totals.get(owner, 0.0) + own
        for child in frame.children:
            walk(child, owner, side)

    root = session.root_frame()
    if root is not None:
        walk(root, None, "other")
    total = sum(totals.values())
    costs = [FunctionCost(function=f, file=p, line=line, seconds=t, share=t / total if total else 0.0)
             for (f, p, line), t in totals.items() if t > 0]
    return sorted(costs, key=lambda c: (-c.seconds, c.file, c.line)), sides


def render_functions(costs: list[FunctionCost], *, top: int = TOP_FUNCTIONS) -> str:
    """The engine's functions by time, a table."""
    buf = io.StringIO()
    buf.write(f"{'seconds':>9} {'share':>6}  function (file:line)\n")
    for c in costs[:top]:
        buf.write(f"{c.seconds:>9.3f} {c.share:>6.1%}  {c.function} ({_short(c.file)}:{c.line})\n")
    if len(costs) > top:
        buf.write(f"... and {len(costs) - top} more\n")
    return buf.getvalue()


def _short(path: str) -> str:
    """A path as a reader finds it: from site-packages on for an installed package, else from here."""
    marker = f"{os.sep}site-packages{os.sep}"
    if marker in path:
        return path.split(marker, 1)[1]
    with contextlib.suppress(ValueError):
        return os.path.relpath(path)
    return path


def sides_line(sides: dict[str, float]) -> str:
    """Where the sampled CPU time went: the engine, perfkit's side of the games, the network's calls."""
    total = sum(sides.values())
    if not total:
        return ""
    parts = [("your engine", "engine"), ("perfkit's game loop", "perfkit"),
             ("perfkit's predict, cache, move marks and the network's calls", "network"), ("outside the games", "other")]
    text = "; ".join(f"{name} {sides[key]:.2f} s ({sides[key] / total:.0%})" for name, key in parts if sides.get(key))
    return f"CPU time sampled, {total:.2f} s: {text}\n"


def render_tree(session: Session, *, threshold: float = TREE_THRESHOLD) -> str:
    """pyinstrument's call tree as plain text, frames under `threshold` of the total hidden."""
    renderer = ConsoleRenderer(unicode=False, color=False, processor_options={"filter_threshold": threshold})
    return renderer.render(session)



def render_engine_lines(timings: dict[Any, Any], unit: float, *, output_unit: float = 1e-3) -> str:
    """line_profiler's table of each function in `timings`, in its order."""
    buf = io.StringIO()
    buf.write(f"Timer unit: {output_unit:g} s\n\n")
    for (file, first, function), rows in timings.items():
        if rows:
            show_func(file, first, function, rows, unit, output_unit=output_unit, stream=buf, stripzeros=True)
    return buf.getvalue()



# --------------------------------------------------------------- a notebook cell (`%%perfkit --profile`)


def notebook_functions(namespace: dict[str, Any]) -> list[types.FunctionType]:
    """The functions a notebook defined (in `__main__`): its own functions and its classes' methods."""
    found: dict[Any, types.FunctionType] = {}
    for value in list(namespace.values()):
        if getattr(value, "__module__", None) != "__main__":
            continue
        members = vars(value).values() if inspect.isclass(value) else [value]
        for member in members:
            func = member.__func__ if isinstance(member, (staticmethod, classmethod)) else member
            if isinstance(func, types.FunctionType):
                found.setdefault(func.__code__, func)
    return list(found.values())


@dataclass
class CellProfile:
    """What `%%perfkit --profile` measured of a cell: its call tree and the notebook's functions by cost."""

    functions: list[FunctionCost] = field(default_factory=list)
    sides: dict[str, float] = field(default_factory=dict)
    tree_text: str = ""
    line_text: str = ""  # with `--lines`: line_profiler's tables of the notebook's functions


@contextlib.contextmanager
def profiling_cell(namespace: dict[str, Any], *, lines: bool = False) -> Iterator[CellProfile]:
    """Profile what runs inside the block on this thread (and, with `lines`, the notebook's functions
    defined before it, line by line); the CellProfile is filled in when the block ends."""
    result = CellProfile()
    sessions = ThreadSessions()
    profiler: Any = LineProfiler() if lines else None
    if profiler is not None:
        for f in notebook_functions(namespace):
            profiler.add_function(f)
        profiler.enable()
    sessions.enter()
    try:
        yield result
    finally:
        sessions.leave()
        if profiler is not None:
            profiler.disable()
    session = sessions.combined()
    if session is not None:
        files = sorted({code_file(f.__code__) for f in notebook_functions(namespace)})
        result.functions, result.sides = function_costs(session, files)
        result.tree_text = render_tree(session)
    if profiler is not None:
        stats = profiler.get_stats()
        result.line_text = render_engine_lines(
            dict(sorted(stats.timings.items(), key=lambda kv: -sum(t for _, _, t in kv[1]))), stats.unit,
        )


__all__ = ["CellProfile", "FunctionCost", "ThreadSessions", "function_costs", "profiling_cell", "render_functions", "render_tree"]
