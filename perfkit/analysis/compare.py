"""Rates with their noise: repeats of one bench, and two benches compared (`perfkit compare`).

A rate's noise comes from repeats when there are several (`bench --repeat R`: min to max),
else from within the run: boards/s in five equal slices of its wall time, whose
interquartile range (the middle three slices; the first and last hold the ramp-up and the
drain) stands for how steady the machine was. A difference is a regression only when B is
slower than A by more than the asked percentage *and* the two intervals do not overlap.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from perfkit.analysis.runs import load_runs, log_to_stderr
from perfkit.analysis.summary import window_rates
from perfkit.instrument.run import MANIFEST, Run, load_run
from perfkit.types import DEFAULT_GAME, PerfkitError

RATES = ("moves_per_s", "boards_per_s", "games_per_s")  # higher is better
REPEATED = (*RATES, "speedup_vs_naive")  # rates that get a median and spread over repeats
UNSTABLE_SPREAD = 0.20  # (max - min) / median over repeats above this flags a result unstable
REPEATS_DIR = "repeats"


def spread(values: Sequence[float]) -> float | None:
    """(max - min) / median: the relative width of the values' range (None with fewer than 2)."""
    values = [v for v in values if v is not None]
    if len(values) < 2 or float(np.median(values)) == 0:
        return None
    return float((max(values) - min(values)) / np.median(values))


def repeat_fields(repeats: Sequence[Run]) -> dict[str, Any]:
    """Summary fields of R repeats of one strategy: each rate's median, its spread, and why it's unstable."""
    out: dict[str, Any] = {"repeats": len(repeats)}
    for key in REPEATED:
        values = [r.summary.get(key) for r in repeats]
        present = [v for v in values if v is not None]
        out[key] = float(np.median(present)) if present else None
        out[f"{key}_spread"] = spread(present)
    reasons = []
    wide = out["moves_per_s_spread"]
    if wide is not None and wide > UNSTABLE_SPREAD:
        rates = ", ".join(f"{r.summary['moves_per_s']:.1f}" for r in repeats)
        reasons.append(
            f"moves/s varied {wide:.0%} across {len(repeats)} repeats ({rates}): more than {UNSTABLE_SPREAD:.0%}"
        )
    slow = sum(bool(r.summary.get("oversubscription_warning")) for r in repeats)
    if slow and len(repeats) > 1:  # a single run's warning is shown on its own
        reasons.append(f"{slow} of {len(repeats)} repeats had oversubscribed batch-1 calls")
    out["unstable"] = (
        "; ".join(reasons) + " - the machine was busy or the runs too short: use more --games, --repeat or a quieter moment"
        if reasons else None
    )
    return out


@dataclass(frozen=True)
class Measured:
    """One rate of one strategy on one side of a comparison: its samples and interval."""

    value: float  # median of the samples (or the run's own rate)
    low: float  # interval: min..max of the repeats, or the run's window IQR scaled to the rate
    high: float
    samples: tuple[float, ...]  # [R] one per repeat (one value for a single run)
    noise_from: str  # "3 repeats" or "windows of 1 run"


def measure(runs: Sequence[Run], key: str) -> Measured:
    """The median, interval and samples of summary `key` over `runs` (repeats of one strategy)."""
    samples = tuple(float(r.summary[key]) for r in runs if r.summary.get(key) is not None)
    if not samples:
        raise PerfkitError(f"the runs have no {key}; were they written by perfkit bench?")
    value = float(np.median(samples))
    if len(samples) > 1:
        return Measured(value, min(samples), max(samples), samples, f"{len(samples)} repeats")
    half = window_noise(runs[0]) / 2
    return Measured(value, value * (1 - half), value * (1 + half), samples, "windows of 1 run")


def window_noise(run: Run) -> float:
    """Relative IQR of the run's boards/s over five slices of its wall time (0 when it can't tell)."""
    start = run.manifest.get("perf_counter_start_s")
    wall = run.manifest.get("wall_s") or run.summary.get("wall_s")
    if start is None or not wall or run.calls.empty:
        return 0.0
    rates = window_rates(run.calls, start, wall)
    if len(rates) < 3 or float(np.median(rates)) <= 0:
        return 0.0
    q1, q3 = np.percentile(rates, [25, 75])
    return float((q3 - q1) / np.median(rates))


@dataclass(frozen=True)
class RateDiff:
    """One rate of one strategy, A against B."""

    strategy: str
    rate: str  # a summary key in RATES
    a: Measured
    b: Measured

    @property
    def change(self) -> float:
        """B / A - 1: negative is slower."""
        return self.b.value / self.a.value - 1 if self.a.value else float("nan")

    @property
    def beyond_noise(self) -> bool:
        """The two intervals do not overlap."""
        return self.b.high < self.a.low or self.b.low > self.a.high

    @property
    def noise(self) -> float:
        """Half-widths of both intervals together, relative to A: a change smaller than this is noise."""
        return ((self.a.high - self.a.low) + (self.b.high - self.b.low)) / 2 / self.a.value if self.a.value else 0.0

    def regression(self, pct: float) -> bool:
        return self.change < -pct / 100 and self.beyond_noise and self.b.value < self.a.value


