"""The HTML report: one self-contained file comparing stored runs (what `perfkit report` writes).

A renderer like the console table: it reads runs and the seed's reference figures and
formats them; the charts are `perfkit.report.charts`, embedded as base64 PNG. The page
loads nothing from anywhere (no scripts, fonts, stylesheets or links outside the file), so
it opens offline and can be attached to an issue as is.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import jinja2
from matplotlib.figure import Figure

from perfkit.analysis import metrics, tables
from perfkit.analysis.metrics import Metric
from perfkit.analysis.reference import seed_reference
from perfkit.analysis.runs import load_runs, log_to_stderr
from perfkit.atomic import write_atomic
from perfkit.instrument.run import MANIFEST, Run, load_run
from perfkit.report import charts
from perfkit.report.console import fmt, sim_banner
from perfkit.types import PerfkitError, RunSummary

PNG_DPI = 100


def figure_data_uri(fig: Figure) -> str:
    """A figure as a `data:image/png;base64,...` URI; the figure is released afterwards."""
    png = charts.to_png(fig, dpi=PNG_DPI)
    fig.clear()
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def cell(s: RunSummary, m: Metric) -> str:
    """A metric's cell, with its interval where it has one ("1.2 (1.0–1.5)")."""
    text = fmt(s.get(m.key), m.fmt)
    if m.interval is None or s.get(m.key) is None:
        return text
    lo, hi = (s.get(k) for k in m.interval)
    return f"{text} ({fmt(lo, m.fmt)}–{fmt(hi, m.fmt)})" if lo is not None and hi is not None else text


def comparison_rows(runs: Sequence[Run], columns: Sequence[Metric] | None = None) -> tuple[list[str], list[list[str]]]:
    """One row per run in the leading columns of `metrics.METRICS` (or `columns`), speed-ups against naive within `runs`.

    The leading columns (moves/s, speed-up, efficiency, days, peak RSS, ...) fit a 1,400 px window;
    the --verbose ones make the second table.
    """
    columns = metrics.columns() if columns is None else columns
    header = ["run"] + [f"{m.title} (interval)" if m.interval else str(m.title) for m in columns]
    rows = [
        [label] + [cell(s, m) for m in columns]
        for label, s in zip(tables.unique_labels(runs), tables.compared_summaries(runs), strict=True)
    ]
    return header, rows


def detail_rows(runs: Sequence[Run]) -> tuple[list[str], list[list[str]]]:
    """The comparison's second table: where each run was measured, then the --verbose columns."""
    header, rows = comparison_rows(runs, metrics.columns(verbose=True))
    where = [[tables.preset_name(run), tables.where_measured(run)] for run in runs]
    return [header[0], "preset", "measured on", *header[1:]], [[r[0], *w, *r[1:]] for r, w in zip(rows, where, strict=True)]


SAME_GAMES = {
    "same": "same games",
    "game counts": "different games (different game counts)",
    "drift": "different games ({precision} drift: expected; float64 plays identical games)",
    "differ": "different games, although float64 should play identical games - please report this",
}


def same_games(runs: Sequence[Run]) -> list[str]:
    """One line per workload group: did every strategy play the same games (`tables.same_games`)?"""
    return [
        f"{', '.join(v.labels)} on {v.preset}: {SAME_GAMES[v.verdict].format(precision=v.precision)}"
        for v in tables.same_games(runs)
    ]


def approximate_notes(runs: Sequence[Run]) -> list[str]:
    """Each approximate path's price (quality against float64: move agreement, head-to-head; speed-up),
    once per path and device."""
    from perfkit.analysis.quality import quality_lines

    lines: list[str] = []
    for run in runs:
        for line in quality_lines(run.manifest.get("quality")):
            line = f"{line} ({tables.where_measured(run)})"
            if line not in lines:
                lines.append(line)
    return lines


