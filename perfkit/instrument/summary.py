"""Summary metrics of a run, computed from its stored tables (SPEC §3), and finished in one place.

`finish_summary` is the one way a run's summary is made: bench, the Tracer (a user's engine)
and everything that stores a run go through it. Renderers (console, HTML, notebooks, the cell
magic) only format these numbers; they compute nothing.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from perfkit.instrument.environment import peak_rss_mb
from perfkit.types import RunSummary

DAY_S = 86_400.0
PROJECTION_GAMES = 500_000


def game_digest(moves: pd.DataFrame) -> str:
    """sha256 of every game's move sequence, in game order: equal digests, equal games."""
    h = hashlib.sha256()
    for game, seq in moves.sort_values(["game", "ply"]).groupby("game", sort=True)["move"]:
        h.update(f"{game}:{','.join(map(str, seq))};".encode())
    return h.hexdigest()


def forward_seconds(calls: pd.DataFrame) -> float:
    """Wall seconds during which a forward ran: the calls' forward times summed, or, where calls
    overlapped (concurrent CPU calls, `--inflight 2`), their forward intervals merged, so two
    forwards at once count once (each interval: the call's last `forward_s`, within the call)."""
    if calls.empty:
        return 0.0
    order = calls.sort_values("start_s")
    start, end, fwd = (order[k].to_numpy(float) for k in ("start_s", "end_s", "forward_s"))
    if (start[1:] >= np.maximum.accumulate(end)[:-1]).all():  # one call at a time
        return float(fwd.sum())
    lo, hi = np.maximum(start, end - fwd), end
    idx = np.argsort(lo)
    lo, hi = lo[idx], hi[idx]
    reach = np.maximum.accumulate(hi)
    gaps = np.maximum(lo[1:] - reach[:-1], 0.0).sum()  # idle time between the merged intervals
    return float(reach[-1] - lo[0] - gaps)


def _share(total: float | None, wall: float) -> float | None:
    return None if total is None or wall <= 0 else float(total / wall)


def window_rates(calls: pd.DataFrame, wall_start: float, wall_s: float, windows: int = 5) -> np.ndarray:
    """Boards/s in `windows` equal slices of the run's wall time (by call end time)."""
    if calls.empty or wall_s <= 0:
        return np.array([])
    edges = np.linspace(0.0, wall_s, windows + 1)
    t = calls["end_s"].to_numpy() - wall_start
    boards, _ = np.histogram(t, bins=edges, weights=calls["batch"].to_numpy())
    return boards / np.diff(edges)


def batch1_median_s(calls: pd.DataFrame) -> float | None:
    """Median wall time of the run's single-board calls (None: it made none); oversubscription shows here first."""
    if calls.empty:
        return None
    ones = calls[calls["batch"] == 1]
    return float((ones["end_s"] - ones["start_s"]).median()) if len(ones) else None


