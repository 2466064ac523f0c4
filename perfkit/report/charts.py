"""The charts of the story, drawn once for the notebooks and the HTML report alike.

Each function takes runs (or tables derived from them by `perfkit.analysis.tables`) and
returns a matplotlib `Figure`. Figures are built without pyplot, so nothing here depends on
a GUI backend or global state: a notebook displays them inline, the report saves them as
PNG through Agg.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from perfkit.analysis import tables
from perfkit.analysis.compare import Comparison
from perfkit.instrument.run import Run
from perfkit.types import Curve, RunSummary

STRATEGY_COLORS = {"naive": "#d62728", "permove": "#ff7f0e", "crossgame": "#2ca02c"}
SOURCE_COLORS = {"seed": "#8c8c8c", "measured": "#1f77b4", "what-if": "#9467bd"}
PURPOSE_COLORS = {
    "root": "#1f77b4",
    "candidate values": "#ff7f0e",
    "candidates + tree policies": "#bcbd22",
    "tree policies": "#2ca02c",
    "leaves": "#9467bd",
    "other": "#7f7f7f",
}
BREAKDOWN_COLORS = {
    "forward pass": "#1f77b4",
    "transfers": "#d62728",
    "encode": "#ff7f0e",
    "rest of the call": "#bcbd22",
    "search and game logic": "#7f7f7f",
}
SEED_LABEL = "seed (reported)"


def new_figure(width: float = 9.0, height: float = 4.0) -> Figure:
    """A pyplot-free Figure on an Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def to_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (Agg)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def mark_simulated(fig: Figure, runs: Sequence[Run]) -> Figure:
    """Stamp a figure that shows sim runs, so that nobody mistakes it for a measurement."""
    if any(tables.is_simulated(r) for r in runs):
        fig.text(0.995, 0.005, "SIMULATED DEVICE (sim): modelled network times, not measured", ha="right",
                 va="bottom", fontsize=8, color="#b00020")
    return fig


def run_color(run: Run) -> str:
    """The strategy's colour; an engine's greenlet run or a run with worker processes in a darker shade
    of it, so two runs of one strategy are told apart in a chart as in its legend."""
    from matplotlib.colors import to_hex, to_rgb

    base = STRATEGY_COLORS.get(tables.strategy(run), "#1f77b4")
    details = tables.run_details(run)
    shade = 0.55 if details["scheduler"] == "greenlet" else 0.75 if details["workers"] else 1.0
    r, g, b = to_rgb(base)
    return base if shade == 1.0 else to_hex((r * shade, g * shade, b * shade))


def _no_data(fig: Figure, ax: Axes, message: str) -> Figure:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#555555", wrap=True)
    ax.set_axis_off()
    return fig


def projection_chart(
    runs: Sequence[Run] = (),
    *,
    reference: dict[str, Any] | None = None,
    whatif: Sequence[dict[str, Any]] = (),
    bars: pd.DataFrame | None = None,
    target_days: float | None = None,
    games: int = 500_000,
    note: str | None = None,
) -> Figure:
    """Days for 500k games as horizontal bars, labelled with whose number each is.

    Seed figures are grey (reported, not measured by perfkit), measured runs blue with their
    interval, what-if replays purple and hatched; the vertical line is the 4-day target.
    `note` (e.g. what a what-if assumes) is written in the chart, bottom right.
    """
    if bars is None:
        bars = tables.projection_bars(runs, reference=reference, whatif=whatif)
    if target_days is None and reference:
        target_days = reference["targets"]["days_500k"]
    fig = new_figure(11.0, 1.5 + 0.42 * max(len(bars), 1))
    ax = fig.add_subplot()
    if bars.empty:
        return _no_data(fig, ax, "no projection: no run with finished games")
    y = np.arange(len(bars))[::-1]
    days = bars["days"].astype(float).to_numpy()
    for yi, (_, bar), d in zip(y, bars.iterrows(), days, strict=True):
        _projection_bar(ax, yi, bar, d)
    ax.set_yticks(y, bars["label"], fontsize=9)
    _days_axis(ax, days, bars["high"].astype(float).fillna(0).to_numpy())
    if target_days:
        ax.axvline(target_days, color="black", ls="--", lw=1.2)
        ax.text(target_days, y.max() + 0.6, f" target: {target_days:g} days", fontsize=8, va="bottom")
    ax.set_ylim(-0.7, y.max() + 1.1)
    ax.set_xlabel(f"days for {games:,} games (one device; lower is better)")
    ax.set_title("Projection: days for 500k self-play games", loc="left", fontsize=11)
    _projection_legend(fig, whatif=bool((bars["source"] == "what-if").any()))
    ax.grid(axis="x", alpha=0.3, which="both")
    if note:
        ax.text(0.995, 0.02, note, transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5, wrap=True,
                bbox={"facecolor": "white", "edgecolor": "#4b2a6b", "pad": 3, "alpha": 0.9})
    return fig