def _flat(d: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += _flat(v, key + ".")
        elif isinstance(v, float):
            out.append((key, f"{v:.6g}"))
        elif isinstance(v, (list, tuple)):
            out.append((key, json.dumps(v)))
        else:
            out.append((key, "n/a" if v is None else str(v)))
    return out


def run_details(run: Run, label: str) -> dict[str, Any]:
    m = run.manifest
    return {
        "label": label,
        "path": str(run.path) if run.path else "(not saved)",
        "started_at": m.get("started_at", "?"),
        "summary": _flat(m.get("summary", {})),
        "config": _flat({
            "strategy": m.get("strategy"), "strategy_settings": m.get("strategy_settings", {}),
            "settings": m.get("settings", {}), "search": m.get("search", {}), "network": m.get("network", {}),
        }),
        "environment": _flat(m.get("environment", {})),
        "gpu_status": RunSummary.from_dict(run.summary).gpu_status or "n/a",
    }


def render_html(
    runs: Sequence[Run],
    *,
    title: str = "perfkit report",
    reference: dict[str, Any] | None = None,
    whatif: Sequence[dict[str, Any]] = (),
    generated_at: str | None = None,
) -> str:
    """The report of `runs` as one self-contained HTML page.

    Args:
        runs: stored runs (from `load_run` or `bench`), compared side by side in this order.
        reference: the seed's figures; default `seed_reference()`.
        whatif: extra projection bars (dicts with label, days, low, high), e.g. a replay of a
            run's call trace against another device's latency curve.
        generated_at: timestamp shown in the header (default: now).
    """
    if not runs:
        raise PerfkitError("no runs to report; pass run directories made by perfkit bench")
    reference = reference if reference is not None else seed_reference()
    labels = tables.unique_labels(runs)
    header, rows = comparison_rows(runs)
    detail_header, details = detail_rows(runs)
    sections, gpu = _chart_sections(runs, labels, reference=reference, whatif=whatif)
    template = _environment().from_string(TEMPLATE)
    return template.render(
        title=title,
        sim_banner=sim_banner(next(r for r in runs if tables.is_simulated(r)).manifest["environment"])
        if any(tables.is_simulated(r) for r in runs) else None,
        generated_at=generated_at or dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        n_runs=len(runs),
        header=header,
        rows=rows,
        detail_header=detail_header,
        details=details,
        same_games=same_games(runs) + approximate_notes(runs),
        sections=sections,
        gpu=gpu,
        runs=[run_details(r, label) for r, label in zip(runs, labels, strict=True)],
        reference=reference,
        reference_rows=_flat({k: v for k, v in reference.items() if k not in ("label", "note", "source")}),
    )


def _chart_sections(
    runs: Sequence[Run], labels: list[str], *, reference: dict[str, Any], whatif: Sequence[dict[str, Any]]
) -> tuple[list[tuple[str, str, str, str]], dict[str, Any]]:
    """The page's chart sections in reading order, (anchor, title, caption, PNG data URI) each,
    and the GPU section (its timeline, if any run has NVML samples, and each run's status)."""

    def uri(fig: Figure) -> str:
        return figure_data_uri(charts.mark_simulated(fig, runs))

    gpu_fig = charts.gpu_timeline_chart(runs)
    sections = [
        ("projection", "Projection: days for 500,000 games",
         "Each bar says whose number it is: the seed's figures are reported by its authors on their GPU "
         "and never adjusted; measured bars come from the runs in this report, with the interval "
         "spanned by the run's slowest and fastest fifth; what-if bars replay a measured call trace "
         "against another device's latency curve.",
         uri(charts.projection_chart(runs, reference=reference, whatif=whatif))),
        ("throughput", "Throughput", "Boards evaluated per second by self-play, next to the seed's reported figures.",
         uri(charts.throughput_chart(runs, reference=reference))),
        ("calls", "Calls per move by purpose",
         "The seed counts 18 calls per move (1 root + 5 candidate values + 12 tree policies, leaves batched "
         "apart). A tree level needs the level above's policy first, so the floor for one game is one call "
         "per level; only more games per call go below it.",
         uri(charts.calls_by_purpose_chart(runs, reference=reference))),
        ("batches", "Batch sizes", "How many boards each network call carried.",
         uri(charts.batch_histogram(runs))),
        ("time", "Where the time goes",
         "Shares of wall time: the forward pass, host-device transfers (GPU only), input encoding, the rest "
         "of each call, and everything outside network calls (search, game logic, Python).",
         uri(charts.time_breakdown_chart(runs))),
        ("latency", "Latency by batch size",
         "Forward time of the recorded calls by batch size (median, quartiles), per call and per board: "
         "the per-board cost falls with the batch until the device is full.",
         uri(charts.latency_chart(runs))),
    ]
    sections = user_first(runs, sections)
    gpu = {
        "image": uri(gpu_fig) if gpu_fig is not None else None,
        "statuses": [(label, RunSummary.from_dict(r.summary).gpu_status or "n/a") for label, r in zip(labels, runs, strict=True)],
    }
    return sections, gpu


USER_ORDER = ("batches", "time", "latency", "projection", "throughput")  # a user's engine: its figures first


def user_first(
    runs: Sequence[Run], sections: list[tuple[str, str, str, str]]
) -> list[tuple[str, str, str, str]]:
    """Where every run traced a user's engine, its own figures lead (batches, time, latency) and the
    charts beside the seed's Hex figures follow; the calls by the seed's search levels, which an
    engine's search does not have, are left out."""
    if not all(r.manifest.get("traced") for r in runs):
        return sections
    return sorted((s for s in sections if s[0] in USER_ORDER), key=lambda s: USER_ORDER.index(s[0]))


def _environment() -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def find_runs(paths: Iterable[str | os.PathLike[str]], *, log: Callable[[str], None] = log_to_stderr) -> list[Run]:
    """The runs at `paths`; a directory that holds run directories, at any depth, stands for all of them.

    Raises PerfkitError for a path that is neither a run nor a directory of runs. A damaged run
    among others is skipped with a line to `log` (`perfkit.analysis.runs.load_runs`).
    """
    groups: list[tuple[list[Path], bool]] = []  # (run dirs, a folder's: shown in strategy order)
    for p in map(Path, paths):
        if not (p / MANIFEST).is_file() and p.is_dir():
            children = _runs_under(p)
            if children:
                groups.append((children, True))
                continue
        if not (p / MANIFEST).is_file():
            load_run(p)  # raises: not a run directory, and why
        groups.append(([p], False))
    loaded = {run.path: run for run in load_runs([d for dirs, _ in groups for d in dirs], log=log)}
    runs = []
    for dirs, folder in groups:
        found = [loaded[d] for d in dirs if d in loaded]
        runs += sorted(found, key=_strategy_order) if folder else found  # stable: a strategy keeps its name order
    return runs


def _runs_under(folder: Path) -> list[Path]:
    """The run directories under `folder` at any depth (`bench --out runs/mcts`, a results folder's
    subfolders), in path order; runs inside a run (its repeats) are that run's, not listed apart."""
    runs: list[Path] = []
    for d in sorted(m.parent for m in folder.rglob(MANIFEST)):  # a run sorts before what it holds
        if not runs or runs[-1] not in d.parents:
            runs.append(d)
    return runs


def _strategy_order(run: Run) -> int:
    from perfkit.strategies import STRATEGIES

    names = list(STRATEGIES)
    return names.index(tables.strategy(run)) if tables.strategy(run) in names else len(names)


def write_page(path: str | os.PathLike[str], text: str) -> Path:
    """`perfkit.atomic.write_atomic` for a page a user named: its folder made, errors worded."""
    path = Path(path)
    if path.is_dir():
        raise PerfkitError(f"cannot write {path}: it is a directory; name a file such as {path / 'report.html'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise PerfkitError(f"cannot write {path}: a file stands where its folder should be") from None
    except OSError as exc:
        raise PerfkitError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        return write_atomic(path, text)
    except OSError as exc:
        raise PerfkitError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_report(runs: Sequence[Run], path: str | os.PathLike[str], **options: Any) -> Path:
    """Render `runs` (see `render_html`) and write the page to `path` atomically."""
    return write_page(path, render_html(runs, **options))


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 1100px;
         padding: 1.5em 2em 4em; color: #222; line-height: 1.45; }
  h1 { margin-bottom: 0.1em; }
  h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
  .meta, .note { color: #555; font-size: 0.92em; }
  nav a { margin-right: 1em; font-size: 0.92em; }
  table { border-collapse: collapse; font-size: 0.85em; margin: 0.6em 0; }
  th, td { border: 1px solid #ddd; padding: 0.25em 0.55em; }
  th { background: #f4f4f4; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .wide { overflow-x: auto; }
  figure { margin: 0.8em 0; }
  figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
  details { margin: 0.8em 0; }
  summary { cursor: pointer; font-weight: 600; }
  .cols { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
  code { background: #f4f4f4; padding: 0 0.25em; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="meta">{{ n_runs }} run{{ "s" if n_runs != 1 }} &middot; generated {{ generated_at }} by perfkit report &middot;
self-contained: opens offline.</p>
{% if sim_banner %}<p class="meta" style="color:#b00020"><strong>{{ sim_banner }}</strong></p>{% endif %}
<nav>
  <a href="#comparison">comparison</a>
{% for id, heading, _, _ in sections %}
  <a href="#{{ id }}">{{ id }}</a>
{% endfor %}
  <a href="#gpu">gpu</a>
  <a href="#runs">runs</a>
  <a href="#seed">seed figures</a>
</nav>

{% macro run_table(head, body) %}
<div class="wide">
<table>
  <tr>{% for h in head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in body %}
  <tr><th>{{ row[0] }}</th>{% for cell in row[1:] %}<td class="num">{{ cell }}</td>{% endfor %}</tr>
{% endfor %}
</table>
</div>
{% endmacro %}
<h2 id="comparison">Comparison</h2>
{{ run_table(header, rows) }}
<h3 id="details">Details</h3>
{{ run_table(detail_header, details) }}
<p class="note">Speed-up: moves/s over the naive run of the same workload on the same device in this report
(or as stored by <code>perfkit bench</code>). n/a: the metric does not apply (no transfers on the CPU, no NVIDIA GPU).</p>
{% for line in same_games %}
<p class="note">{{ line }}</p>
{% endfor %}

{% for id, heading, note, image in sections %}
<h2 id="{{ id }}">{{ heading }}</h2>
<p class="note">{{ note }}</p>
<figure><img alt="{{ heading }}" src="{{ image }}"></figure>
{% endfor %}

<h2 id="gpu">GPU utilisation</h2>
{% if gpu.image %}
<figure><img alt="GPU utilisation over time" src="{{ gpu.image }}"></figure>
{% endif %}
<table>
  <tr><th>run</th><th>NVML sampling</th></tr>
{% for label, status in gpu.statuses %}
  <tr><th>{{ label }}</th><td>{{ status }}</td></tr>
{% endfor %}
</table>

<h2 id="runs">Runs</h2>
{% for run in runs %}
<details{{ " open" if loop.first }}>
<summary>{{ run.label }} &mdash; {{ run.path }}</summary>
<p class="note">started {{ run.started_at }}; GPU sampling: {{ run.gpu_status }}</p>
<div class="cols">
{% for name, items in [("summary", run.summary), ("config", run.config), ("environment", run.environment)] %}
<table>
  <tr><th colspan="2">{{ name }}</th></tr>
{% for key, value in items %}
  <tr><td>{{ key }}</td><td class="num">{{ value }}</td></tr>
{% endfor %}
</table>
{% endfor %}
</div>
</details>
{% endfor %}

<h2 id="seed">The seed's figures</h2>
<p class="note">{{ reference.label }}. {{ reference.note }} Source: {{ reference.source }}.</p>
<table>
{% for key, value in reference_rows %}
  <tr><td>{{ key }}</td><td class="num">{{ value }}</td></tr>
{% endfor %}
</table>
</body>
</html>
"""