def summarize(
    *, calls: pd.DataFrame, moves: pd.DataFrame, games: pd.DataFrame, wall_s: float, wall_start: float
) -> dict[str, Any]:
    """The summary metrics of one run; None where a metric does not apply (e.g. transfers on CPU)."""
    n_games, n_moves = len(games), len(moves)
    n_calls = len(calls)
    boards = int(calls["batch"].sum()) if n_calls else 0
    batch = calls["batch"].to_numpy() if n_calls else np.array([0])
    forward = forward_seconds(calls)
    summed = float(calls["forward_s"].sum()) if n_calls else 0.0
    transfers = calls[["h2d_s", "d2h_s"]].dropna() if n_calls else pd.DataFrame()
    transfer = float(transfers.to_numpy().sum()) if len(transfers) else None
    encode = float(calls["encode_s"].sum()) if n_calls else 0.0
    in_calls = float((calls["end_s"] - calls["start_s"]).sum()) if n_calls else 0.0
    boards_per_s = boards / wall_s if wall_s > 0 else 0.0
    games_per_s = n_games / wall_s if wall_s > 0 else 0.0
    summary = {
        "games": n_games,
        "moves": n_moves,
        "calls": n_calls,
        "boards": boards,
        "calls_per_move": n_calls / n_moves if n_moves else 0.0,
        "boards_per_move": boards / n_moves if n_moves else 0.0,
        "mean_batch": float(batch.mean()),
        "p50_batch": float(np.percentile(batch, 50)),
        "p95_batch": float(np.percentile(batch, 95)),
        "max_batch_seen": int(batch.max()),
        "wall_s": wall_s,
        "games_per_s": games_per_s,
        "moves_per_s": n_moves / wall_s if wall_s > 0 else 0.0,
        "boards_per_s": boards_per_s,
        "forward_share": _share(forward, wall_s),
        # Forwards running at once while one ran: 1 one call at a time; up to the concurrent CPU calls.
        "forwards_at_once": summed / forward if forward > 0 else None,
        "transfer_share": _share(transfer, wall_s),
        "encode_share": _share(encode, wall_s),
        # Everything the device is not doing: game logic, search, encoding, Python.
        "cpu_share": _share(wall_s - forward - (transfer or 0.0), wall_s),
        "outside_network_share": _share(wall_s - in_calls, wall_s),
        "game_digest": game_digest(moves) if n_moves else None,
        "batch1_median_s": batch1_median_s(calls),
    }
    summary.update(projection(games_per_s, n_games, boards, calls, wall_start, wall_s))
    return summary


def projection(
    games_per_s: float, n_games: int, boards: int, calls: pd.DataFrame, wall_start: float, wall_s: float,
    target_games: int = PROJECTION_GAMES,
) -> dict[str, Any]:
    """Days for `target_games` at the run's rate, with an interval from per-window rates."""
    if games_per_s <= 0 or n_games == 0:
        return {"projected_days_500k": None, "projected_days_500k_low": None, "projected_days_500k_high": None}
    days = target_games / games_per_s / DAY_S
    boards_per_game = boards / n_games
    rates = window_rates(calls, wall_start, wall_s)
    rates = rates[rates > 0]
    if len(rates) >= 2:
        window_days = target_games * boards_per_game / rates / DAY_S
        low, high = float(window_days.min()), float(window_days.max())
    else:
        low = high = days
    return {"projected_days_500k": days, "projected_days_500k_low": min(low, days), "projected_days_500k_high": max(high, days)}


def finish_summary(
    *,
    calls: pd.DataFrame,
    moves: pd.DataFrame,
    games: pd.DataFrame,
    gpu: pd.DataFrame | None,
    wall_s: float,
    wall_start: float,
    gpu_status: str,
    device: str,
    device_name: str,
    recorder_s: float,
    cpu_s: float | None = None,
    efficiency_status: str = "not compared with a curve",
) -> RunSummary:
    """A run's summary from its tables and what measured it; its measurer adds to `extra`.

    Args:
        gpu: the NVML samples (None or empty: none were taken; `gpu_status` says why).
        wall_start: the perf_counter reading the calls' start_s/end_s are on, at the run's start.
        recorder_s: what the recorder spent on itself, part of `wall_s`.
        cpu_s: the process's CPU seconds (all its threads) over `wall_s` (None: not measured).
    """
    metrics = summarize(calls=calls, moves=moves, games=games, wall_s=wall_s, wall_start=wall_start)
    return RunSummary.from_dict({  # a metric `summarize` adds without a typed field lands in `extra`
        **metrics,
        "gpu_util_mean": float(gpu["util_pct"].mean()) if gpu is not None and len(gpu) else None,
        "gpu_status": gpu_status,
        "peak_rss_mb": peak_rss_mb(),
        "device": device,
        "device_name": device_name,
        "recorder_s": recorder_s,
        "recorder_share": recorder_s / wall_s if wall_s > 0 else None,
        "efficiency_status": efficiency_status,
        "cpu_cores_used": cores_used(cpu_s, wall_s),
    })


def cores_used(cpu_s: float | None, wall_s: float) -> float | None:
    """CPU seconds over wall seconds: how many cores the run got (None when not measured)."""
    return cpu_s / wall_s if cpu_s is not None and wall_s > 0 else None
