"""Tables derived from stored runs for the renderers: labels, breakdowns, the projection's bars.

Everything here reads a run's stored tables and manifest and returns plain DataFrames or
dicts; the charts, the HTML report and the notebooks only draw and format them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from perfkit.instrument.run import Run

# Why a network call was made, in the order the search asks (SPEC §1.3).
PURPOSES = (
    "root",
    "candidate values",
    "candidates + tree policies",  # permove/crossgame: level 1 in one call
    "tree policies",
    "leaves",
    "other",
)

# Summary keys the comparison tables show, with their titles (units in the title).
SUMMARY_COLUMNS = {
    "games": "games",
    "moves": "moves",
    "calls_per_move": "calls/move",
    "mean_batch": "mean batch",
    "p50_batch": "p50 batch",
    "p95_batch": "p95 batch",
    "boards_per_s": "boards/s",
    "moves_per_s": "moves/s",
    "games_per_s": "games/s",
    "wall_s": "wall s",
    "forward_share": "forward share",
    "transfer_share": "transfer share",
    "cpu_share": "cpu share",
    "efficiency": "efficiency",
    "mfu": "mfu",
    "cache_hit_share": "cache hit share",
    "gpu_util_mean": "gpu util %",
    "speedup_vs_naive": "speed-up vs naive",
    "projected_days_500k": "days for 500k",
}


def strategy(run: Run) -> str:
    return run.manifest.get("strategy", "?")


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
    if str(env.get("device", "cpu")).startswith("cuda"):
        return str(env.get("device_name") or env.get("device"))
    cores = env.get("cpu_count")
    return f"CPU, {cores} cores" if cores else "CPU"


def preset_name(run: Run) -> str:
    return run.manifest.get("settings", {}).get("preset", "?")


def unique_labels(runs: Sequence[Run]) -> list[str]:
    """`run_label` of each run, made unique with #2, #3 where labels repeat."""
    labels: list[str] = []
    seen: dict[str, int] = {}
    for run in runs:
        label = run_label(run)
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return labels


def summary_frame(runs: Sequence[Run], columns: dict[str, str] | None = None) -> pd.DataFrame:
    """The runs' stored summary metrics, one row per run (None where a metric doesn't apply).

    "speed-up vs naive" is against a naive run of the same workload among `runs` (`speedups`).
    """
    columns = columns or SUMMARY_COLUMNS
    rows = []
    for label, run, speedup in zip(unique_labels(runs), runs, speedups(runs), strict=True):
        row = {"run": label, "strategy": strategy(run), "concurrency": concurrency(run),
               "preset": preset_name(run), "measured on": where_measured(run)}
        summary = dict(run.summary, speedup_vs_naive=speedup)
        row.update({title: summary.get(key) for key, title in columns.items()})
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def comparable_key(run: Run) -> tuple:
    """Runs with equal keys played the same workload on the same device."""
    m = run.manifest
    s = m.get("settings", {})
    return (
        s.get("preset"), s.get("board"), s.get("seed"), s.get("precision"),
        m.get("environment", {}).get("device_name"), str(m.get("search")),
    )


def speedups(runs: Sequence[Run]) -> list[float | None]:
    """Moves/s of each run over a naive run of the same workload and device in `runs`.

    Falls back to the speed-up stored with the run (measured alongside naive by `bench`).
    """
    naive: dict[tuple, float] = {}
    for run in runs:
        if strategy(run) == "naive" and run.summary.get("moves_per_s"):
            naive.setdefault(comparable_key(run), run.summary["moves_per_s"])
    out = []
    for run in runs:
        base = naive.get(comparable_key(run))
        rate = run.summary.get("moves_per_s")
        out.append(rate / base if base and rate else run.summary.get("speedup_vs_naive"))
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
    return pd.Series(np.select(conditions, choices, default="other"), index=calls.index, name="purpose")


def search_depth(run: Run) -> int:
    return len(run.manifest.get("search", {}).get("widths", (3, 3, 3)))


def calls_by_purpose(run: Run) -> pd.DataFrame:
    """Per purpose: network calls and boards per move, and the mean batch of those calls."""
    calls, n_moves = run.calls, max(len(run.moves), 1)
    if calls.empty:
        return pd.DataFrame(columns=["calls_per_move", "boards_per_move", "mean_batch"])
    purpose = call_purposes(calls, depth=search_depth(run))
    g = calls.groupby(purpose)["batch"]
    out = pd.DataFrame({
        "calls_per_move": g.size() / n_moves,
        "boards_per_move": g.sum() / n_moves,
        "mean_batch": g.mean(),
    })
    return out.reindex([p for p in PURPOSES if p in out.index])


def level_structure(run: Run) -> pd.DataFrame:
    """Per search level: calls and boards per move, mean batch, policies and values asked."""
    calls, n_moves = run.calls, max(len(run.moves), 1)
    g = calls.groupby("level")
    return pd.DataFrame({
        "calls_per_move": g.size() / n_moves,
        "boards_per_move": g["batch"].sum() / n_moves,
        "mean_batch": g["batch"].mean(),
        "policies_per_move": g["n_policy"].sum() / n_moves,
        "values_per_move": g["n_value"].sum() / n_moves,
    }).rename_axis("level")


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
        return pd.DataFrame(columns=["calls", "median_ms", "p25_ms", "p75_ms", "per_board_us"])
    g = calls.groupby("batch")["forward_s"]
    out = pd.DataFrame({
        "calls": g.size(),
        "median_ms": g.median() * 1e3,
        "p25_ms": g.quantile(0.25) * 1e3,
        "p75_ms": g.quantile(0.75) * 1e3,
    })
    out["per_board_us"] = out["median_ms"] * 1e3 / out.index.to_numpy()
    return out.rename_axis("batch")


def gpu_timeline(run: Run) -> pd.DataFrame:
    """GPU samples with time from the run's first sample (empty where none were taken)."""
    gpu = run.gpu
    if gpu is None or gpu.empty:
        return pd.DataFrame(columns=["t_s", "util_pct", "mem_used_mb", "power_w", "sm_clock_mhz"])
    out = gpu.copy()
    out["t_s"] = out["t_s"] - out["t_s"].iloc[0]
    return out


def curve_frame(curve) -> pd.DataFrame:
    """A `perfkit curve` (`perfkit.analysis.curve.Curve`) as a table: per batch size, ms per
    call (median, IQR), forward ms, boards/s and the noisy flag."""
    return pd.DataFrame([
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


def whatif_bars(runs: Sequence[Run], curve) -> list[dict]:
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
    runs: Sequence[Run], *, reference: dict | None = None, whatif: Sequence[dict] = ()
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
    return pd.DataFrame(rows, columns=["label", "days", "low", "high", "source"])
