"""The CPU-side ceiling: boards/s the search, game logic and batching sustain when the network is free.

`perfkit curve --cpu-side` plays crossgame on `--device sim:free` (outputs from the stand-in
network, no device time), in this process (one core) and with W worker processes feeding it.
On a GPU the network is cheap per board, so this is the most a device can be fed here: a
device whose curve peaks above it leaves the run bound by the CPU side.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from perfkit.measure.bench import BenchSettings, Workload, run_strategy
from perfkit.types import PerfkitError

FREE_DEVICE = "sim:free"


@dataclasses.dataclass(frozen=True)
class CeilingPoint:
    """What the CPU side sustained with `workers` processes (0: in this process, one core)."""

    preset: str
    workers: int
    games: int
    wall_s: float
    boards_per_s: float  # boards sent to the (free) network per second
    moves_per_s: float
    mean_batch: float

    @property
    def label(self) -> str:
        return "1 core (in-process)" if self.workers == 0 else f"{self.workers} workers"


def cpu_side_ceiling(
    settings: BenchSettings, *, workers: Sequence[int] = (0, 2), progress: bool = False
) -> list[CeilingPoint]:
    """Crossgame on a free network with each worker count in `workers`; one point each."""
    if not workers or any(w < 0 for w in workers):
        raise PerfkitError(f"workers must be counts >= 0, got {list(workers)}")
    points = []
    base = dataclasses.replace(settings, device=FREE_DEVICE, workers=None)
    workload = Workload.prepare(base)
    for w in workers:
        workload.settings = dataclasses.replace(base, workers=w or None)
        run = run_strategy("crossgame", workload, progress=progress)
        s = run.summary
        points.append(CeilingPoint(
            preset=settings.preset, workers=w, games=s["games"], wall_s=s["wall_s"], boards_per_s=s["boards_per_s"],
            moves_per_s=s["moves_per_s"], mean_batch=s["mean_batch"],
        ))
    return points


def render_ceiling(points: Sequence[CeilingPoint]) -> str:
    from perfkit.report.console import render_table

    rows = [[p.preset, p.label, f"{p.games}", f"{p.boards_per_s:,.0f}", f"{p.moves_per_s:,.1f}", f"{p.mean_batch:.1f}"]
            for p in points]
    table = render_table(rows, ["preset", "CPU side", "games", "boards/s", "moves/s", "mean batch"])
    return (
        f"{table}\nCPU-side ceiling: crossgame on a free network ({FREE_DEVICE}: stand-in outputs, no device time); "
        "a device whose curve peaks above these boards/s leaves the run bound by the CPU side"
    )
