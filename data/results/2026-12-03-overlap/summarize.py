"""pairs.jsonl (written by run.sh) as a table. Ratios are taken within each round (the systems of one round ran
back to back) and then their median over rounds; mctx's rate in a round is the median of its two timed stream
rounds, and "mctx best" is the better of B = 64 and 256 in that round. Efficiency is perfkit's (boards/s ÷ the
curve's peak, same thread count); "÷ curve at mean batch" divides by the curve's boards/s at the run's mean batch.
Usage: python data/results/2026-12-03-overlap/summarize.py SET  (SET: vs-prev or steady, a folder here holding the
pairs and the curves run.sh measured; the table it prints is kept as SET/table.md)"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from perfkit.types import load_curve

here = Path(__file__).parent / (sys.argv[1] if len(sys.argv) > 1 else "steady")
curves = {t: load_curve(next((here / "curves" / f"t{t}").glob("*.json"))) for t in (1, 2)}
rows = [json.loads(line) for line in (here / "pairs.jsonl").read_text().splitlines() if line.strip()]
rate: dict[str, dict[str, float]] = defaultdict(dict)  # system -> round -> moves/s
samples: dict[tuple[str, str], list[float]] = defaultdict(list)
extra: dict[str, list[dict]] = defaultdict(list)
for r in rows:
    if r.get("moves_per_s"):
        samples[(r["what"], r["pair"])].append(r["moves_per_s"])
        extra[r["what"]].append(r)
        threads = 2  # every perfkit row runs concurrent single-thread forwards on the two cores
        if r["what"].startswith("perfkit") and r.get("mean_batch"):
            c = curves[threads]
            r["vs_curve_at_batch"] = r["boards_per_s"] / (r["mean_batch"] / c.latency_s(r["mean_batch"]))
for (what, pair), v in samples.items():
    rate[what][pair] = statistics.median(v)
best = {p: max(rate["mctx-64"].get(p, 0), rate["mctx-256"].get(p, 0)) for p in rate.get("mctx-64", {})}


def ratio(what: str, base: dict[str, float]) -> str:
    r = [rate[what][p] / base[p] for p in rate[what] if base.get(p)]
    return f"{statistics.median(r):.2f}x" if r else "n/a"


def fig(what: str, key: str, fmt: str = "{:.2f}") -> str:
    values = [r[key] for r in extra[what] if isinstance(r.get(key), (int, float))]
    return fmt.format(statistics.median(values)) if values else "n/a"


print("| system | moves/s per round | median | vs mctx best (same round) | vs prev g2i2 (same round) | vs MCTSBot "
      "(same round) | mean batch | forward share | efficiency | ÷ curve at mean batch | CPU cores used | boards sent per move |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for what in rate:
    per_round = ", ".join(f"{v:.1f}" for _, v in sorted(rate[what].items()))
    print(f"| {what} | {per_round} | {statistics.median(rate[what].values()):.1f} | {ratio(what, best)} | "
          f"{ratio(what, rate.get('prev-512-g2i2', {}))} | {ratio(what, rate.get('mctsbot', {}))} | "
          f"{fig(what, 'mean_batch', '{:.1f}')} | {fig(what, 'forward_share')} | {fig(what, 'efficiency')} | "
          f"{fig(what, 'vs_curve_at_batch')} | {fig(what, 'cpu_cores_used')} | {fig(what, 'boards_per_move', '{:.1f}')} |")
for t, c in curves.items():
    print(f"\ncurve, {t} thread{'s' if t > 1 else ''}: peak {c.peak_boards_per_s:,.0f} boards/s at batch {c.best_batch}")
loads = [r["loadavg_1_5_15"][0] for r in rows if "loadavg_1_5_15" in r]
print(f"\nload average (1 min) at the end of each run: {min(loads):.1f} to {max(loads):.1f}")
