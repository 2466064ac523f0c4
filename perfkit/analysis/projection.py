"""Days for N games from a run, and the what-if: the run's call trace on another device.

Two projections, always labelled with whose numbers they are:

- **measured**: N / (games/s × D) / 86,400, from the run's own games/s, with the interval the
  run's summary derives from the throughput of windows of the run. D devices are assumed to
  scale perfectly (each runs its own copy of the workload, CPU side included).
- **what-if**: the run's recorded calls replayed against a latency curve. A call's batch size
  does not depend on the device (the search decides it), so the network time on another
  device is Σ over the recorded calls of `curve.latency_s(batch)`. The rest of the run, its
  wall time minus the time spent inside network calls, is carried over unchanged. That CPU
  side (game logic, search, Python) is only approximately device independent: it assumes
  the other machine's CPU is as fast as this one's, and that CPU and device work do not
  overlap (true of the strategies that make one call at a time; an asynchronous pipeline
  would hide part of one behind the other, so the replay overestimates its wall time).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from perfkit.analysis.curve import Curve, CurvePoint
from perfkit.analysis.reference import seed_reference
from perfkit.analysis.summary import DAY_S, PROJECTION_GAMES
from perfkit.instrument.run import Run
from perfkit.types import PerfkitError

SEED_CALIBRATION_LABEL = "seed calibration: the seed's reported figures, not measured"


def days_for(games: int, games_per_s: float | None, devices: int = 1) -> float | None:
    """Days to play `games` at `games_per_s` per device on `devices` devices (None: no rate)."""
    if games < 1 or devices < 1:
        raise PerfkitError(f"games and devices must be >= 1, got {games} and {devices}")
    if not games_per_s or games_per_s <= 0:
        return None
    return games / (games_per_s * devices) / DAY_S


def seed_calibration() -> Curve:
    """A two-point latency curve from the seed's figures: the seed's per-call cost, assumed.

    The seed reports 917 boards/s at its mean batch of 57.3 boards and a potential 6,492
    boards/s at batch 400. Assumption: each figure is the throughput of calls of that size,
    so a call of 57.3 boards costs 57.3/917 = 62.5 ms and one of 400 boards 400/6,492 =
    61.6 ms, on the seed's (unnamed) GPU and network, everything the seed counted in a call
    included. The two costs are nearly equal: the seed's calls were overhead-bound. Between
    the points the cost is interpolated, below 57.3 boards it stays at 62.5 ms, above 400 each
    extra board costs 1/6,492 s. None of this is measured by perfkit.
    """
    ref = seed_reference()
    b0, r0 = ref["baseline"]["mean_batch"], ref["baseline"]["boards_per_s"]
    b1, r1 = ref["optimal_batch"], ref["potential_boards_per_s"]
    return Curve(
        device="seed's GPU",
        device_name="the seed's GPU",
        preset="seed",
        network={},
        precision="unknown",
        points=[CurvePoint(batch=b0, call_s=(b0 / r0,)), CurvePoint(batch=b1, call_s=(b1 / r1,))],
        stopped_by="two reported figures",
        label=SEED_CALIBRATION_LABEL,
        note=(
            f"assumes the seed's {r0:,} boards/s at batch {b0} and {r1:,} boards/s at batch {b1} "
            f"are per-call throughputs: {1e3 * b0 / r0:.1f} ms and {1e3 * b1 / r1:.1f} ms per call"
        ),
    )


def _simulated(run: Run) -> bool:
    env = run.manifest.get("environment", {})
    return bool(env.get("simulated")) or str(env.get("device", "")).startswith("sim")


def measured_projection(run: Run, *, games: int = PROJECTION_GAMES, devices: int = 1) -> dict[str, Any]:
    """Days for `games` on `devices` devices at the run's measured rate, with its interval."""
    s = run.summary
    days = days_for(games, s.get("games_per_s"), devices)
    scale = games / PROJECTION_GAMES / devices  # the summary's interval is for 500k games, 1 device
    low, high = s.get("projected_days_500k_low"), s.get("projected_days_500k_high")
    return {
        "label": f"{'simulated (sim device: modelled network times, not measured)' if _simulated(run) else 'measured'}: "
                 f"{_run_label(run)}",
        "games_per_s": s.get("games_per_s"),
        "network_s": _call_seconds(run) if len(run.calls) else None,
        "wall_s": run.manifest.get("wall_s"),
        "days": days,
        "days_low": None if days is None or low is None else low * scale,
        "days_high": None if days is None or high is None else high * scale,
    }