@dataclass(frozen=True)
class Comparison:
    """`perfkit compare A B`: every rate of every strategy both sides measured."""

    a: str  # paths, as given
    b: str
    diffs: list[RateDiff]
    only_a: list[str]  # strategies measured on one side only
    only_b: list[str]
    warnings: list[str]  # different workloads or devices: the comparison may not be fair

    def regressions(self, pct: float) -> list[RateDiff]:
        return [d for d in self.diffs if d.regression(pct)]


def repeats_of(run_dir: Path) -> list[Path]:
    """The manifests of a run directory's saved repeats, in repeat order."""
    found = [m for m in (run_dir / REPEATS_DIR).glob(f"*/{MANIFEST}") if m.parent.name.isdigit()]
    return sorted(found, key=lambda m: int(m.parent.name))


def load_side(path: str | os.PathLike[str], *, log: Callable[[str], None] = log_to_stderr) -> dict[str, list[Run]]:
    """Strategy -> its runs: a run directory (with its repeats), or a folder of run directories.

    A damaged run among others is skipped with a line to `log` (`perfkit.analysis.runs.load_runs`)."""
    path = Path(path)
    if (path / MANIFEST).is_file():
        dirs = [path]
    elif path.is_dir():
        dirs = sorted(c for c in path.iterdir() if (c / MANIFEST).is_file())
        if not dirs:
            raise PerfkitError(f"{path} holds no perfkit run directories; make them with perfkit bench")
    else:
        load_run(path)  # raises the "not a run directory" error
        dirs = []
    side: dict[str, list[Run]] = {}
    # A run with repeats stands for them; a damaged one (run or repeat) is skipped with a line.
    paths = [r for d in dirs for r in ([m.parent for m in repeats_of(d)] or [d])]
    for run in load_runs(paths, log=log):
        side.setdefault(run.manifest["strategy"], []).append(run)
    for name, runs in side.items():  # a strategy's runs are pooled as repeats: they must measure one workload
        keys = sorted({workload_key(r) for r in runs}, key=str)
        if len(keys) > 1:
            raise PerfkitError(
                f"{path} holds {name} runs of {len(keys)} different workloads ({'; '.join(map(describe_key, keys))}), "
                "which compare would pool as repeats; give it one workload per side (a folder or run directory)"
            )
    return side


def strategy_order(name: str) -> tuple[int, str]:
    """naive, permove, crossgame (the registry's order), then any other name."""
    from perfkit.strategies import STRATEGIES

    names = list(STRATEGIES)
    return (names.index(name) if name in names else len(names), name)


def workload_key(run: Run) -> tuple[Any, ...]:
    """What must match for two runs to measure the same thing: preset, board, game, engine, precision, device."""
    s = run.manifest.get("settings", {})
    env = run.manifest.get("environment", {})
    return (s.get("preset"), s.get("board"), s.get("game", DEFAULT_GAME), s.get("engine"), s.get("precision"),
            env.get("device_name"))


def describe_key(key: tuple[Any, ...]) -> str:
    preset, board, game, engine, precision, device = key
    parts = [str(preset)] + ([f"board {board}"] if board else []) + [str(game)]
    return " ".join(parts + ([f"engine {engine}"] if engine else []) + [str(precision), f"on {device}"])


def compare(a: str | os.PathLike[str], b: str | os.PathLike[str], *, log: Callable[[str], None] = log_to_stderr) -> Comparison:
    """Compare the rates of the runs at `a` (the baseline) with those at `b`, strategy by strategy.

    A damaged run on either side is skipped with a line to `log`."""
    side_a, side_b = load_side(a, log=log), load_side(b, log=log)
    common = sorted((name for name in side_a if name in side_b), key=strategy_order)
    if not common:
        raise PerfkitError(
            f"no strategy was measured on both sides ({', '.join(side_a)} vs {', '.join(side_b)}); "
            "compare runs of the same strategy"
        )
    diffs = [RateDiff(name, key, measure(side_a[name], key), measure(side_b[name], key)) for name in common for key in RATES]
    warnings = []
    keys_a = {workload_key(r) for runs in side_a.values() for r in runs}
    keys_b = {workload_key(r) for runs in side_b.values() for r in runs}
    if keys_a != keys_b:
        warnings.append(
            f"the sides differ in preset, board, game, engine, precision or device "
            f"({'; '.join(map(describe_key, sorted(keys_a, key=str)))} vs "
            f"{'; '.join(map(describe_key, sorted(keys_b, key=str)))}): the rates are not the same workload"
        )
    return Comparison(
        a=str(a), b=str(b), diffs=diffs, only_a=[n for n in side_a if n not in side_b],
        only_b=[n for n in side_b if n not in side_a], warnings=warnings,
    )
