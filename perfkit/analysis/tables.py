"""Tables derived from stored runs for the renderers: labels, breakdowns, the projection's bars.

Everything here reads a run's stored tables and manifest and returns plain DataFrames or
dicts; the charts, the HTML report and the notebooks only draw and format them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from perfkit.analysis import metrics
from perfkit.instrument.run import Run
from perfkit.types import Curve, RunSummary

# The tables below are returned through typed locals (`table: pd.DataFrame = ...`): with
# mypy's python_version 3.10, pandas-stubs types DataFrame's constructor and methods as Any.

# Why a network call was made, in the order the search asks (SPEC §1.3).
PURPOSES = (
    "root",
    "candidate values",
    "candidates + tree policies",  # permove/crossgame: level 1 in one call
    "tree policies",
    "leaves",
    "other",
)

def strategy(run: Run) -> str:
    return str(run.manifest.get("strategy", "?"))


def concurrency(run: Run) -> int:
    """Games in flight at the start (1 for naive and permove): at most the games played."""
    g = int(run.manifest.get("strategy_settings", {}).get("concurrency") or 1)
    games = run.summary.get("games") or run.manifest.get("settings", {}).get("games")
    return min(g, int(games)) if games else g


def run_label(run: Run) -> str:
    """Short name of a run: the strategy, plus G for crossgame ("crossgame G=64")."""
    name = strategy(run)
    return f"{name} G={concurrency(run)}" if name == "crossgame" else name


def is_simulated(run: Run) -> bool:
    """The run's network times were modelled by the simulated device (`--device sim`), not measured."""
    env = run.manifest.get("environment", {})
    return bool(env.get("simulated")) or str(env.get("device", "")).startswith("sim")


def where_measured(run: Run) -> str:
    """The device a run was measured on, in words: "CPU, 2 cores" or the GPU's name."""
    env = run.manifest.get("environment", {})
    if is_simulated(run):
        return f"{env.get('device_name') or 'sim'} (simulated, not measured)"
    if str(env.get("device", "cpu")) != "cpu":  # an accelerator: its name says what it is
        return str(env.get("device_name") or env.get("device"))
    cores = env.get("cpu_count")
    return f"CPU, {cores} cores" if cores else "CPU"


def preset_name(run: Run) -> str:
    return str(run.manifest.get("settings", {}).get("preset", "?"))


def run_details(run: Run) -> dict[str, str]:
    """What tells two runs of one strategy apart, in words: the engine's scheduler, the worker
    processes, the precision, the engine ("" where it does not apply)."""
    ss, settings = run.manifest.get("strategy_settings", {}), run.manifest.get("settings", {})
    engine = str(settings.get("engine") or "")
    return {
        "scheduler": str(ss.get("scheduler") or ""),
        "workers": f"W={ss['workers']}" if ss.get("workers") else "",
        "precision": str(settings.get("precision") or ""),
        "engine": engine.rpartition(":")[0].rpartition("/")[2] or engine if engine else "",
    }


def unique_labels(runs: Sequence[Run]) -> list[str]:
    """`run_label` of each run; where labels repeat, with the first detail that tells those runs apart
    (`run_details`: "crossgame G=64 greenlet", "crossgame G=64 threads"), else #2, #3."""
    base = [run_label(run) for run in runs]
    labels = list(base)
    for label in set(base):
        group = [i for i, b in enumerate(base) if b == label]
        if len(group) < 2:
            continue
        details = [run_details(runs[i]) for i in group]
        key = next((k for k in details[0] if len({d[k] for d in details}) == len(group)), None)
        for n, i in enumerate(group):
            labels[i] = f"{label} {details[n][key]}" if key is not None else label if n == 0 else f"{label} #{n + 1}"
    return labels


