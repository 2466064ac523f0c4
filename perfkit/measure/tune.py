"""Find the crossgame settings that give the most boards/s on this device (`bench --tune`).

Like `katago benchmark`, which recommends a thread count: short steady-state trials, one
setting changed at a time (coordinate ascent), the best kept. Each trial plays an endless
stream of games for a time budget and counts the boards evaluated after a warm-up slice,
so the run's tail (the last few games) does not bias the rate.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from perfkit.instrument.recorder import Recorder
from perfkit.measure.bench import Workload
from perfkit.strategies import CrossGameOptions, Engine, EngineOptions, make_strategy

if TYPE_CHECKING:
    from perfkit.measure.engine import EngineSetup

# What the search tries, in this order; a field the strategy lacks is skipped.
SEARCH_SPACE: dict[str, tuple[int, ...]] = {
    "concurrency": (16, 32, 64, 128, 256, 512),
    "max_batch": (128, 256, 512, 1024, 2048, 4096),
    "groups": (1, 2, 4),
    "inflight": (1, 2),
    "workers": (0, 1, 2),
}


@dataclass
class Trial:
    """One measured setting."""

    settings: dict[str, Any]  # crossgame option -> value, e.g. {"concurrency": 64, "max_batch": 512}
    boards_per_s: float  # boards evaluated per second of the measured slice
    mean_batch: float


class _TimeUp(Exception):
    """Raised from inside the evaluator to end a trial exactly when its budget is spent."""


def measure(
    workload: Workload, settings: dict[str, Any], *, budget_s: float, warmup_s: float,
    clock: Callable[[], float] = time.perf_counter,
) -> Trial:
    """Steady-state boards/s of crossgame with `settings`, over `budget_s` after `warmup_s`.

    `settings` change the workload's own crossgame options; the others (e.g. `max_wait_s`) are kept."""
    strategy = make_strategy("crossgame", trial_options(workload, settings))
    recorder = Recorder("crossgame")
    evaluator = workload.evaluator()
    workload.warm_up(evaluator)
    evaluator.on_call = recorder.on_call
    t0 = clock()

    def evaluate(*args: Any, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:  # the evaluator's own call
        if clock() - t0 >= warmup_s + budget_s:
            raise _TimeUp
        return evaluator(*args, **kwargs)

    engine = Engine(evaluate=evaluate, game=evaluator.game, config=workload.settings.search, seed=workload.settings.seed)
    try:
        for _ in strategy.play(range(10**12), engine):
            pass
    except _TimeUp:
        pass
    window = [c for c in recorder.calls if c.start_s >= t0 + warmup_s]
    span = sum(c.end_s for c in window[-1:]) - (t0 + warmup_s)
    boards = sum(c.batch for c in window)
    return Trial(
        settings=dict(settings),
        boards_per_s=boards / span if span > 0 else 0.0,
        mean_batch=boards / len(window) if window else 0.0,
    )


def trial_options(workload: Workload | None, settings: dict[str, Any]) -> CrossGameOptions:
    """The workload's crossgame options, every one, with a trial's `settings` changed."""
    base = workload.settings.crossgame_options() if workload is not None else CrossGameOptions()
    return dataclasses.replace(base, **compatible({**base.to_dict(), **settings}))


def compatible(settings: dict[str, Any]) -> dict[str, Any]:
    """Worker processes batch on their own server: groups and inflight are in-process knobs."""
    if settings.get("workers"):
        return {**settings, "groups": 1, "inflight": 1}
    return settings


def tune(
    workload: Workload,
    *,
    budget_s: float = 4.0,
    warmup_s: float = 1.0,
    space: dict[str, tuple[int, ...]] | None = None,
    on_trial: Callable[[Trial], None] | None = None,
    measure_fn: Callable[..., Trial] = measure,
) -> tuple[dict[str, Any], list[Trial]]:
    """Coordinate ascent over `space`, from the workload's own crossgame options (defaults without a
    workload); returns (best settings, every trial in order)."""
    fields = set(CrossGameOptions.names())
    start = trial_options(workload, {}).to_dict()
    space = {k: v for k, v in (space or SEARCH_SPACE).items() if k in fields}
    return coordinate_ascent(
        {k: start[k] for k in space}, space,
        lambda settings: measure_fn(workload, settings, budget_s=budget_s, warmup_s=warmup_s),
        on_trial=on_trial, compatible=compatible,
    )


def coordinate_ascent(
    start: dict[str, Any],
    space: dict[str, tuple[Any, ...]],
    measure_one: Callable[[dict[str, Any]], Trial],
    *,
    on_trial: Callable[[Trial], None] | None = None,
    compatible: Callable[[dict[str, Any]], dict[str, Any]] = lambda settings: settings,
) -> tuple[dict[str, Any], list[Trial]]:
    """From `start`, each key of `space` in turn set to each of its values, the best kept (most
    boards/s); no setting measured twice. Returns (best settings, every trial in order)."""
    best = dict(start)
    trials: list[Trial] = []
    cache: dict[tuple[tuple[str, Any], ...], Trial] = {}  # settings, sorted -> its trial: none measured twice

    def run(settings: dict[str, Any]) -> Trial:
        key = tuple(sorted(settings.items()))
        if key not in cache:
            cache[key] = measure_one(settings)
            trials.append(cache[key])
            if on_trial is not None:
                on_trial(cache[key])
        return cache[key]

    best_trial = run(best)
    for key, values in space.items():
        for value in values:
            trial = run(compatible({**best, key: value}))
            if trial.boards_per_s > best_trial.boards_per_s:
                best, best_trial = dict(trial.settings), trial
    return best, trials


# What `bench --tune --engine` tries, in this order: games in flight and how they take turns.
ENGINE_SPACE: dict[str, tuple[Any, ...]] = {
    "concurrency": (8, 16, 32, 64, 128),
    "scheduler": ("greenlet", "threads"),
}


@dataclass(frozen=True)
class TrialBudget:
    """How long an engine's trial plays: `warmup_s` first (not counted), then `budget_s` measured."""

    budget_s: float = 4.0
    warmup_s: float = 1.0


def measure_engine(setup: EngineSetup, options: EngineOptions, settings: dict[str, Any], budget: TrialBudget) -> Trial:
    """Steady-state boards/s of an engine's crossgame games with `settings` (EngineOptions fields)
    over the budget after its warm-up: games stream in until the budget is spent, then stop."""
    from perfkit.search.engines.run import play_engine

    trial = dataclasses.replace(options, **settings, games=10**6, game_timeout_s=None)
    t0 = time.perf_counter()
    start = t0 + budget.warmup_s
    run = play_engine(setup.engine, setup.net, "crossgame", trial, precision=setup.precision, device=setup.device,
                      manifest=setup.manifest, recipe=setup.recipe, deadline_s=start + budget.budget_s)
    window = run.calls[run.calls["start_s"] >= start] if len(run.calls) else run.calls
    span = float(window["end_s"].max()) - start if len(window) else 0.0
    boards = int(window["batch"].sum()) if len(window) else 0
    return Trial(settings=dict(settings), boards_per_s=boards / span if span > 0 else 0.0,
                 mean_batch=boards / len(window) if len(window) else 0.0)


def tune_engine(
    setup: EngineSetup, options: EngineOptions, budget: TrialBudget | None = None, *,
    space: dict[str, tuple[Any, ...]] | None = None, on_trial: Callable[[Trial], None] | None = None,
    measure_fn: Callable[[EngineSetup, EngineOptions, dict[str, Any], TrialBudget], Trial] = measure_engine,
) -> tuple[dict[str, Any], list[Trial]]:
    """`bench --tune --engine`: coordinate ascent over an engine's crossgame settings (`space`, default
    `ENGINE_SPACE`), its own network (or perfkit's) as `setup` has it, from `options`, each trial
    within `budget`; returns (best, every trial)."""
    space, per_trial = space or ENGINE_SPACE, budget or TrialBudget()
    start = {k: getattr(options, k) for k in space}
    return coordinate_ascent(start, space, lambda settings: measure_fn(setup, options, settings, per_trial),
                             on_trial=on_trial)
