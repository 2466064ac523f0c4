"""Medians of the alternating pairs in pairs.jsonl (written by run.sh), as a markdown table."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

here = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
rows = [json.loads(line) for line in (here / "pairs.jsonl").read_text().splitlines() if line.strip()]
mctx = [r for r in rows if r.get("what") == "mctx-stream" and not str(r.get("pair")).startswith("no-reuse")]
systems = {"mctx + pgx, B = 64, stream": [r["moves_per_s"] for r in mctx]}
details = {"mctx + pgx, B = 64, stream": "51 boards/move (no cache, terminal leaves included), batch 64"}
for inflight in (64, 256):
    runs = [r for r in rows if r.get("what") == "perfkit-crossgame" and r["in_flight"] == inflight]
    if not runs:
        continue
    name = f"perfkit crossgame, {inflight} games in flight"
    systems[name] = [r["moves_per_s"] for r in runs]
    med = {k: statistics.median(r[k] for r in runs if r.get(k) is not None)
           for k in ("boards_per_move", "mean_batch", "forward_share", "cache_hit_share")}
    eff = [r["efficiency"] for r in runs if r.get("efficiency") is not None]
    # efficiency at the run's own mean batch: boards/s over the curve's boards/s at that batch
    at_batch = [r["efficiency"] / r["batch_efficiency"] for r in runs if r.get("efficiency") and r.get("batch_efficiency")]
    details[name] = (f"{med['boards_per_move']:.1f} boards/move sent, mean batch {med['mean_batch']:.1f}, "
                     f"forward {med['forward_share']:.0%} of wall, cache hits {med['cache_hit_share']:.0%}"
                     + (f", efficiency {statistics.median(eff):.2f} of the curve's peak" if eff else "")
                     + (f", {statistics.median(at_batch):.2f} at its mean batch" if at_batch else ""))
reuse_off = [r for r in rows if r.get("what") == "perfkit-crossgame-no-reuse"]
if reuse_off:
    name = "perfkit crossgame, 256 games in flight, --no-reuse (own pairs)"
    systems[name] = [r["moves_per_s"] for r in reuse_off]
    details[name] = (f"{statistics.median(r['boards_per_move'] for r in reuse_off):.1f} boards/move sent, mean batch "
                     f"{statistics.median(r['mean_batch'] for r in reuse_off):.1f}, forward "
                     f"{statistics.median(r['forward_share'] for r in reuse_off):.0%} of wall; its pairs' mctx: "
                     + ", ".join(f"{r['moves_per_s']:.1f}" for r in rows
                                 if r.get("what") == "mctx-stream" and str(r.get("pair")).startswith("no-reuse")))
    own_base = {name: statistics.median(r["moves_per_s"] for r in rows
                                        if r.get("what") == "mctx-stream" and str(r.get("pair")).startswith("no-reuse"))}
else:
    own_base = {}
base = statistics.median(systems["mctx + pgx, B = 64, stream"]) if mctx else None
print("| system | moves/s per pair | median | vs mctx | per move |")
print("|---|---|---|---|---|")
for name, values in systems.items():
    med = statistics.median(values)
    against = own_base.get(name, base)  # a row with its own pairs is compared with their mctx
    ratio = f"{med / against:.2f}x" if against else "n/a"
    print(f"| {name} | {', '.join(f'{v:.1f}' for v in values)} | {med:.1f} | {ratio} | {details[name]} |")
loads = [r["loadavg_1_5_15"][0] for r in rows if "loadavg_1_5_15" in r]
if loads:
    print(f"\nload average (1 min) during the pairs: {min(loads):.1f} to {max(loads):.1f} on 2 cores")

forward_file = here / "forward.jsonl"
if forward_file.exists():
    fwd = [json.loads(line) for line in forward_file.read_text().splitlines() if line.strip()]
    jax = {}
    torch = {}
    for r in fwd:
        if r.get("what") == "jax-forward":
            jax.setdefault(int(r["batch"]), []).append(r["boards_per_s"])
        elif r.get("what") == "torch-curve":
            for batch, rate in r["boards_per_s"].items():
                torch.setdefault(int(batch), []).append(rate)
    print("\n| batch | XLA forward boards/s (anchor) | torch forward boards/s (perfkit curve) | torch / XLA |")
    print("|---|---|---|---|")
    for batch in sorted(set(jax) & set(torch)):
        j, t = statistics.median(jax[batch]), statistics.median(torch[batch])
        print(f"| {batch} | {j:,.0f} | {t:,.0f} | {t / j:.2f} |")