def summary_frame(runs: Sequence[Run], columns: dict[str, str] | None = None) -> pd.DataFrame:
    """The runs' stored summary metrics, one row per run (None where a metric doesn't apply).

    Args:
        columns: {summary key: column title}; default every column of `metrics.METRICS`
            under its long title ("speed-up vs naive", "days for 500k", ...).
    """
    if columns is None:
        columns = {m.key: m.long_title or m.title or m.key for m in metrics.columns(verbose=None)}
    rows = []
    for label, run, summary in zip(unique_labels(runs), runs, compared_summaries(runs), strict=True):
        row = {"run": label, "strategy": strategy(run), "concurrency": concurrency(run),
               "preset": preset_name(run), "measured on": where_measured(run)}
        row.update({title: summary.get(key) for key, title in columns.items()})
        rows.append(row)
    table: pd.DataFrame = pd.DataFrame(rows).set_index("run")
    return table


def comparable_key(run: Run) -> tuple[Any, ...]:
    """Runs with equal keys played the same workload on the same device."""
    m = run.manifest
    s = m.get("settings", {})
    return (
        s.get("preset"), s.get("board"), s.get("seed"), s.get("precision"),
        m.get("environment", {}).get("device_name"), str(m.get("search")),
    )


def speedups(runs: Sequence[Run]) -> list[float | None]:
    """Speed-up vs naive (moves/s ratio) of each run: the one place it is computed.

    The speed-up stored with a run (measured alongside naive in its own bench, or the
    median over its repeats) comes first; a run without one is compared with a naive run
    of the same workload and device among `runs`. `bench` stores what this returns.
    """
    naive: dict[tuple[Any, ...], float] = {}
    for run in runs:
        if strategy(run) == "naive" and run.summary.get("moves_per_s"):
            naive.setdefault(comparable_key(run), run.summary["moves_per_s"])
    out = []
    for run in runs:
        stored = run.summary.get("speedup_vs_naive")
        base = naive.get(comparable_key(run))
        rate = run.summary.get("moves_per_s")
        out.append(stored if stored is not None else rate / base if base and rate is not None else None)
    return out


def compared_summaries(runs: Sequence[Run]) -> list[RunSummary]:
    """Each run's summary, typed, with its speed-up vs naive among `runs` (`speedups`): what the tables show."""
    return [dataclasses.replace(RunSummary.from_dict(run.summary), speedup_vs_naive=x)
            for run, x in zip(runs, speedups(runs), strict=True)]


@dataclass(frozen=True)
class SameGames:
    """Did the runs of one workload play the same games? (equal `game_digest`s: equal games)"""

    labels: tuple[str, ...]  # `run_label` of each run
    preset: str
    precision: str
    digest: str | None  # the shared digest, where `same`
    verdict: str  # "same"; "game counts" (they played different numbers of games); "drift" (expected
    # outside float64: rounding depends on which boards share a call); "differ" (float64: a bug)

    @property
    def same(self) -> bool:
        return self.verdict == "same"


def same_games(runs: Sequence[Run]) -> list[SameGames]:
    """The same-games verdict of each workload among `runs` played by two runs or more (`comparable_key`)."""
    groups: dict[tuple[Any, ...], list[Run]] = {}
    for run in runs:
        groups.setdefault(comparable_key(run), []).append(run)
    out = []
    for group in groups.values():
        if len(group) < 2:
            continue
        digests = {r.summary.get("game_digest") for r in group}
        precision = str(group[0].manifest.get("settings", {}).get("precision", "?"))
        if len(digests) == 1:
            verdict = "same"
        elif len({r.summary.get("games") for r in group}) > 1:
            verdict = "game counts"
        elif precision != "float64":
            verdict = "drift"
        else:
            verdict = "differ"
        out.append(SameGames(
            labels=tuple(unique_labels(group)), preset=preset_name(group[0]), precision=precision,
            digest=next(iter(digests)) if verdict == "same" else None, verdict=verdict,
        ))
    return out


