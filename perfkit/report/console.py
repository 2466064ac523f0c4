"""Console tables: a renderer of runs' summaries (it computes nothing)."""

from __future__ import annotations

from perfkit.instrument.run import Run

# (summary key, column title, format)
BENCH_COLUMNS = [
    ("games", "games", "{:d}"),
    ("moves", "moves", "{:d}"),
    ("calls", "calls", "{:d}"),
    ("boards", "boards", "{:d}"),
    ("calls_per_move", "calls/move", "{:.2f}"),
    ("mean_batch", "mean batch", "{:.1f}"),
    ("p50_batch", "p50 batch", "{:.0f}"),
    ("p95_batch", "p95 batch", "{:.0f}"),
    ("boards_per_s", "boards/s", "{:,.0f}"),
    ("moves_per_s", "moves/s", "{:.2f}"),
    ("games_per_s", "games/s", "{:.3f}"),
    ("wall_s", "wall s", "{:.2f}"),
    ("forward_share", "forward", "{:.0%}"),
    ("transfer_share", "transfer", "{:.0%}"),
    ("cpu_share", "cpu", "{:.0%}"),
    ("efficiency", "efficiency", "{:.0%}"),
    ("gpu_util_mean", "gpu util", "{:.0f}%"),
    ("speedup_vs_naive", "vs naive", "{:.2f}x"),
    ("projected_days_500k", "days/500k", "{:.1f}"),
]


def fmt(value, spec: str) -> str:
    if value is None:
        return "n/a"
    try:
        return spec.format(value)
    except (ValueError, TypeError):
        return str(value)


def render_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def render_bench(runs: list[Run]) -> str:
    """Strategies side by side (one row each), then the equivalence verdict and conditions."""
    header = ["strategy"] + [title for _, title, _ in BENCH_COLUMNS]
    rows = [[r.manifest["strategy"]] + [fmt(r.summary.get(k), f) for k, _, f in BENCH_COLUMNS] for r in runs]
    out = [render_table(rows, header)]
    env = runs[0].manifest["environment"]
    s = runs[0].manifest["settings"]
    net = runs[0].manifest["network"]
    out.append(
        f"preset {s['preset']} (board {net['board']}, {net['blocks']} blocks, {net['channels']} channels), "
        f"{s['precision']} on {env['device_name']} ({env['device']}), seed {s['seed']}"
    )
    gpu = runs[0].summary.get("gpu_status")
    if gpu and gpu != "measured":
        out.append(f"gpu utilisation: {gpu}")
    if len(runs) > 1:
        digests = {r.summary.get("game_digest") for r in runs}
        same = "yes" if len(digests) == 1 else "NO"
        out.append(f"same games across strategies: {same} (digest {sorted(d or '' for d in digests)[0][:12]})")
    for r in runs:
        if r.path is not None:
            out.append(f"{r.manifest['strategy']}: {r.path}")
    return "\n".join(out)
