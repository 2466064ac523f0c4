"""efficiency.jsonl (efficiency.sh) as figures: each run's boards/s ÷ the forward's limit at batch 152 (its mean
batch is 152.1) with 2 and with 3 calls at once, the limit the median of the measurements before and after it.
Usage: python data/results/2026-12-03-overlap/efficiency.py"""

import json
import statistics
from pathlib import Path

rows = [json.loads(line) for line in (Path(__file__).parent / "steady" / "efficiency.jsonl").read_text().splitlines()]
for pair in sorted({r["pair"] for r in rows}):
    run = next(r for r in rows if r["pair"] == pair and r["what"].startswith("perfkit"))
    out = [f"pair {pair}: {run['moves_per_s']:.1f} moves/s, {run['boards_per_s']:,.0f} boards/s at mean batch "
           f"{run['mean_batch']:.1f}, forward share {run['forward_share']:.2f}"]
    for n in (1, 2, 3):
        limits = [r["boards_per_s"] for r in rows if r["pair"] == pair and r["what"].startswith("limit")
                  and r["batch"] == 152 and r["calls_at_once"] == n]
        limit = statistics.median(limits)
        out.append(f"{n} call{'s' if n > 1 else ''} at once: limit {limit:,.0f} ({', '.join(f'{x:,.0f}' for x in limits)}),"
                   f" efficiency {run['boards_per_s'] / limit:.2f}")
    print("; ".join(out))