def _projection_bar(ax: Axes, yi: float, bar: pd.Series, d: float) -> None:
    """One projection bar at height `yi`, coloured by its source, with its interval and its days."""
    src = bar["source"]
    ax.barh(
        yi, d, color=SOURCE_COLORS[src], alpha=0.9 if src != "seed" else 0.7,
        hatch="//" if src == "what-if" else None, edgecolor="white" if src != "what-if" else "#4b2a6b",
    )
    low, high = bar.get("low"), bar.get("high")
    if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
        # A noisy run's bar (its mean) can fall outside the interval of its slowest and fastest fifth.
        ax.errorbar(d, yi, xerr=[[max(d - low, 0.0)], [max(high - d, 0.0)]], fmt="none", ecolor="black", capsize=3, lw=1)
    end = high if high is not None and not pd.isna(high) else d
    ax.annotate(f"{d:.1f} d", (end, yi), xytext=(5, 0), textcoords="offset points", va="center", fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.8})


def _days_axis(ax: Axes, days: np.ndarray, highs: np.ndarray) -> None:
    """The days axis: logarithmic when the bars span more than 30x (a seed's weeks beside minutes).

    days [R] float (a bar each), highs [R] float (their intervals' upper ends, 0 where none).
    """
    positive = days[days > 0]
    top = max(np.nanmax(days), np.nanmax(highs) if len(highs) else 0)
    if len(positive) and top / positive.min() > 30:
        ax.set_xscale("log")
        ax.set_xlim(positive.min() / 2, top * 3)
    else:
        ax.set_xlim(0, top * 1.25)


