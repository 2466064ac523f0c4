"""Issue 12 §3: the highest sim peak that crossgame keeps >= 85% device-busy on `reference`.

Writes the paper (H100-shaped) reference curve slowed by each factor k (every latency x k, so
the peak boards/s / k) as a `sim:FILE` curve, then plays crossgame on it in each configuration,
alternating configurations and repeats, and reads `device_busy_share` from `bench --json`.
A configuration stops once the median busy share of its repeats at a factor is >= 0.85 (a
slower curve only keeps it busier). SIMULATED device times: nothing here is a GPU measurement.

    python data/results/2026-11-25-sim-feeding/sweep.py [--games 16] [--repeats 2] [--configs NAME ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = {
    "in-process": [],
    "inflight2": ["--inflight", "2", "--groups", "2"],
    "workers1": ["--workers", "1"],
    "workers2": ["--workers", "2"],
}
FACTORS = [1, 2, 4, 8, 16, 32]
TARGET = 0.85


def scaled_curve(factor: float) -> tuple[Path, float]:
    """The paper reference curve with every latency x `factor`; (its file, its peak boards/s)."""
    from perfkit.devices.sim import paper_curve
    from perfkit.model import build_model
    from perfkit.types import get_preset

    model = build_model(get_preset("reference"), seed=0)
    curve = paper_curve(tuple(model.obs_shape), model.actions, model.blocks, model.channels)
    data = curve.to_dict()
    for p in data["points"]:
        p["call_s"] = [s * factor for s in p["call_s"]]
    data["label"] = f"sim: paper reference curve x{factor:g} slower (simulated)"
    path = HERE / "curves" / f"reference_x{factor:g}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path, curve.peak_boards_per_s / factor


def bench(curve: Path, extra: list[str], games: int) -> dict:
    with tempfile.TemporaryDirectory() as runs:  # the summary is all we keep
        cmd = [sys.executable, "-m", "perfkit", "bench", "--device", f"sim:{curve}", "--preset", "reference",
               "--strategy", "crossgame", "--games", str(games), "--threads", "1", "--no-progress", "--out", runs,
               "--json", *extra]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["runs"][0]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--games", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS))
    ap.add_argument("--factors", type=float, nargs="*", default=FACTORS)
    ap.add_argument("--out", default=str(HERE / "sweep.csv"))
    args = ap.parse_args()
    rows, fed = [], {}
    Path(args.out).unlink(missing_ok=True)
    todo = list(args.configs)
    for factor in args.factors:
        if not todo:
            break
        path, peak = scaled_curve(factor)
        busy: dict[str, list[float]] = {c: [] for c in todo}
        for rep in range(args.repeats):
            order = todo if rep % 2 == 0 else todo[::-1]  # alternate, so drift hits every configuration alike
            for name in order:
                r = bench(path, CONFIGS[name], args.games)
                row = {"config": name, "factor": factor, "peak_boards_per_s": round(peak), "repeat": rep,
                       "device_busy_share": round(r["device_busy_share"], 4), "boards_per_s": round(r["boards_per_s"]),
                       "mean_batch": round(r["mean_batch"], 1), "wall_s": round(r["wall_s"], 3),
                       "bottleneck": r["bottleneck"], "projected_days_500k": round(r["projected_days_500k"], 3),
                       "time": time.strftime("%H:%M:%S")}
                rows.append(row)
                with open(args.out, "a", newline="") as f:  # row by row: a stopped sweep keeps what it measured
                    w = csv.DictWriter(f, fieldnames=list(row))
                    if f.tell() == 0:
                        w.writeheader()
                    w.writerow(row)
                busy[name].append(r["device_busy_share"])
                print(json.dumps(row), flush=True)
        for name in list(todo):
            if statistics.median(busy[name]) >= TARGET:
                fed[name] = (factor, peak, statistics.median(busy[name]))
                todo.remove(name)
    print("\nhighest sim peak kept >= 85% busy (median of repeats):")
    for name in args.configs:
        if name in fed:
            factor, peak, b = fed[name]
            print(f"  {name}: x{factor:g} slower, peak {peak:,.0f} boards/s (busy {b:.0%})")
        else:
            print(f"  {name}: not reached up to x{args.factors[-1]:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
