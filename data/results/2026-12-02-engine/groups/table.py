"""pairs.jsonl -> the tables of table.md (python table.py [pairs.jsonl])."""

import json
import statistics
import sys
from pathlib import Path

rows = [json.loads(line) for line in Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("pairs.jsonl")).open()]
COLS = [("moves/s", "moves_per_s", "{:.1f}"), ("mean batch", "mean_batch", "{:.1f}"), ("fill", "games_fill", "{:.2f}"),
        ("live/call", "live_per_call", "{:.1f}"), ("calls", "calls", "{:,.0f}"), ("cores used", "cores", "{:.2f}"),
        ("Amdahl cap moves/s", "cpu_side_cap_moves_per_s", "{:.0f}"), ("network % wall", "network_wall_share", "{:.0%}"),
        ("load 1 min", "load", "{:.1f}")]
for r in rows:
    r["cores"] = r["process_cpu_s"] / r["wall_s"] if r.get("process_cpu_s") and r.get("wall_s") else None
    r["load"] = float(r["load_before"].split()[0])


def cell(fmt, value):
    return "n/a" if value is None or value != value else fmt.format(value)


head = "| variant | round | " + " | ".join(c for c, _, _ in COLS) + " | digest |"
print(head + "\n" + "|---" * (head.count("|") - 1) + "|")
for r in sorted(rows, key=lambda r: (r["variant"], r["round"])):
    print(f"| {r['variant']} | {r['round']} | " + " | ".join(cell(f, r.get(k)) for _, k, f in COLS) + f" | {r['game_digest'][:8]} |")
print("\nMedians:\n")
print("| variant | runs | " + " | ".join(c for c, _, _ in COLS) + " |\n" + "|---" * (len(COLS) + 2) + "|")
med = {}
for v in sorted({r["variant"] for r in rows}):
    got = [r for r in rows if r["variant"] == v]
    med[v] = {k: statistics.median([r[k] for r in got if r.get(k) is not None] or [float("nan")]) for _, k, _ in COLS}
    print(f"| {v} | {len(got)} | " + " | ".join(cell(f, med[v][k]) for _, k, f in COLS) + " |")
if "today" in med:
    print("\nMoves/s vs today (medians): " + ", ".join(
        f"{v} {med[v]['moves_per_s'] / med['today']['moves_per_s']:.2f}x" for v in med if v != "today"))
if "g1" in med and "g2" in med:
    print(f"2 groups vs 1 group (medians): {med['g2']['moves_per_s'] / med['g1']['moves_per_s']:.2f}x")
