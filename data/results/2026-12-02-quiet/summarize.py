"""pairs.jsonl (written by run.sh) as a table: per system the moves/s of each round (mctx: the median of its two
timed stream rounds), the median over rounds, ratios, and the run's own figures (medians over rounds).
Usage: python data/results/2026-12-02-quiet/summarize.py"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

rows = [json.loads(line) for line in (Path(__file__).parent / "pairs.jsonl").read_text().splitlines() if line.strip()]
rates: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
extra: dict[str, list[dict]] = defaultdict(list)
for r in rows:
    if r.get("moves_per_s"):
        rates[r["what"]][r["pair"]].append(r["moves_per_s"])
        extra[r["what"]].append(r)
med = {k: statistics.median(statistics.median(v) for v in by_round.values()) for k, by_round in rates.items()}


def fig(what: str, key: str, fmt: str = "{:.2f}") -> str:
    values = [r[key] for r in extra[what] if isinstance(r.get(key), (int, float))]
    return fmt.format(statistics.median(values)) if values else "n/a"


print("| system | moves/s per round | median | vs mctx + pgx | vs MCTSBot today | mean batch | forward share | "
      "CPU cores used | boards sent per move | games fill | in-run forward ÷ curve |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for what in rates:
    per_round = ", ".join(f"{statistics.median(v):.1f}" for _, v in sorted(rates[what].items()))
    vs_mctx = med[what] / med["mctx-xla-default-threads"] if "mctx-xla-default-threads" in med else float("nan")
    vs_today = med[what] / med["mctsbot-today"] if "mctsbot-today" in med else float("nan")
    print(f"| {what} | {per_round} | {med[what]:.1f} | {vs_mctx:.2f}x | {vs_today:.2f}x | {fig(what, 'mean_batch', '{:.1f}')} | "
          f"{fig(what, 'forward_share')} | {fig(what, 'cpu_cores_used')} | {fig(what, 'boards_per_move', '{:.1f}')} | "
          f"{fig(what, 'games_fill')} | {fig(what, 'forward_vs_curve')} |")
loads = [r["loadavg_1_5_15"][0] for r in rows if "loadavg_1_5_15" in r]
print(f"\nload average (1 min) at the end of each run: {min(loads):.1f} to {max(loads):.1f}")
