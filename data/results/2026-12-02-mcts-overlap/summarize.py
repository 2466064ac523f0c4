"""pairs.jsonl and hex.jsonl (written by run.sh) as tables: per system and games in flight the moves/s of each
round (mctx: the median of its two timed stream rounds), the median over rounds, the ratio to mctx's best median
(either thread setting, either batch), and the medians of forward share, boards per move, mean batch, efficiency
and CPU cores used.  Usage: python data/results/2026-12-02-mcts-overlap/summarize.py"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).parent


def load(name: str) -> list[dict]:
    path = HERE / name
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def med(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def table(rows: list[dict], *, anchor: bool) -> None:
    rates: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    extra: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for r in rows:
        if r.get("moves_per_s"):
            rates[(r["what"], r["in_flight"])][r["pair"]].append(r["moves_per_s"])
            extra[(r["what"], r["in_flight"])].append(r)
    medians = {k: statistics.median(statistics.median(v) for v in by_round.values()) for k, by_round in rates.items()}
    best = max((v for (what, _), v in medians.items() if what.startswith("mctx")), default=None) if anchor else None
    print("| system | games in flight | moves/s per round | median | vs mctx's best | forward share | boards sent per move "
          "| mean batch | efficiency | CPU cores used |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted(rates, key=lambda k: (not k[0].startswith("mctx"), k[0], k[1])):
        what, n = key
        per_round = ", ".join(f"{statistics.median(v):.1f}" for _, v in sorted(rates[key].items()))
        rs = extra[key]
        fwd, bpm, mb, eff, cores = (med(rs, k) for k in ("forward_share", "boards_per_move", "mean_batch", "efficiency",
                                                          "cpu_cores_used"))
        mctx = what.startswith("mctx")
        print(f"| {what} | {n} | {per_round} | {medians[key]:.1f} | "
              f"{f'{medians[key] / best:.2f}x' if best else 'n/a'} | "
              f"{f'{100 * fwd:.0f} %' if fwd is not None else '~98 % (anchor README)'} | "
              f"{f'{bpm:.1f}' if bpm is not None else ('51' if mctx else 'n/a')} | "
              f"{f'{mb:.1f}' if mb is not None else (str(n) if mctx else 'n/a')} | "
              f"{f'{eff:.2f}' if eff is not None else 'n/a'} | {f'{cores:.2f}' if cores is not None else 'n/a'} |")
    loads = [r["loadavg_1_5_15"][0] for r in rows if "loadavg_1_5_15" in r]
    if loads:
        print(f"\nload average (1 min) at the end of each run: {min(loads):.1f} to {max(loads):.1f} "
              f"(median {statistics.median(loads):.1f})")


print("## Connect Four, perfkit crossgame against mctx + pgx (pairs.jsonl)\n")
table(load("pairs.jsonl"), anchor=True)
print("\n## Connect Four, 64 in flight without a device thread, beside mctx at B = 64 (pairs64.jsonl)\n")
table(load("pairs64.jsonl"), anchor=True)
print("\n## Connect Four, 256 in flight without a device thread, beside mctx at B = 256 (pairs256.jsonl)\n")
table(load("pairs256.jsonl"), anchor=True)
print("\n## Connect Four, 512 in flight, groups 1 first, then groups 2 + inflight 2 (order.jsonl)\n")
table(load("order.jsonl"), anchor=False)
print("\n## Connect Four, 512 in flight, groups 1, calls capped at 128 boards or not (cap.jsonl)\n")
table(load("cap.jsonl"), anchor=False)
print("\n## Hex on small (9x9), perfkit crossgame (hex.jsonl)\n")
table(load("hex.jsonl"), anchor=False)
