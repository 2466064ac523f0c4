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
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=False))  # noqa: E731
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
    for r in runs:
        status = r.summary.get("efficiency_status") or ""
        if "above 1" in status:
            out.append(f"{r.manifest['strategy']} efficiency: {status}")
    if all(r.summary.get("efficiency") is None for r in runs) and runs[0].summary.get("efficiency_status"):
        out.append(f"efficiency n/a: {runs[0].summary['efficiency_status']}")
    gpu = runs[0].summary.get("gpu_status")
    if gpu and gpu != "measured":
        out.append(f"gpu utilisation: {gpu}")
    if len(runs) > 1:
        digests = {r.summary.get("game_digest") for r in runs}
        same = "yes" if len(digests) == 1 else "NO"
        line = f"same games across strategies: {same} (digest {sorted(d or '' for d in digests)[0][:12]})"
        if same == "NO" and s["precision"] != "float64":
            line += (
                f"; {s['precision']} rounding depends on batch composition and flips near-tied choices"
                " - --precision float64 plays identical games"
            )
        out.append(line)
    for r in runs:
        if r.path is not None:
            out.append(f"{r.manifest['strategy']}: {r.path}")
    return "\n".join(out)


def render_curve(curve) -> str:
    """A `perfkit curve`: cost per call and throughput by batch size, the peak, how it stopped."""
    header = ["batch", "ms/call", "IQR ms", "forward ms", "boards/s", "repeats", "calls/repeat", ""]
    rows = [
        [
            f"{p.batch:g}", f"{1e3 * p.median_s:.3f}", f"{1e3 * p.iqr_s:.3f}",
            fmt(None if p.forward_median_s is None else 1e3 * p.forward_median_s, "{:.3f}"),
            f"{p.boards_per_s:,.0f}", str(len(p.call_s)), str(p.calls_per_repeat), "noisy" if p.noisy else "",
        ]
        for p in curve.points
    ]
    out = [
        f"{curve.label}: {curve.describe()} ({curve.device})",
        render_table(rows, header),
        f"peak {curve.peak_boards_per_s:,.0f} boards/s at batch {curve.best_batch:g}; stopped: {curve.stopped_by}",
    ]
    if any(p.noisy for p in curve.points):
        out.append("noisy: IQR above 10% of the median (a busy machine?); measure again for firm numbers")
    if curve.note:
        out.append(f"note: {curve.note}")
    if curve.path is not None:
        out.append(f"saved {curve.path}")
    return "\n".join(out)


def render_projection(p: dict) -> str:
    """`perfkit project`: measured days, the what-if replay, the seed's figure, each labelled."""
    devices = f"{p['devices']} device{'s' if p['devices'] > 1 else ''}"
    header = ["", "games/s per device", f"days for {p['games']:,} games ({devices})", "interval"]
    rows = []
    for key in ("measured", "what_if", "seed_reported"):
        r = p.get(key)
        if r is None:
            continue
        interval = (
            f"[{r['days_low']:.2f}, {r['days_high']:.2f}]" if r.get("days_low") is not None else "n/a"
        )
        rows.append([r["label"], fmt(r["games_per_s"], "{:.4g}"), fmt(r["days"], "{:,.2f}"), interval])
    out = [f"run {p['run_dir']} ({p['strategy']})", render_table(rows, header)]
    w = p.get("what_if")
    if w is not None:
        out.append(
            f"what-if: network time {w['measured_call_s']:.2f} s measured -> {w['predicted_call_s']:.2f} s on "
            f"the curve; CPU side {w['cpu_s']:.2f} s carried over; wall {w['measured_wall_s']:.2f} s -> "
            f"{w['predicted_wall_s']:.2f} s"
        )
        out.append(
            "what-if assumes: batch sizes replayed as recorded, the CPU side as fast as here, no overlap of CPU "
            "and device work; interval = the measured one scaled by predicted/measured wall time"
        )
        if w.get("curve_note"):
            out.append(f"curve: {w['curve_note']}")
        if w.get("overlap_note"):
            out.append(f"warning: {w['overlap_note']}")
    out.append(f"{devices}: assumed to scale perfectly (each plays its own games)")
    return "\n".join(out)


def render_overhead(o: dict) -> str:
    """`perfkit bench --recorder-overhead`: wall time with recording on vs off, and self-timing."""
    on = ", ".join(f"{x:.2f}" for x in o["wall_on_s"])
    off = ", ".join(f"{x:.2f}" for x in o["wall_off_s"])
    return (
        f"{o['strategy']}: recording overhead {o['overhead']:+.1%} (median of {o['pairs']} on/off pairs, "
        f"range {o['overhead_min']:+.1%} to {o['overhead_max']:+.1%}); the recorder's own time "
        f"{o['recorder_share']:.2%} of wall\n  wall on: {on} s\n  wall off: {off} s"
    )
