"""final-pairs/pairs.jsonl (written by run.sh) as a table: per system the moves/s of each round (mctx: the median
of its two timed stream rounds), the median over rounds, and the ratio to mctx's best median.
Usage: python data/results/2026-12-02-mcts/final-pairs/summarize.py"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

rows = [json.loads(line) for line in (Path(__file__).parent / "pairs.jsonl").read_text().splitlines() if line.strip()]
rates: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
extra: dict[tuple[str, int], list[dict]] = defaultdict(list)
for r in rows:
    if r.get("moves_per_s"):
        rates[(r["what"], r["in_flight"])][r["pair"]].append(r["moves_per_s"])
        extra[(r["what"], r["in_flight"])].append(r)
medians = {k: statistics.median(statistics.median(v) for v in by_round.values()) for k, by_round in rates.items()}
best_mctx = max(v for (what, _), v in medians.items() if what == "mctx")
print("| system | games in flight | moves/s per round | median | vs mctx's best | forward share | boards sent per move |")
print("|---|---|---|---|---|---|---|")
for key in sorted(rates):
    what, n = key
    per_round = ", ".join(f"{statistics.median(v):.1f}" for _, v in sorted(rates[key].items()))
    fwd = [r["forward_share"] for r in extra[key] if r.get("forward_share")]
    bpm = [r["boards_per_move"] for r in extra[key] if r.get("boards_per_move")]
    print(f"| {what} | {n} | {per_round} | {medians[key]:.1f} | {medians[key] / best_mctx:.2f}x | "
          f"{f'{100 * statistics.median(fwd):.0f} %' if fwd else '~98 % (anchor README)'} | "
          f"{f'{statistics.median(bpm):.1f}' if bpm else '51'} |")
loads = [r["loadavg_1_5_15"][0] for r in rows if "loadavg_1_5_15" in r]
print(f"\nload average (1 min) at the end of each run: {min(loads):.1f} to {max(loads):.1f}")
