"""Console tables: a renderer of runs' summaries (it computes nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perfkit.analysis import metrics, tables
from perfkit.analysis.bottleneck import cpu_side_line, engine_run_lines
from perfkit.analysis.compare import Comparison
from perfkit.analysis.metrics import Metric
from perfkit.instrument.run import Run
from perfkit.types import Curve, RunSummary


def fmt(value: object, spec: str) -> str:
    if value is None:
        return "n/a"
    try:
        return spec.format(value)
    except (ValueError, TypeError):
        return str(value)


def json_entry(run: Run) -> dict[str, Any]:
    """A run as `bench --json` prints it: its strategy, its summary (`RunSummary`'s JSON form, with what
    bench added after it was finished, as stored in the manifest) and its directory."""
    return {"strategy": run.manifest["strategy"], **run.summary, "run_dir": str(run.path) if run.path else None}


def render_table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]

    def line(cells: Sequence[object]) -> str:
        return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=False))

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def bench_cell(s: RunSummary, m: Metric) -> str:
    """A metric's cell: its value, with its interval ("1.2 [1.0, 1.5]") or its spread over repeats ("3.1 ±4%")."""
    cell = fmt(s.get(m.key), m.fmt)
    if m.interval is not None and s.get(m.key) is not None:
        lo, hi = (s.get(k) for k in m.interval)
        return f"{cell} [{fmt(lo, m.fmt)}, {fmt(hi, m.fmt)}]" if lo is not None and hi is not None else cell
    spread = s.get(f"{m.key}_spread")
    return cell if spread is None else f"{cell} ±{spread / 2:.0%}"


def cache_lines(named: list[tuple[str, RunSummary]]) -> list[str]:
    """What the exact cache answered, and that calls count the network's calls only."""
    hits = [(name, s) for name, s in named if s.get("cache_hit_share")]
    if not hits:
        return []
    shares = ", ".join(f"{name} {s.get('cache_hit_share'):.0%} of {s.get('boards_asked', 0):,}" for name, s in hits)
    return [f"cache: boards asked answered by the exact cache, not sent ({shares}); a cache hit is not a call: "
            "calls and calls/move count the network's calls, and the moves' calls add up to them"]


def same_games_line(v: tables.SameGames) -> str:
    """Did the strategies play the same games? In float32 a difference is expected; say why in one line."""
    if v.same:
        return f"same games across strategies: yes (digest {(v.digest or '')[:12]})"
    if v.verdict == "game counts":
        return "same games across strategies: no, they played different numbers of games"
    if v.verdict == "drift":
        return (
            f"same games across strategies: not expected in {v.precision} (rounding depends on which boards "
            "share a call and flips near-tied moves); --precision float64 plays identical games"
        )
    return "same games across strategies: NO, although float64 should play identical games - please report this"


def render_bench(runs: list[Run], *, verbose: bool = False) -> str:
    """Strategies side by side (one row each), then the equivalence verdict and conditions."""
    columns = metrics.console_columns(verbose=verbose)
    header = ["strategy"] + [f"{m.title} [interval]" if m.interval else str(m.title) for m in columns]
    named = [(r.manifest["strategy"], s) for r, s in zip(runs, tables.compared_summaries(runs), strict=True)]
    rows = [[name] + [bench_cell(s, m) for m in columns] for name, s in named]
    out = [render_table(rows, header)]
    env = runs[0].manifest["environment"]
    s = runs[0].manifest["settings"]
    net = runs[0].manifest["network"]
    out.append(
        f"{network_phrase(s, net)}, "
        f"{s['precision']}{' under autocast ' + s['autocast'] if s.get('autocast') else ''} on {env['device_name']} "
        f"({env['device']}), seed {s['seed']}"
    )
    if env.get("simulated"):
        out.append(sim_banner(env))
    out += condition_lines(named)
    out += approximate_lines(runs)
    out += [line for name, summary in named if (line := cpu_side_line(name, summary))]
    out += [line for name, summary in named for line in engine_run_lines(name, summary)]
    out += cache_lines(named)
    gpu = named[0][1].gpu_status
    if gpu and gpu != "measured":
        out.append(f"gpu utilisation: {gpu}")
    out += [same_games_line(v) for v in tables.same_games(runs)]
    for r in runs:
        if r.path is not None:
            out.append(f"{r.manifest['strategy']}: {r.path}")
    return "\n".join(out)


def condition_lines(named: list[tuple[str, RunSummary]]) -> list[str]:
    """What bound each run, its torch threads, its warnings and an efficiency that needs a word."""
    out = [f"{name} bound by: {s.get('bottleneck')} - {s.get('bottleneck_reason')}" for name, s in named
           if s.get("bottleneck")]
    first = named[0][1]
    threads = {(s.get("torch_threads"), s.get("threads_reason")) for _, s in named}
    if len(threads) == 1 and first.get("threads_reason"):
        out.append(f"torch threads: {first.get('torch_threads')} ({first.get('threads_reason')})")
    elif len(threads) > 1:
        out += [f"{name} torch threads: {s.get('torch_threads')} ({s.get('threads_reason')})" for name, s in named]
    out += [f"{name}: warning: {s.get(key)}" for name, s in named
            for key in ("oversubscription_warning", "unstable") if s.get(key)]
    out += [f"{name} efficiency: {s.efficiency_status}" for name, s in named if "above 1" in (s.efficiency_status or "")]
    if all(s.efficiency is None for _, s in named) and first.efficiency_status:
        out.append(f"efficiency n/a: {first.efficiency_status}")
    return out


