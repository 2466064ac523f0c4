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
from typing import Any

import numpy as np

from perfkit.instrument.recorder import Recorder
from perfkit.measure.bench import Workload
from perfkit.strategies import CrossGameOptions, Engine, make_strategy

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
    space = space or SEARCH_SPACE
    fields = set(CrossGameOptions.names())
    start = trial_options(workload, {}).to_dict()
    best = {k: start[k] for k in space if k in fields}
    trials: list[Trial] = []
    cache: dict[tuple[tuple[str, Any], ...], Trial] = {}  # settings, sorted -> its trial: none measured twice

    def run(settings: dict[str, Any]) -> Trial:
        key = tuple(sorted(settings.items()))
        if key not in cache:
            cache[key] = measure_fn(workload, settings, budget_s=budget_s, warmup_s=warmup_s)
            trials.append(cache[key])
            if on_trial is not None:
                on_trial(cache[key])
        return cache[key]

    best_trial = run(best)
    for key, values in space.items():
        if key not in fields:
            continue
        for value in values:
            trial = run(compatible({**best, key: value}))
            if trial.boards_per_s > best_trial.boards_per_s:
                best, best_trial = dict(trial.settings), trial
    return best, trials