def _projection_legend(fig: Figure, *, whatif: bool) -> None:
    handles = [
        _patch(SOURCE_COLORS["seed"], "seed's figure (reported, not measured here)"),
        _patch(SOURCE_COLORS["measured"], "measured by perfkit (bars: interval)"),
    ]
    if whatif:
        handles.append(_patch(SOURCE_COLORS["what-if"], "what-if: measured trace, other latency curve", hatch="//"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)


def _patch(color: str, label: str, hatch: str | None = None) -> Patch:
    return Patch(facecolor=color, label=label, hatch=hatch, edgecolor="white" if not hatch else "#4b2a6b")


def calls_by_purpose_chart(runs: Sequence[Run], *, reference: dict[str, Any] | None = None) -> Figure:
    """Calls per move, stacked by purpose (root, candidate values, tree policies, leaves).

    With `reference`, the seed's reported 18 calls (1 + 5 + 12) are drawn on top for comparison.
    """
    rows = {}
    if reference:
        seed_calls = reference["baseline"]["calls_per_move"]
        rows[f"{SEED_LABEL}: {seed_calls}"] = pd.Series(
            {"root": 1.0, "candidate values": 5.0, "tree policies": float(seed_calls - 6)}
        )
    for label, run in zip(tables.unique_labels(runs), runs, strict=True):
        rows[f"{label} (measured)"] = tables.calls_by_purpose(run)["calls_per_move"]
    frame = pd.DataFrame(rows).T.fillna(0.0)
    frame = frame[[p for p in tables.PURPOSES if p in frame.columns]]
    fig = new_figure(9.0, 1.4 + 0.5 * max(len(frame), 1))
    ax = fig.add_subplot()
    if frame.empty:
        return _no_data(fig, ax, "no calls recorded")
    y = np.arange(len(frame))[::-1]
    left = np.zeros(len(frame))
    for purpose in frame.columns:
        widths = frame[purpose].to_numpy()
        ax.barh(y, widths, left=left, color=PURPOSE_COLORS[purpose], label=purpose, edgecolor="white")
        for yi, lft, w in zip(y, left, widths, strict=True):
            if w >= 0.6:
                text = f"{w:.0f}" if abs(w - round(w)) < 0.05 else f"{w:.1f}"
                ax.text(lft + w / 2, yi, text, ha="center", va="center", fontsize=8, color="white")
        left += widths
    for yi, total in zip(y, left, strict=True):
        ax.text(total + 0.2, yi, f"{total:.2f}", va="center", fontsize=8)
    ax.set_yticks(y, frame.index, fontsize=9)
    ax.set_xlabel("network calls per move")
    ax.set_xlim(0, max(left.max() * 1.15, 1))
    ax.set_title("Calls per move by purpose", loc="left", fontsize=11)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=6, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return fig


def level_chart(runs: Sequence[Run], *, floor: int | None = None) -> Figure:
    """Per search level: calls per move (left) and boards per call (right), one bar per run."""
    fig = new_figure(10.0, 3.8)
    ax_calls, ax_batch = fig.subplots(1, 2)
    labels = tables.unique_labels(runs)
    structures = [tables.level_structure(r) for r in runs]
    levels = sorted({lv for s in structures for lv in s.index})
    if not levels:
        return _no_data(fig, ax_calls, "no calls recorded")
    x = np.arange(len(levels))
    width = 0.8 / max(len(runs), 1)
    for i, (label, run, s) in enumerate(zip(labels, runs, structures, strict=True)):
        s = s.reindex(levels)
        off = (i - (len(runs) - 1) / 2) * width
        ax_calls.bar(x + off, s["calls_per_move"].fillna(0), width, color=run_color(run), label=label,
                     alpha=0.6 + 0.4 * (i == len(runs) - 1))
        ax_batch.bar(x + off, s["mean_batch"].fillna(0), width, color=run_color(run), label=label,
                     alpha=0.6 + 0.4 * (i == len(runs) - 1))
        for xi, v in zip(x + off, s["mean_batch"].to_numpy(), strict=True):
            if np.isfinite(v):
                ax_batch.text(xi, v, f"{v:.0f}" if v >= 10 else f"{v:.1f}", ha="center", va="bottom", fontsize=7)
    names = {0: "0: root", 1: "1: candidates", len(levels) - 1: f"{len(levels) - 1}: leaves"}
    for ax in (ax_calls, ax_batch):
        ax.set_xticks(x, [names.get(lv, str(lv)) for lv in levels], fontsize=8)
        ax.set_xlabel("search level")
        ax.grid(axis="y", alpha=0.3)
    ax_calls.set_ylabel("calls per move")
    ax_calls.set_title("Calls per move at each level", loc="left", fontsize=10)
    ax_batch.set_ylabel("boards per call (mean)")
    ax_batch.set_title("Batch size at each level", loc="left", fontsize=10)
    ax_calls.legend(fontsize=8)
    if floor:
        ax_calls.text(0.98, 0.95, f"floor: one call per level = {floor} per move", transform=ax_calls.transAxes,
                      ha="right", va="top", fontsize=8)
    return fig


def _seed_vs_runs_bars(
    runs: Sequence[Run],
    seed_bars: list[tuple[str, float]],
    *,
    key: str,
    run_label: Callable[[str, Run], str],
    value_label: Callable[[float], str],
    line: tuple[float, str] | None,
    xlabel: str,
    title: str,
    width: float,
) -> Figure:
    """Horizontal bars: the seed's reported figures (grey) above each run's `summary[key]`,
    with an optional vertical reference line (a floor or a target)."""
    labels = [label for label, _ in seed_bars]
    values = [value for _, value in seed_bars]
    colors = [SOURCE_COLORS["seed"]] * len(seed_bars)
    for label, run in zip(tables.unique_labels(runs), runs, strict=True):
        labels.append(run_label(label, run))
        values.append(RunSummary.from_dict(run.summary).get(key) or 0.0)
        colors.append(run_color(run))
    fig = new_figure(width, 1.3 + 0.45 * max(len(labels), 1))
    ax = fig.add_subplot()
    y = np.arange(len(labels))[::-1]
    ax.barh(y, values, color=colors)
    right = max(values + [line[0] if line else 0.0]) or 1.0
    for yi, v in zip(y, values, strict=True):
        ax.text(v + 0.01 * right, yi, value_label(v), va="center", fontsize=8)
    if line:
        ax.axvline(line[0], color="black", ls="--", lw=1.2)
        ax.text(line[0], y.max() + 0.55, f" {line[1]}", fontsize=8, va="bottom")
    ax.set_ylim(-0.7, y.max() + 1.1)
    ax.set_xlim(0, right * 1.2)
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return fig


def calls_per_move_chart(runs: Sequence[Run], *, reference: dict[str, Any] | None = None, floor: int | None = None) -> Figure:
    """Calls per move: the seed's reported 18 and phase-1 claim of 2 next to measured runs."""
    seed = [
        ("seed baseline (reported)", reference["baseline"]["calls_per_move"]),
        ("seed phase 1 claim (reported)", reference["estimates"]["phase1_calls_per_move"]),
    ] if reference else []
    return _seed_vs_runs_bars(
        runs, seed, key="calls_per_move", run_label=lambda label, run: f"{label} (measured)",
        value_label=lambda v: f"{v:.2f}".rstrip("0").rstrip("."),
        line=(floor, f"floor: one call per tree level = {floor}") if floor else None,
        xlabel="network calls per move (mean over the run)", title="Calls per move", width=9.0,
    )


def batch_histogram(runs: Sequence[Run]) -> Figure:
    """Batch-size distribution of each run: share of calls (left) and of boards (right)."""
    fig = new_figure(10.0, 3.6)
    ax_calls, ax_boards = fig.subplots(1, 2, sharex=True)
    batches = [r.calls["batch"].to_numpy() for r in runs if not r.calls.empty]
    if not batches:
        return _no_data(fig, ax_calls, "no calls recorded")
    top = max(int(b.max()) for b in batches)
    # Bins a half-octave wide on integer boundaries, so that exact sizes (1, 5, 27) stand apart.
    steps = np.arange(0, 2 * np.log2(max(top, 2)) + 3)
    edges = np.unique(np.round(2.0 ** (steps / 2))) - 0.5
    for label, run in zip(tables.unique_labels(runs), runs, strict=True):
        b = run.calls["batch"].to_numpy()
        if not len(b):
            continue
        ax_calls.hist(b, bins=edges, weights=np.full(len(b), 1 / len(b)), histtype="step", lw=1.8,
                      color=run_color(run), label=f"{label} (mean {b.mean():.1f})")
        ax_boards.hist(b, bins=edges, weights=b / b.sum(), histtype="step", lw=1.8, color=run_color(run), label=label)
    _batch_panels(ax_calls, ax_boards, ylabels=("share of calls", "share of boards"),
                  titles=("Batch sizes: share of calls", "Batch sizes: share of boards evaluated"))
    for ax in (ax_calls, ax_boards):
        ax.set_xlim(0.8, edges[-1])
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
        ax.grid(alpha=0.3)
    return fig


def _batch_panels(left: Axes, right: Axes, *, ylabels: tuple[str, str], titles: tuple[str, str]) -> None:
    """Label two panels side by side over the batch size (a log2 axis); the legend goes left."""
    for ax, ylabel, title in zip((left, right), ylabels, titles, strict=True):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("boards per call (batch size)")
        ax.set_ylabel(ylabel)
        ax.set_title(title, loc="left", fontsize=10)
    left.legend(fontsize=8)


def time_breakdown_chart(runs: Sequence[Run]) -> Figure:
    """Where the wall time goes, per run: forward pass, transfers, encoding, the rest, game logic."""
    labels = tables.unique_labels(runs)
    shares = [tables.time_breakdown(r) for r in runs]
    fig = new_figure(9.0, 1.5 + 0.45 * max(len(runs), 1))
    ax = fig.add_subplot()
    if not runs:
        return _no_data(fig, ax, "no runs")
    y = np.arange(len(runs))[::-1]
    left = np.zeros(len(runs))
    parts = [p for p in BREAKDOWN_COLORS if any(p in s for s in shares)]
    for part in parts:
        w = np.array([s.get(part, 0.0) for s in shares])
        ax.barh(y, w, left=left, color=BREAKDOWN_COLORS[part], label=part, edgecolor="white")
        for yi, lft, wi in zip(y, left, w, strict=True):
            if wi >= 0.06:
                ax.text(lft + wi / 2, yi, f"{wi:.0%}", ha="center", va="center", fontsize=8, color="white")
        left += w
    ax.set_yticks(y, labels, fontsize=9)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("share of wall time")
    ax.set_title("Where the wall time goes", loc="left", fontsize=11)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=5, fontsize=8, frameon=False)
    if not any("transfers" in s for s in shares):
        ax.text(1.0, 1.02, "transfers: n/a on the CPU", transform=ax.transAxes, ha="right", fontsize=8,
                color="#555555")
    return fig


