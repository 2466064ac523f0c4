"""The peaks and mfu of run.sh's curves, one row per network and round."""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
print("| network | round | peak boards/s | at batch | boards/s at 256 | mfu at the peak | matmul peak GFLOP/s |")
print("|---|---|---|---|---|---|---|")
for net in ("eager", "folded", "compiled"):
    for path in sorted((HERE / "curves").glob(f"{net}-*.json")):
        d = json.loads(path.read_text())
        rates = {p["batch"]: p["batch"] / sorted(p["call_s"])[len(p["call_s"]) // 2] for p in d["points"]}
        best = max(rates, key=rates.get)
        roof = d["roofline"]
        print(f"| {net} | {path.stem.split('-')[1]} | {rates[best]:,.0f} | {best} | {rates.get(256, float('nan')):,.0f} | "
              f"{roof['mfu']:.0%} | {roof['peak_flop_per_s'] / 1e9:.1f} |")
