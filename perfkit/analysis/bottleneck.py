"""Which side bounds a run: the device, the CPU side, or batching — with the figures that show it.

- **device busy share**: Σ (forward + transfer) / wall, the share of the run the device was
  working (on `sim`, its modelled busy time; on the CPU, the network's share of the cores).
- **device**: busy ≥ 85% with calls large enough for the device: only a faster device, or
  fewer boards per move, makes it faster.
- **batching**: busy ≥ 85% but the calls are small: at the run's mean batch the device
  delivers under half of its peak boards/s (its curve says so), so fuller calls would help.
- **CPU side**: busy < 85%: the device waits for search, game logic and batching code; more
  workers, overlap (`--inflight 2`) or a faster search help, a faster device does not.
"""

from __future__ import annotations

from typing import Any

from perfkit.analysis.curve import Curve
from perfkit.types import RunSummary

DEVICE_BOUND_SHARE = 0.85  # device busy at least this share of the wall time: it bounds the run
SMALL_CALLS = 0.5  # the curve's boards/s at the run's mean batch below this share of its peak: batching


def batch_efficiency(mean_batch: float, curve: Curve | None) -> float | None:
    """The device's boards/s at `mean_batch` boards per call as a share of its peak (None: no curve)."""
    if curve is None or mean_batch <= 0:
        return None
    latency = float(curve.latency_s(mean_batch))
    if latency <= 0:
        return None
    return float(mean_batch / latency / curve.peak_boards_per_s)


def bottleneck_fields(summary: dict[str, Any], curve: Curve | None) -> dict[str, Any]:
    """`bottleneck`, its reason with the figures, `device_busy_share` and `batch_efficiency`."""
    forward, transfer = summary.get("forward_share"), summary.get("transfer_share")
    if forward is None:
        return {"bottleneck": None, "bottleneck_reason": "no calls recorded", "device_busy_share": None,
                "batch_efficiency": None}
    busy = forward + (transfer or 0.0)
    mean_batch = summary.get("mean_batch") or 0.0
    fill = batch_efficiency(mean_batch, curve)
    where = "modelled by the sim curve" if str(summary.get("device", "")).startswith("sim") else "measured"
    if busy >= DEVICE_BOUND_SHARE and curve is not None and fill is not None and fill < SMALL_CALLS:
        verdict = "batching"
        reason = (
            f"device busy {busy:.0%} of the wall time ({where}), but its calls average {mean_batch:.1f} boards, "
            f"where it gives {fill:.0%} of its peak {curve.peak_boards_per_s:,.0f} boards/s: fuller calls "
            "(more games in flight, --concurrency) would raise boards/s"
        )
    elif busy >= DEVICE_BOUND_SHARE:
        verdict = "device"
        fill_text = "" if fill is None else f", calls of {mean_batch:.1f} boards at {fill:.0%} of its peak"
        reason = (
            f"device busy {busy:.0%} of the wall time ({where}){fill_text}: a faster device or fewer boards per "
            "move help; more CPU does not"
        )
    else:
        verdict = "cpu side"
        reason = (
            f"device busy {busy:.0%} of the wall time ({where}): it waits {1 - busy:.0%} of the time for the CPU side "
            f"(search, game logic, batching; mean batch {mean_batch:.1f}): more workers, --inflight 2 or a faster "
            "search help; a faster device does not"
        )
    return {"bottleneck": verdict, "bottleneck_reason": reason, "device_busy_share": busy, "batch_efficiency": fill}


def cpu_side_cap(summary: dict[str, Any]) -> dict[str, float | None]:
    """Amdahl's bound of a run: the moves/s its CPU side allows with a free network.

    The CPU side is the wall time outside network calls (the engine's search, game logic,
    perfkit's batching and cache): even if every call took no time, moves/s could not pass
    moves ÷ that time. Exact when the calls and the search take turns (the greenlet
    scheduler, naive); an upper bound when they overlap (threads).
    """
    outside, moves, wall = summary.get("outside_network_share"), summary.get("moves"), summary.get("wall_s")
    if outside is None or not moves or not wall or outside <= 0:
        return {"cpu_side_cap_moves_per_s": None, "network_wall_share": None}
    return {"cpu_side_cap_moves_per_s": moves / (wall * outside), "network_wall_share": 1.0 - outside}


def cpu_side_line(strategy: str, summary: RunSummary | dict[str, Any]) -> str | None:
    """The console's Amdahl line for a run (None without the figures)."""
    cap, share = summary.get("cpu_side_cap_moves_per_s"), summary.get("network_wall_share")
    if cap is None or share is None:
        return None
    return (
        f"{strategy}: your search's CPU side caps this run at {cap:,.0f} moves/s here (it made "
        f"{summary.get('moves_per_s'):,.0f}); the network is {share:.0%} of wall"
    )


def engine_run_lines(strategy: str, summary: RunSummary | dict[str, Any]) -> list[str]:
    """The console's lines on an engine run's batches and forward: how full its calls were of the
    games live, and its forward against the curve's at its mean batch (or why that is unavailable)."""
    out = []
    fill, live = summary.get("games_fill"), summary.get("live_per_call")
    if fill is not None and live is not None:
        out.append(f"{strategy}: calls carried {fill:.0%} of the games live when they fired "
                   f"({live:.1f} live per call on average)")
    status, path = summary.get("forward_vs_curve_status"), summary.get("forward_path")
    ratio, in_run, at = (summary.get(k) for k in ("forward_vs_curve", "forward_boards_per_s", "curve_forward_boards_per_s"))
    how = f" [forward {path}]" if path else ""
    if ratio is not None and in_run is not None and at is not None:
        every = summary.get("forward_vs_curve_all")
        out.append(f"{strategy}: forward in the run {in_run:,.0f} boards/s at mean batch {summary.get('mean_batch', 0):.1f} "
                   f"(median call) = {ratio:.2f} of the curve's {at:,.0f} at that batch"
                   + (f"; every call's time, stalls included: {every:.2f}" if every is not None else "") + how)
    elif status:
        out.append(f"{strategy}: forward in the run vs the curve: {status}{how}")
    return out