def latency_chart(runs: Sequence[Run], *, curve: Curve | None = None) -> Figure:
    """Forward latency by batch size from the runs' calls (median, IQR), per call and per board.

    Args:
        curve: optionally the device's limit curve (`perfkit curve`, a `Curve`), drawn as a line:
            its forward time where measured, else its whole call.
    """
    fig = new_figure(10.0, 3.8)
    ax_call, ax_board = fig.subplots(1, 2, sharex=True)
    for label, run in zip(tables.unique_labels(runs), runs, strict=True):
        lat = tables.forward_latency(run.calls)
        if lat.empty:
            continue
        b = lat.index.to_numpy()
        ax_call.errorbar(b, lat["median_ms"], yerr=[lat["median_ms"] - lat["p25_ms"], lat["p75_ms"] - lat["median_ms"]],
                         fmt="o", ms=4, capsize=2, color=run_color(run), label=f"{label} calls", alpha=0.8)
        ax_board.plot(b, lat["per_board_us"], "o", ms=4, color=run_color(run), label=label, alpha=0.8)
    if curve is not None and curve.points:
        frame = tables.curve_frame(curve)
        part = "forward_ms" if frame["forward_ms"].notna().all() else "call_ms"
        cb, ms = frame["batch"].to_numpy(dtype=float), frame[part].to_numpy(dtype=float)
        what = "forward" if part == "forward_ms" else "whole call"
        ax_call.plot(cb, ms, "-", color="black", lw=1.2, label=f"perfkit curve ({what}, median)")
        ax_board.plot(cb, ms * 1e3 / cb, "-", color="black", lw=1.2, label="perfkit curve")
    _batch_panels(ax_call, ax_board, ylabels=("forward time per call (ms)", "forward time per board (µs)"),
                  titles=("Latency by batch size", "Cost per board by batch size"))
    for ax in (ax_call, ax_board):
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
    return fig