def call_purposes(calls: pd.DataFrame, *, depth: int) -> pd.Series:
    """Why each call was made, from its search level and what it asked for.

    Level 0 is the root; at level 1 a value-only call values a root candidate; a
    policy-only call above the leaves expands tree nodes; a value call at level `depth`
    values leaves. Per-move batching asks level 1's values and policies in one call.
    """
    level, pol, val = calls["level"], calls["n_policy"], calls["n_value"]
    conditions = [
        level == 0,
        (level > 0) & (pol > 0) & (val == 0),
        (level == depth) & (pol == 0) & (val > 0),
        (level == 1) & (pol == 0) & (val > 0),
        (level == 1) & (pol > 0) & (val > 0),
    ]
    choices = ["root", "tree policies", "leaves", "candidate values", "candidates + tree policies"]
    purpose: pd.Series[str] = pd.Series(np.select(conditions, choices, default="other"), index=calls.index, name="purpose")
    return purpose


def search_depth(run: Run) -> int:
    return len(run.manifest.get("search", {}).get("widths", (3, 3, 3)))


def calls_by_purpose(run: Run) -> pd.DataFrame:
    """Per purpose: network calls and boards per move, and the mean batch of those calls."""
    calls, n_moves = run.calls, max(len(run.moves), 1)
    if calls.empty:
        return _empty(["calls_per_move", "boards_per_move", "mean_batch"])
    purpose = call_purposes(calls, depth=search_depth(run))
    g = calls.groupby(purpose)["batch"]
    out: pd.DataFrame = pd.DataFrame({
        "calls_per_move": g.size() / n_moves,
        "boards_per_move": g.sum() / n_moves,
        "mean_batch": g.mean(),
    })
    ordered: pd.DataFrame = out.reindex([p for p in PURPOSES if p in out.index])
    return ordered


def level_structure(run: Run) -> pd.DataFrame:
    """Per search level: calls and boards per move, mean batch, policies and values asked."""
    calls, n_moves = run.calls, max(len(run.moves), 1)
    g = calls.groupby("level")
    table: pd.DataFrame = pd.DataFrame({
        "calls_per_move": g.size() / n_moves,
        "boards_per_move": g["batch"].sum() / n_moves,
        "mean_batch": g["batch"].mean(),
        "policies_per_move": g["n_policy"].sum() / n_moves,
        "values_per_move": g["n_value"].sum() / n_moves,
    }).rename_axis("level")
    return table


def time_breakdown(run: Run) -> dict[str, float]:
    """Shares of the run's wall time, from its stored summary; they add up to 1.

    "transfers" is absent on the CPU, where there is none to measure.
    """
    s = run.summary
    forward = s.get("forward_share") or 0.0
    encode = s.get("encode_share") or 0.0
    transfer = s.get("transfer_share")
    outside = s.get("outside_network_share") or 0.0
    shares = {"forward pass": forward}
    if transfer is not None:
        shares["transfers"] = transfer
    shares["encode"] = encode
    shares["rest of the call"] = max(0.0, 1.0 - forward - encode - (transfer or 0.0) - outside)
    shares["search and game logic"] = outside
    return shares


def forward_latency(calls: pd.DataFrame) -> pd.DataFrame:
    """Forward time by batch size: calls, median and quartiles (ms), median per board (µs)."""
    if calls.empty:
        return _empty(["calls", "median_ms", "p25_ms", "p75_ms", "per_board_us"])
    g = calls.groupby("batch")["forward_s"]
    out: pd.DataFrame = pd.DataFrame({
        "calls": g.size(),
        "median_ms": g.median() * 1e3,
        "p25_ms": g.quantile(0.25) * 1e3,
        "p75_ms": g.quantile(0.75) * 1e3,
    })
    out["per_board_us"] = out["median_ms"] * 1e3 / out.index.to_numpy()
    table: pd.DataFrame = out.rename_axis("batch")
    return table


