"""Read back run.sh's runs: one JSON line per run (pairs.jsonl beside this file) and a markdown table.

    PYTHONPATH=ROOT python analyze.py OUT [OUT2 ...] > table.md

Every run, whichever tree made it, is measured here the same way, with this tree's code: its
forward against the curve measured just before it (`forward_vs_curve_fields`: at the run's
mean batch, median calls; and every call's time, stalls included), Amdahl's bound
(`cpu_side_cap`), and how full its calls were of the games live (`games_fill`, counted by the
scheduler; today's thread server did not count it: n/a).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from perfkit.analysis.bottleneck import cpu_side_cap
from perfkit.instrument.run import load_run
from perfkit.measure.engine_curve import forward_vs_curve_fields
from perfkit.types import load_curve

VARIANTS = ("greenlet", "threads", "greenlet-w2", "threads-w2", "today")


def row(tag: str, run_dir: Path, curves_dir: Path) -> dict:
    run = load_run(run_dir)
    (curve_path,) = sorted(curves_dir.glob("*.json"))
    fwd = forward_vs_curve_fields(run, load_curve(curve_path), "")
    s, stats = run.summary, run.manifest.get("strategy_stats", {})
    round_, variant = run_dir.parent.name.split("-", 1)
    load0, load1 = (run_dir / "loadavg.txt").read_text().split()
    return {
        "engine": tag, "round": int(round_[1:]), "variant": variant, "run": str(run_dir),
        "started_at": run.manifest["started_at"], "commit": run.manifest["environment"].get("git_commit"),
        "load_before": float(load0), "load_after": float(load1),
        "games": s["games"], "game_digest": s.get("game_digest"), "moves": s["moves"], "wall_s": s["wall_s"], "moves_per_s": s["moves_per_s"],
        "mean_batch": s["mean_batch"], "rows_per_call": stats["rows"] / stats["calls"],
        # the summary's (null with worker processes: their games are not counted in the device process)
        "live_per_call": s.get("live_per_call"), "games_fill": s.get("games_fill"),
        "fired": stats.get("fired"),
        "forward_boards_per_s": fwd["forward_boards_per_s"], "curve_forward_boards_per_s": fwd["curve_forward_boards_per_s"],
        "forward_vs_curve": fwd["forward_vs_curve"], "forward_vs_curve_all": fwd["forward_vs_curve_all"],
        "forward_path": run.manifest["network"].get("forward", "eager (today: no trace)"),
        "curve": str(curve_path), "curve_peak_boards_per_s": load_curve(curve_path).peak_boards_per_s,
        **cpu_side_cap(s),
        "process_cpu_ms_per_move": 1e3 * s["process_cpu_s"] / s["moves"] if s.get("process_cpu_s") else None,
    }


def fmt(v: object, spec: str) -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else spec.format(v)


COLS = [("moves_per_s", "moves/s", "{:.1f}"), ("mean_batch", "mean batch", "{:.1f}"), ("rows_per_call", "rows/call", "{:.1f}"),
        ("live_per_call", "live/call", "{:.1f}"), ("games_fill", "fill", "{:.2f}"),
        ("forward_boards_per_s", "in-run fwd b/s", "{:,.0f}"), ("curve_forward_boards_per_s", "curve b/s", "{:,.0f}"),
        ("forward_vs_curve", "fwd ÷ curve", "{:.2f}"), ("forward_vs_curve_all", "÷ curve, all calls", "{:.2f}"),
        ("cpu_side_cap_moves_per_s", "Amdahl cap moves/s", "{:.0f}"), ("network_wall_share", "network % wall", "{:.0%}"),
        ("process_cpu_ms_per_move", "CPU ms/move", "{:.1f}"), ("load_before", "load", "{:.1f}")]


def table(rows: list[dict], tag: str) -> list[str]:
    mine = [r for r in rows if r["engine"] == tag]
    head = "| variant | round | " + " | ".join(t for _, t, _ in COLS) + " |"
    out = [head, "|" + "---|" * (len(COLS) + 2)]
    for r in sorted(mine, key=lambda r: (VARIANTS.index(r["variant"]), r["round"])):
        out.append(f"| {r['variant']} | {r['round']} | " + " | ".join(fmt(r[k], f) for k, _, f in COLS) + " |")
    out += ["", "Medians:", "", head.replace("| round ", "| runs "), out[1]]
    today = [r["moves_per_s"] for r in mine if r["variant"] == "today"]
    for v in VARIANTS:
        rs = [r for r in mine if r["variant"] == v]
        if not rs:
            continue
        med = {k: (float(np.median(vals)) if (vals := [r[k] for r in rs if r[k] is not None]) else None) for k, _, _ in COLS}
        out.append(f"| {v} | {len(rs)} | " + " | ".join(fmt(med[k], f) for k, _, f in COLS) + " |")
    ratios = {}
    for v in VARIANTS[:-1]:
        rs = [r["moves_per_s"] for r in mine if r["variant"] == v]
        if rs and today:
            ratios[v] = float(np.median(rs)) / float(np.median(today))
    out += ["", "Moves/s vs today (medians): " + ", ".join(f"{v} {x:.2f}x" for v, x in ratios.items())]
    return out


def main(*out_dirs: str) -> None:
    """Each OUT of run.sh is one pass (its variants alternated with each other); a later pass's
    engines are named ENGINE@OUT, so each table compares runs of one pass only."""
    rows: list[dict] = []
    for k, out in enumerate(map(Path, out_dirs)):
        for tag_dir in sorted(p for p in out.iterdir() if p.is_dir()):
            tag = tag_dir.name if k == 0 else f"{tag_dir.name}@{out.name}"
            for variant_dir in sorted((tag_dir / "runs").iterdir()):
                for run_dir in sorted(p for p in variant_dir.iterdir() if (p / "manifest.json").exists()):
                    rows.append(row(tag, run_dir, tag_dir / "curves" / variant_dir.name))
    Path(__file__).with_name("pairs.jsonl").write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
    for tag in dict.fromkeys(r["engine"] for r in rows):
        print(f"### {tag}\n")
        print("\n".join(table(rows, tag)))
        print()


if __name__ == "__main__":
    main(*sys.argv[1:])