def sweep_chart(runs: Sequence[Run], *, peak_boards_per_s: float | None = None) -> Figure:
    """A concurrency sweep: mean batch, boards/s (with the device's peak), efficiency, time shares."""
    g = np.array([tables.concurrency(r) for r in runs])
    s = [RunSummary.from_dict(r.summary) for r in runs]
    fig = new_figure(10.0, 6.5)
    (ax_batch, ax_rate), (ax_eff, ax_share) = fig.subplots(2, 2)
    order = np.argsort(g, kind="stable")
    g, s = g[order], [s[i] for i in order]
    mean_batch = np.array([x.mean_batch or 0 for x in s])
    rate = np.array([x.boards_per_s or 0 for x in s])
    ax_batch.plot(g, mean_batch, "o-", color=STRATEGY_COLORS["crossgame"])
    ax_batch.set_ylabel("mean boards per call")
    ax_batch.set_title("Mean batch", loc="left", fontsize=10)
    ax_rate.plot(g, rate, "o-", color=STRATEGY_COLORS["crossgame"], label="self-play")
    if peak_boards_per_s:
        ax_rate.axhline(peak_boards_per_s, color="black", ls="--", lw=1.2, label="model's peak (perfkit curve)")
    ax_rate.set_ylabel("boards/s")
    ax_rate.set_title("Throughput", loc="left", fontsize=10)
    ax_rate.legend(fontsize=8)
    eff = [x.efficiency for x in s]
    if peak_boards_per_s and any(e is None for e in eff):
        eff = [r / peak_boards_per_s for r in rate]
    if any(e is not None for e in eff):
        ax_eff.plot(g, [np.nan if e is None else e for e in eff], "o-", color=STRATEGY_COLORS["crossgame"])
        ax_eff.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax_eff.set_ylim(bottom=0)
        ax_eff.set_ylabel("boards/s ÷ peak boards/s")
    else:
        ax_eff.text(0.5, 0.5, "efficiency needs the model's peak\n(perfkit curve)", ha="center", va="center",
                    transform=ax_eff.transAxes, color="#555555")
    ax_eff.set_title("Efficiency", loc="left", fontsize=10)
    fwd = np.array([x.forward_share or 0 for x in s])
    trans = np.array([x.transfer_share or 0 for x in s])
    idx = np.arange(len(g))
    ax_share.bar(idx, fwd, color=BREAKDOWN_COLORS["forward pass"], label="forward pass")
    ax_share.bar(idx, trans, bottom=fwd, color=BREAKDOWN_COLORS["transfers"], label="transfers")
    ax_share.bar(idx, 1 - fwd - trans, bottom=fwd + trans, color=BREAKDOWN_COLORS["search and game logic"],
                 label="CPU: search, game logic, encoding")
    ax_share.set_xticks(idx, [str(x) for x in g])
    ax_share.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax_share.set_title("Forward vs CPU share of wall time", loc="left", fontsize=10)
    ax_share.legend(fontsize=7, loc="lower left")
    util = [x.gpu_util_mean for x in s]
    if any(u is not None for u in util):
        twin = ax_eff.twinx()
        twin.plot(g, [np.nan if u is None else u for u in util], "s--", color="#d62728", label="mean GPU util %")
        twin.set_ylabel("GPU utilisation %")
        twin.set_ylim(0, 100)
        twin.legend(fontsize=8, loc="lower right")
    for ax in (ax_batch, ax_rate, ax_eff):
        ax.set_xscale("log", base=2)
        ax.set_xticks(g, [str(x) for x in g])
        ax.grid(alpha=0.3)
    for ax in (ax_batch, ax_rate, ax_eff, ax_share):
        ax.set_xlabel("games in flight (G)")
    return fig


