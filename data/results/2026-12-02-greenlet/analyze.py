"""Read back the bench runs and the curve of run.sh: one row per run, and medians per variant.

    python analyze.py CURVES_DIR RUN_DIR...   -> tables on stdout, figures.json beside this file

Per run: moves/s; the network's mean batch (rows sent after the cache) and the scheduler's
(rows per call it gathered, before the cache answers some); live games per call (greenlet:
counted by the scheduler); the in-run forward in boards/s over the calls within ±20 % of the
network's mean batch, divided by the curve at that batch (log-linear between its points),
from the curve measured nearest in time to the run (run.sh measures one just before each
run: on a shared machine the load, and so the forward's speed, drifts within minutes).
"""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd


def curve_at(curve: dict, batch: float) -> float:
    """The curve's boards/s at `batch`, linear in log2(batch) between measured points."""
    pts = sorted((p["batch"], p["batch"] / float(np.median(p["call_s"]))) for p in curve["points"])
    xs = [math.log2(b) for b, _ in pts]
    return float(np.interp(math.log2(batch), xs, [r for _, r in pts]))


def when(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z").timestamp()


def row(run_dir: Path, curves: list[dict]) -> dict:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    curve = min(curves, key=lambda c: abs(when(c["measured_at"]) - when(manifest["started_at"])))
    calls = pd.read_parquet(run_dir / "calls.parquet")
    s, stats = manifest["summary"], manifest.get("strategy_stats", {})
    mean = float(calls["batch"].mean())
    near = calls[(calls["batch"] >= 0.8 * mean) & (calls["batch"] <= 1.2 * mean)]
    in_run = float(near["batch"].sum() / near["forward_s"].sum())
    wall = s["wall_s"]
    user, system = ((run_dir / "process_cpu.txt").read_text().split() + ["nan", "nan"])[:2]
    return {
        "run": run_dir.name, "variant": run_dir.parent.name, "started_at": manifest["started_at"],
        "commit": manifest["environment"].get("git_commit"), "moves": s["moves"], "moves_per_s": s["moves_per_s"],
        "net_mean_batch": mean, "server_rows_per_call": stats["rows"] / stats["calls"],
        "live_per_call": stats.get("live_per_call"), "fired": stats.get("fired"),
        "in_run_fwd_boards_s": in_run, "curve_boards_s": curve_at(curve, mean),
        "in_run_over_curve": in_run / curve_at(curve, mean),
        "forward_share": float(calls["forward_s"].sum() / wall),
        # The CPU side: wall less the forward; with the forward free, moves/s could reach at most this.
        "cpu_bound_moves_per_s": s["moves"] / (wall - float(calls["forward_s"].sum())),
        # CPU seconds per move, the whole bench process (start-up included; run.sh's `time`): what a
        # move costs the machine, which the load of other sessions changes far less than moves/s.
        "cpu_ms_per_move": 1e3 * (float(user) + float(system)) / s["moves"],
        "in_run_cpu_ms_per_move": 1e3 * s["process_cpu_s"] / s["moves"] if s.get("process_cpu_s") else None,
    }


def main(curves_dir: str, *run_dirs: str) -> None:
    curves = [json.loads(p.read_text()) for p in sorted(Path(curves_dir).rglob("*.json"))]
    rows = [row(Path(d), curves) for d in run_dirs]
    table = pd.DataFrame(rows)
    cols = ["moves_per_s", "net_mean_batch", "server_rows_per_call", "live_per_call", "in_run_fwd_boards_s",
            "curve_boards_s", "in_run_over_curve", "forward_share", "cpu_bound_moves_per_s", "cpu_ms_per_move",
            "in_run_cpu_ms_per_move"]
    med = table.groupby("variant")[cols].median()
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.precision", 3):
        print(table[["variant", "run", *cols]].to_string(index=False))
        print()
        print(med.to_string())
    out = Path(__file__).with_name("figures.json")
    figures = json.loads(out.read_text()) if out.exists() else {}
    figures[Path(run_dirs[0]).parent.parent.parent.name] = {"runs": rows, "medians": med.reset_index().to_dict("records")}
    out.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main(*sys.argv[1:])