def replay(run: Run, curve: Curve, *, games: int = PROJECTION_GAMES, devices: int = 1) -> dict[str, Any]:
    """The run's call trace against `curve`: predicted network time, wall time and days.

    Returns measured and predicted Σ call time (and Σ forward time where the curve has
    forward samples), the CPU side carried over, the predicted wall time, games/s and
    days for `games` on `devices`, with the measured interval scaled by predicted/measured
    wall time. See the module docstring for what is assumed.
    """
    calls = run.calls
    n_games = len(run.games)
    if n_games == 0:
        raise PerfkitError(f"run {run.path} has no finished games to project from")
    if len(calls) == 0:
        raise PerfkitError(
            f"run {run.path} has no call trace (recorded without calls?); record one with perfkit bench"
        )
    _check_curve_fits(run, curve)
    batch = calls["batch"].to_numpy(dtype=float)  # [calls]
    wall_s = float(run.manifest["wall_s"])
    measured_call_s = _call_seconds(run)
    cpu_s = max(wall_s - measured_call_s, 0.0)
    predicted_call_s = float(np.sum(curve.latency_s(batch)))
    has_forward = all(p.forward_s for p in curve.points)
    predicted_wall_s = cpu_s + predicted_call_s
    games_per_s = n_games / predicted_wall_s
    measured = measured_projection(run, games=games, devices=devices)
    ratio = predicted_wall_s / wall_s
    days = days_for(games, games_per_s, devices)
    inflight = (run.manifest.get("strategy_settings") or {}).get("inflight") or 1
    overlap = (
        f"this run overlapped CPU and device work (inflight={inflight}): the serial replay overestimates its wall time"
        if inflight > 1 else ""
    )
    return {
        "label": f"what-if: this run's {len(calls):,} calls at {curve.device_name} speed ({curve.label})",
        "curve": str(curve.path) if curve.path else curve.label,
        "curve_note": curve.note,
        "overlap_note": overlap,
        "calls": len(calls),
        "measured_call_s": measured_call_s,
        "predicted_call_s": predicted_call_s,
        "measured_forward_s": float(calls["forward_s"].sum()),
        "predicted_forward_s": float(np.sum(curve.latency_s(batch, part="forward"))) if has_forward else None,
        "cpu_s": cpu_s,
        "measured_wall_s": wall_s,
        "predicted_wall_s": predicted_wall_s,
        "games_per_s": games_per_s,
        "days": days,
        "days_low": None if measured["days_low"] is None else measured["days_low"] * ratio,
        "days_high": None if measured["days_high"] is None else measured["days_high"] * ratio,
    }


def seed_reported(*, games: int = PROJECTION_GAMES, devices: int = 1) -> dict[str, Any]:
    """The seed's own 24.1 days for 500k games, scaled linearly to `games` and `devices`."""
    ref = seed_reference()
    days = ref["baseline"]["days_500k"] * games / PROJECTION_GAMES / devices
    return {
        "label": f"{ref['label']}: {ref['baseline']['days_500k']} days for {PROJECTION_GAMES:,} games, scaled",
        "games_per_s": games / (days * devices * DAY_S),
        "days": days,
        "days_low": None,
        "days_high": None,
        "target_days": ref["targets"]["days_500k"] * games / PROJECTION_GAMES / devices,
    }


def project(run: Run, *, games: int = PROJECTION_GAMES, devices: int = 1, curve: Curve | None = None) -> dict[str, Any]:
    """Everything `perfkit project` shows: measured days, the what-if (with a curve), the seed's."""
    days_for(games, 1.0, devices)  # validates games and devices
    return {
        "run_dir": str(run.path) if run.path else None,
        "strategy": run.manifest.get("strategy"),
        "games": games,
        "devices": devices,
        "measured": measured_projection(run, games=games, devices=devices),
        "what_if": replay(run, curve, games=games, devices=devices) if curve is not None else None,
        "seed_reported": seed_reported(games=games, devices=devices),
    }


def _call_seconds(run: Run) -> float:
    """Σ wall time inside network calls (encode + transfers + forward + Python around them)."""
    return float((run.calls["end_s"] - run.calls["start_s"]).sum())