def throughput_chart(runs: Sequence[Run], *, reference: dict[str, Any] | None = None) -> Figure:
    """Boards/s of each run, next to the seed's reported 917 → 6,492 and its 5,000 target."""
    seed = [
        ("seed baseline (reported, GPU)", reference["baseline"]["boards_per_s"]),
        ("seed potential (reported, GPU)", reference["potential_boards_per_s"]),
    ] if reference else []
    target = reference["targets"]["boards_per_s"] if reference else None
    return _seed_vs_runs_bars(
        runs, seed, key="boards_per_s",
        run_label=lambda label, run: (
            f"{label} (measured, {tables.where_measured(run)}, {tables.preset_name(run)} preset)"
        ),
        value_label=lambda v: f"{v:,.0f}",
        line=(target, f"seed target: {target:,} boards/s") if target else None,
        xlabel="boards evaluated per second (self-play)",
        title="Throughput (the network's boards are the seed's unit)", width=10.0,
    )


def gpu_timeline_chart(runs: Sequence[Run]) -> Figure | None:
    """GPU utilisation over each run's wall time; None when no run has NVML samples."""
    timelines = [(label, run, tables.gpu_timeline(run)) for label, run in zip(tables.unique_labels(runs), runs, strict=True)]
    timelines = [t for t in timelines if not t[2].empty]
    if not timelines:
        return None
    fig = new_figure(10.0, 3.2)
    ax = fig.add_subplot()
    for label, run, tl in timelines:
        ax.plot(tl["t_s"], tl["util_pct"], lw=1.2, color=run_color(run), label=f"{label} (mean {tl['util_pct'].mean():.0f}%)")
    ax.set_ylim(0, 105)
    ax.set_xlabel("seconds since the run's start")
    ax.set_ylabel("GPU utilisation % (NVML)")
    ax.set_title("GPU utilisation over time", loc="left", fontsize=11)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def compare_chart(comparison: Comparison) -> Figure:
    """`perfkit compare`: each rate's change B vs A with its noise band; red where slower beyond it."""
    diffs = comparison.diffs
    fig = new_figure(9.0, 1.2 + 0.32 * max(len(diffs), 1))
    ax = fig.add_subplot()
    if not diffs:
        return _no_data(fig, ax, "nothing to compare")
    y = np.arange(len(diffs))[::-1]
    for yi, d in zip(y, diffs, strict=True):
        color = ("#d62728" if d.change < 0 else "#2ca02c") if d.beyond_noise else "#8c8c8c"
        ax.barh(yi, 100 * d.change, color=color, alpha=0.9)
        ax.errorbar(100 * d.change, yi, xerr=100 * d.noise, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.axvline(0, color="black", lw=1)
    ax.set_yticks(y, [f"{d.strategy} {d.rate.replace('_per_s', '/s')}" for d in diffs], fontsize=9)
    ax.set_xlabel("change of B against A, % (bars: ± the noise of both; grey: within it)")
    ax.set_title(f"B: {comparison.b}\nagainst A: {comparison.a}", loc="left", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    return fig
