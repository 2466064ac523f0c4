"""cpu-cuts/pairs.jsonl (written by run.sh) as a markdown table: per system the moves/s of each pair,
the median, the ratio to mctx's best median, and moves per core-second (moves/s / cpu_cores_used,
the steadier figure on a shared machine). Usage: python summarize.py [DIR]."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

here = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent)
rows = [json.loads(line) for line in (here / "pairs.jsonl").read_text().splitlines() if line.strip()]
rows = [r for r in rows if "moves_per_s" in r]  # the anchor's version lines carry no rate


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def per_pair(runs):
    """One figure per pair: the median of its runs (the anchor times 2 rounds per run)."""
    pairs = sorted({r["pair"] for r in runs})
    return [med(r["moves_per_s"] for r in runs if r["pair"] == p) for p in pairs]


systems = [("mctx + pgx, B = 64, stream", "mctx", 64), ("mctx + pgx, B = 256, stream", "mctx", 256),
           ("perfkit crossgame, 64 in flight", "perfkit-crossgame", 64),
           ("perfkit crossgame, 256 in flight", "perfkit-crossgame", 256),
           ("perfkit crossgame before the cuts (13d784e), 256 in flight", "perfkit-crossgame-before", 256)]
table = {}
for name, what, inflight in systems:
    runs = [r for r in rows if r["what"] == what and r["in_flight"] == inflight]
    if runs:
        table[name] = runs
best_mctx = max((med(per_pair(runs)) for name, runs in table.items() if name.startswith("mctx")), default=None)
best_mctx_core = max((med([r["moves_per_s"] / r["cpu_cores_used"] for r in runs if r.get("cpu_cores_used")])
                      for name, runs in table.items() if name.startswith("mctx")), default=None)
print("| system | moves/s per pair | median | vs mctx's best | moves per core-second (median) | vs mctx's best | "
      "boards/move sent | mean batch | forward share | efficiency (peak / at its mean batch) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name, runs in table.items():
    pairs = per_pair(runs)
    m = med(pairs)
    core = med([r["moves_per_s"] / r["cpu_cores_used"] for r in runs if r.get("cpu_cores_used")])
    if name.startswith("mctx"):
        extra = "51 (no cache, terminal leaves included) | " + str(runs[0]["batch"]) + " | ~98% (the anchor's README) | n/a"
    else:
        eff = med(r.get("efficiency") for r in runs)
        at = med([r["efficiency"] / r["batch_efficiency"] for r in runs if r.get("efficiency") and r.get("batch_efficiency")])
        extra = (f"{med(r['boards_per_move'] for r in runs):.1f} | {med(r['mean_batch'] for r in runs):.1f} | "
                 f"{med(r['forward_share'] for r in runs):.0%} | "
                 + (f"{eff:.2f} / {at:.2f}" if eff is not None and at is not None else "n/a"))
    print(f"| {name} | {', '.join(f'{v:.1f}' for v in pairs)} | {m:.1f} | {m / best_mctx:.2f}x | "
          + (f"{core:.0f} | {core / best_mctx_core:.2f}x" if core else "n/a | n/a") + f" | {extra} |")
loads = [r["loadavg_1_5_15"][0] for r in rows]
print(f"\nload average (1 min) at the end of each run: {min(loads):.1f} to {max(loads):.1f} on 2 cores")