def _run_label(run: Run) -> str:
    m = run.manifest
    env, net = m.get("environment", {}), m.get("network", {})
    return (
        f"{m.get('strategy')} on {env.get('device_name', '?')}, preset {m.get('settings', {}).get('preset', '?')} "
        f"(board {net.get('board', '?')}), {len(run.games)} games"
    )


def _check_curve_fits(run: Run, curve: Curve) -> None:
    """A measured curve must be of the run's network and precision (the seed's has neither)."""
    if curve.label == SEED_CALIBRATION_LABEL:
        return
    net = run.manifest.get("network", {})
    precision = run.manifest.get("settings", {}).get("precision")
    if net.get("curve_key") or curve.network.get("engine"):  # an engine's network: its own curve only
        if curve.network.get("game") != net.get("curve_key") or curve.precision != precision:
            raise PerfkitError(
                f"curve {curve.path or ''} is for {curve.describe()}, not for this run's network {net.get('name')} "
                f"({precision}); measure it with perfkit curve --engine {run.manifest.get('settings', {}).get('engine')}"
            )
        return
    keys = ("board", "blocks", "channels")
    if any(int(curve.network.get(k, -1)) != int(net.get(k, -2)) for k in keys) or curve.precision != precision:
        raise PerfkitError(
            f"curve {curve.path or ''} is for {curve.describe()}, but the run used preset "
            f"{run.manifest.get('settings', {}).get('preset')} (board {net.get('board')}, {net.get('blocks')} blocks, "
            f"{net.get('channels')} channels), {precision}; measure a matching one with perfkit curve "
            f"--preset {run.manifest.get('settings', {}).get('preset')} --precision {precision}"
        )


WHATIF_MAX_BATCH = 4096  # boards per call at that concurrency


def at_concurrency(run: Run, concurrency: int, *, max_batch: int = WHATIF_MAX_BATCH) -> Run:
    """A crossgame run's trace as if `concurrency` games had been in flight (a what-if, not a measurement).

    A crossgame call carries one search level of every game in flight, so with k times the
    games in flight the same positions travel in k times fewer, k times bigger calls: the
    recorded calls are merged k at a time, in order, up to `max_batch` boards. The games,
    their boards and the CPU side stay as measured (each merged call keeps the summed call
    time, so `replay` carries the same CPU time over); the curve prices the bigger calls.
    Assumes the CPU side per game does not grow with concurrency (crossgame's board logic is
    vectorised) and that the measured games stand for the many more a GPU run would play.
    """
    settings = run.manifest.get("strategy_settings") or {}
    measured = min(settings.get("concurrency") or 1, max(len(run.games), 1))  # fewer games than slots: all in flight
    if run.manifest.get("strategy") != "crossgame":
        raise PerfkitError(f"only a crossgame run can be replayed at another concurrency, not {run.manifest.get('strategy')}")
    k = max(1, round(concurrency / measured))
    calls = run.calls
    groups: list[list[int]] = []
    current: list[int] = []
    boards = 0
    for i, batch in enumerate(calls["batch"].to_numpy()):
        if current and (len(current) == k or boards + batch > max_batch):
            groups.append(current)
            current, boards = [], 0
        current.append(i)
        boards += int(batch)
    if current:
        groups.append(current)
    rows = []
    for g in groups:
        part = calls.iloc[g]
        start = float(part["start_s"].iloc[0])
        rows.append({
            **part.iloc[0].to_dict(),
            "batch": int(part["batch"].sum()), "n_policy": int(part["n_policy"].sum()),
            "n_value": int(part["n_value"].sum()), "level": -1 if part["level"].nunique() > 1 else int(part["level"].iloc[0]),
            "encode_s": float(part["encode_s"].sum()), "forward_s": float(part["forward_s"].sum()),
            "start_s": start, "end_s": start + float((part["end_s"] - part["start_s"]).sum()),
        })
    merged = calls.iloc[:0].copy() if not rows else type(calls)(rows, columns=calls.columns)
    manifest = {
        **run.manifest,
        "strategy_settings": {**settings, "concurrency": concurrency, "max_batch": max_batch},
        "what_if": {
            "measured_concurrency": measured, "concurrency": concurrency, "calls_merged": k,
            "assumes": f"calls at G = {measured} merged {k} at a time (up to {max_batch:,} boards): "
                       f"crossgame at G = {concurrency}, CPU side per game as measured",
        },
    }
    return Run(manifest=manifest, calls=merged, moves=run.moves, games=run.games, gpu=run.gpu, path=None)