def gpu_timeline(run: Run) -> pd.DataFrame:
    """GPU samples with time from the run's first sample (empty where none were taken)."""
    gpu = run.gpu
    if gpu is None or gpu.empty:
        return _empty(["t_s", "util_pct", "mem_used_mb", "power_w", "sm_clock_mhz"])
    out: pd.DataFrame = gpu.copy()
    out["t_s"] = out["t_s"] - out["t_s"].iloc[0]
    return out


def curve_frame(curve: Curve) -> pd.DataFrame:
    """A `perfkit curve` (`perfkit.analysis.curve.Curve`) as a table: per batch size, ms per
    call (median, IQR), forward ms, boards/s and the noisy flag."""
    table: pd.DataFrame = pd.DataFrame([
        {
            "batch": p.batch,
            "call_ms": p.median_s * 1e3,
            "iqr_ms": p.iqr_s * 1e3,
            "forward_ms": None if p.forward_median_s is None else p.forward_median_s * 1e3,
            "boards_per_s": p.boards_per_s,
            "noisy": p.noisy,
        }
        for p in curve.points
    ], columns=["batch", "call_ms", "iqr_ms", "forward_ms", "boards_per_s", "noisy"])
    return table


def _empty(columns: list[str]) -> pd.DataFrame:
    """A table with these columns and no row: what a run without the data shows."""
    table: pd.DataFrame = pd.DataFrame(columns=columns)
    return table


def whatif_bars(runs: Sequence[Run], curve: Curve) -> list[dict[str, Any]]:
    """Projection bars replaying each run's call trace against `curve` (see `projection.replay`).

    Runs whose network or precision the curve does not fit are left out (a measured curve
    only applies to its own network); the seed's calibration applies to every run.
    """
    from perfkit.analysis.projection import SEED_CALIBRATION_LABEL, replay
    from perfkit.types import PerfkitError

    if curve.label == SEED_CALIBRATION_LABEL:
        where = "seed's per-call cost, GPU"
    else:
        where = f"{curve.device_name} curve"
    bars = []
    for label, run in zip(unique_labels(runs), runs, strict=True):
        try:
            r = replay(run, curve)
        except PerfkitError:
            continue
        if r["days"] is None:
            continue
        bars.append({
            "label": f"{label} trace replayed (what-if, {where}, {preset_name(run)} preset)",
            "days": r["days"], "low": r["days_low"], "high": r["days_high"],
        })
    return bars


def projection_bars(
    runs: Sequence[Run], *, reference: dict[str, Any] | None = None, whatif: Sequence[dict[str, Any]] = ()
) -> pd.DataFrame:
    """The bars of the projection chart: days for 500k games, labelled with whose number it is.

    Args:
        runs: measured runs; each gives one bar with its stored interval.
        reference: the seed's figures (`seed_reference()`), drawn as reported, never adjusted.
        whatif: extra bars, each a dict with `label`, `days` and optionally `low`, `high`.

    Returns:
        One row per bar: label, days, low, high, source ("seed", "measured", "what-if").
    """
    rows = []
    if reference:
        rows += [
            {"label": "seed baseline (reported, GPU)", "days": reference["baseline"]["days_500k"], "source": "seed"},
            {"label": "seed phase 1 estimate", "days": reference["estimates"]["phase1_days_500k"], "source": "seed"},
            {"label": "seed phase 2 estimate", "days": reference["estimates"]["phase2_days_500k"], "source": "seed"},
        ]
    for label, run in zip(unique_labels(runs), runs, strict=True):
        s = run.summary
        if s.get("projected_days_500k") is None:
            continue
        rows.append({
            "label": f"{label} (measured, {where_measured(run)}, {preset_name(run)} preset)",
            "days": s["projected_days_500k"],
            "low": s.get("projected_days_500k_low"),
            "high": s.get("projected_days_500k_high"),
            "source": "measured",
        })
    for bar in whatif:
        rows.append({"low": None, "high": None, **bar, "source": "what-if"})
    table: pd.DataFrame = pd.DataFrame(rows, columns=["label", "days", "low", "high", "source"])
    return table