def network_phrase(settings: dict[str, Any], net: dict[str, Any]) -> str:
    """Which network a run used: perfkit's preset, or an engine's own."""
    if net.get("own"):
        return f"the engine's own network {net['name']} (board {net['board']}, {net.get('parameters') or '?'} parameters)"
    return f"preset {settings['preset']} (board {net['board']}, {net['blocks']} blocks, {net['channels']} channels)"


def approximate_lines(runs: list[Run]) -> list[str]:
    """An approximate path's price (quality against float64: move agreement, head-to-head; speed-up)
    and compile time, once per bench."""
    from perfkit.analysis.quality import quality_lines

    out: list[str] = quality_lines(runs[0].manifest.get("quality"))
    for r in runs:
        s = RunSummary.from_dict(r.summary)
        graphs = r.manifest.get("cuda_graphs")
        if graphs:
            fell = "; ".join(f"{k}: {v}" for k, v in graphs["fallbacks"].items())
            out.append(
                f"{r.manifest['strategy']} cuda graphs: buckets {', '.join(map(str, graphs['buckets']))}; captured "
                f"{', '.join(map(str, graphs['captured'])) or 'none'}; {graphs['calls']['graph']:,} calls replayed, "
                f"{graphs['calls']['eager']:,} eager" + (f"; fell back to eager ({fell})" if fell else "")
            )
        if s.get("compile_s") is not None:
            late = s.get("compile_in_run_s") or 0.0
            out.append(
                f"{r.manifest['strategy']} compiled: {s.get('compile_s'):.1f} s compiling before the run (not in its rates)"
                + (f"; {late:.1f} s compiling batch sizes first met during the run (in its rates)" if late else "")
            )
    return out


def sim_banner(env: dict[str, Any]) -> str:
    """The line every rendering of a sim run carries: its device times are modelled, not measured."""
    curve = env.get("sim_curve") or {}
    source = curve.get("label") or "a free network (sim:free)"
    return f"SIMULATED DEVICE (sim): network times are modelled from {source}, not measured on hardware"


def render_curve(curve: Curve) -> str:
    """A `perfkit curve`: cost per call and throughput by batch size, the peak, how it stopped."""
    header = ["batch", "ms/call", "IQR ms", "forward ms", "boards/s", "repeats", "calls/repeat", "note"]
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


def render_projection(p: dict[str, Any]) -> str:
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


def render_overhead(o: dict[str, Any]) -> str:
    """`perfkit bench --recorder-overhead`: wall time with recording on vs off, and self-timing."""
    on = ", ".join(f"{x:.2f}" for x in o["wall_on_s"])
    off = ", ".join(f"{x:.2f}" for x in o["wall_off_s"])
    return (
        f"{o['strategy']}: recording overhead {o['overhead']:+.1%} (median of {o['pairs']} on/off pairs, "
        f"range {o['overhead_min']:+.1%} to {o['overhead_max']:+.1%}); the recorder's own time "
        f"{o['recorder_share']:.2%} of wall\n  wall on: {on} s\n  wall off: {off} s"
    )


RATE_TITLES = {"moves_per_s": "moves/s", "boards_per_s": "boards/s", "games_per_s": "games/s"}


def render_compare(c: Comparison, *, fail_if_slower: float | None = None) -> str:
    """`perfkit compare A B`: each rate of each strategy, A vs B, the change and whether it is beyond the noise."""
    header = ["strategy", "rate", "A", "B", "change", "noise", "verdict", "noise from"]
    rows = []
    for d in c.diffs:
        if d.regression(fail_if_slower or 0.0) and fail_if_slower is not None:
            verdict = f"SLOWER beyond {fail_if_slower:g}% and the noise"
        elif d.beyond_noise:
            verdict = "faster" if d.change > 0 else "slower"
        else:
            verdict = "within noise"
        noise_from = d.a.noise_from if d.a.noise_from == d.b.noise_from else f"{d.a.noise_from} / {d.b.noise_from}"
        rows.append([
            d.strategy, RATE_TITLES.get(d.rate, d.rate), f"{d.a.value:,.2f}", f"{d.b.value:,.2f}",
            f"{d.change:+.1%}", f"±{d.noise:.1%}", verdict, noise_from,
        ])
    out = [f"A: {c.a}", f"B: {c.b}", render_table(rows, header)]
    out += [f"only in A: {name}" for name in c.only_a] + [f"only in B: {name}" for name in c.only_b]
    out += [f"warning: {w}" for w in c.warnings]
    if fail_if_slower is not None:
        bad = c.regressions(fail_if_slower)
        out.append(
            f"regression: {len(bad)} rate(s) slower by more than {fail_if_slower:g}% beyond the noise"
            if bad else f"no rate slower by more than {fail_if_slower:g}% beyond the noise"
        )
    return "\n".join(out)
