"""The Jupyter face of tracing: `%load_ext perfkit`, then `%%perfkit NET` on a cell.

Every call of the network named NET made while the cell runs is recorded (a module
through forward hooks, so the engine keeps its own reference; a plain callable by swapping
the variable for a traced one for the cell's duration). The cell can mark games and moves
on the tracer (`--as NAME`, default `tracer`). NET may name an engine (`--engine`): the
network it brings (its `network` attribute) is traced. Afterwards the summary and charts show
inline, and the run is `NAME.last_run` (and saved with `--save DIR`), the same Run as a
bench run, so `perfkit report` and the notebooks read it. `--profile` adds where the cell's
CPU time went (`perfkit.measure.engine_profile.profiling_cell`): Amdahl's bound, the
notebook's own functions by CPU time and the call tree, as `NAME.last_profile` too;
`--lines` adds line_profiler's tables of the notebook's functions.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfkit.analysis.bottleneck import cpu_side_cap, cpu_side_line
from perfkit.instrument.run import Run, remove_empty
from perfkit.types import PerfkitError, RunSummary

if TYPE_CHECKING:
    from perfkit.instrument.profilers import CellProfile

SUMMARY_KEYS = [
    ("calls", "calls", "{:,.0f}"), ("boards", "boards", "{:,.0f}"), ("moves", "moves", "{:,.0f}"),
    ("calls_per_move", "calls/move", "{:.1f}"), ("mean_batch", "mean batch", "{:.1f}"),
    ("p95_batch", "p95 batch", "{:.0f}"), ("boards_per_s", "boards/s", "{:,.0f}"),
    ("forward_share", "forward share of wall", "{:.0%}"), ("outside_network_share", "outside the network", "{:.0%}"),
    ("transfer_share", "transfer share", "{:.1%}"), ("gpu_util_mean", "mean GPU util %", "{:.0f}"),
    ("wall_s", "wall s", "{:.2f}"),
]


def summary_html(run: Run) -> str:
    """The traced run's key figures as a small HTML table (n/a where a metric does not apply)."""
    s = RunSummary.from_dict(run.summary)
    rows = []
    for key, title, spec in SUMMARY_KEYS:
        value = getattr(s, key)
        text = "n/a" if value is None else spec.format(value)
        if key == "gpu_util_mean" and value is None:
            text = f"n/a ({s.gpu_status})"
        rows.append(f"<tr><th style='text-align:left'>{html.escape(title)}</th><td>{html.escape(text)}</td></tr>")
    return f"<table><caption>perfkit trace: {html.escape(run.manifest['strategy'])}</caption>{''.join(rows)}</table>"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="%%perfkit", add_help=False, exit_on_error=False)
    p.add_argument("network", help="the variable holding the network (a torch.nn.Module or a callable)")
    p.add_argument("--as", dest="name", default="tracer", help="the tracer's name in the cell (default tracer)")
    p.add_argument("--label", default="traced", help="the run's strategy label (default traced)")
    p.add_argument("--save", default=None, help="save the run to this directory")
    p.add_argument("--no-charts", action="store_true", help="the summary only")
    p.add_argument("--profile", action="store_true",
                   help="also where the cell's CPU time goes: a call tree, the notebook's functions by cost, Amdahl's bound")
    p.add_argument("--lines", action="store_true", help="with --profile: the notebook's functions line by line (line_profiler)")
    p.add_argument("--engine", action="store_true",
                   help="NET names an engine (play_game, obs_shape, actions): trace the network it brings (its `network`)")
    return p


def _target(args: argparse.Namespace, namespace: dict[str, Any]) -> tuple[Any, Any, int | None]:
    """(the object holding the network, the network, the game's action count if known): the variable
    itself, or with `--engine` (or an engine named without it) the engine and its own `network`."""
    value = namespace[args.network]
    is_engine = callable(getattr(value, "play_game", None)) and hasattr(value, "actions")
    if args.engine and not is_engine:
        raise PerfkitError(f"%%perfkit --engine: {args.network!r} is no engine (it lacks play_game or actions)")
    if not (args.engine or (is_engine and getattr(value, "network", None) is not None)):
        return namespace, value, None
    network = getattr(value, "network", None)
    if network is None or not callable(network):
        raise PerfkitError(f"%%perfkit --engine: engine {args.network!r} brings no network (no callable `network` "
                           "attribute): name the network's variable instead, %%perfkit NET")
    return value, network, int(value.actions)


def trace_cell(
    line: str,
    cell: str,
    namespace: dict[str, Any],
    *,
    run_cell: Callable[[str], None],
    display: Callable[..., None] | None = None,
) -> Run:
    """Run `cell` with the network in `line` traced; returns the Run (the magic's body)."""
    import torch

    from perfkit.instrument.trace import Tracer

    try:
        args = _parser().parse_args(shlex.split(line))  # shlex: ValueError on an unbalanced quote
    except (argparse.ArgumentError, SystemExit, ValueError) as exc:
        raise PerfkitError(
            f"usage: %%perfkit NET [--engine] [--as NAME] [--label L] [--save DIR] [--no-charts] [--profile [--lines]] ({exc})"
        ) from None
    if args.lines and not args.profile:
        raise PerfkitError("%%perfkit: --lines goes with --profile")
    if args.network not in namespace:
        raise PerfkitError(f"%%perfkit: no variable {args.network!r} in the notebook; name the network to trace")
    if args.save:
        _check_save_dir(args.save)  # before the cell runs: it may be a long one
    holder, network, actions = _target(args, namespace)
    tracer = Tracer(network, name=args.label, actions=actions)
    namespace[args.name] = tracer
    with tracer, _profiled(args, namespace) as profile:
        if isinstance(network, torch.nn.Module):
            with tracer.hooked(network):
                run_cell(cell)
        else:  # the variable, or the engine's attribute, swapped for a traced one for the cell
            _swapped(holder, args.network if holder is namespace else "network", tracer.wrap(network), run_cell, cell)
    run = tracer.run()
    tracer.last_run = run
    if profile is not None:
        run.summary.update(cpu_side_cap(run.summary))
        tracer.last_profile = render_cell_profile(profile, run, args.label)
    if args.save:
        try:
            run.save(args.save)
        except (OSError, PerfkitError) as exc:
            raise PerfkitError(
                f"%%perfkit --save {args.save}: cannot save the run ({getattr(exc, 'strerror', None) or exc}); "
                f"it is kept in {args.name}.last_run: save it with {args.name}.last_run.save(DIR)"
            ) from None
    if display is not None:
        display(run, charts=not args.no_charts)
        if tracer.last_profile is not None:
            display_text(tracer.last_profile)
    return run


def _swapped(holder: Any, name: str, traced: Any, run_cell: Callable[[str], None], cell: str) -> None:
    """Run `cell` with `holder`'s `name` (a namespace's key, or an engine's attribute) set to `traced`, then put back."""
    keyed = isinstance(holder, dict)
    original = holder[name] if keyed else getattr(holder, name)
    if keyed:
        holder[name] = traced
    else:
        setattr(holder, name, traced)
    try:
        run_cell(cell)
    finally:
        if keyed:
            holder[name] = original
        else:
            setattr(holder, name, original)


def _profiled(args: argparse.Namespace, namespace: dict[str, Any]) -> contextlib.AbstractContextManager[Any]:
    """`--profile`: the cell under pyinstrument (and line_profiler with `--lines`); else nothing."""
    if not args.profile:
        return contextlib.nullcontext(None)
    from perfkit.instrument.profilers import profiling_cell

    return profiling_cell(namespace, lines=args.lines)


def render_cell_profile(profile: CellProfile, run: Run, label: str) -> str:
    """`%%perfkit --profile`'s text: Amdahl's bound, the notebook's functions by CPU time, the call tree."""
    from perfkit.instrument.profilers import render_functions, sides_line

    text = [cpu_side_line(label, run.summary) or "(no Amdahl bound: no calls recorded)", "",
            "The notebook's functions by the CPU time spent in them (pyinstrument, this cell's thread; perfkit's "
            "predict and the network excluded):", render_functions(profile.functions) + sides_line(profile.sides),
            "Call tree (CPU time):", profile.tree_text]
    if profile.line_text:
        text += ["The notebook's lines (line_profiler, in the same run: both profilers' overhead is in the times "
                 "above):", profile.line_text]
    return "\n".join(text)


def display_text(text: str) -> None:
    """Plain text as a <pre> block in the notebook."""
    from IPython.display import HTML, display

    display(HTML(f"<pre>{html.escape(text)}</pre>"))


def _check_save_dir(path: str) -> None:
    """PerfkitError (one line) unless `path` is a new directory that can be made (made and removed again:
    only the filesystem knows, e.g. /proc refuses even root)."""
    target = Path(path)
    if target.exists():
        raise PerfkitError(f"%%perfkit --save {path}: it already exists; name a new directory")
    created = [p for p in (target, *target.parents) if not p.exists()][::-1]
    try:
        target.mkdir(parents=True)
    except OSError as exc:
        raise PerfkitError(f"%%perfkit --save {path}: cannot create it ({exc.strerror or exc}); "
                           "choose another --save") from None
    finally:
        remove_empty(created)


def _display(run: Run, *, charts: bool) -> None:
    from IPython.display import HTML, Image, display

    display(HTML(summary_html(run)))
    if charts and len(run.calls):
        from perfkit.report import charts as c

        # As PNG: a bare Figure shows as "<Figure size ...>" unless `%matplotlib inline` came first.
        for fig in (c.batch_histogram([run]), c.time_breakdown_chart([run])):
            display(Image(data=c.to_png(fig), format="png"))


def load_ipython_extension(ipython: Any) -> None:  # IPython's InteractiveShell (its decorators type poorly)
    """`%load_ext perfkit`: registers the `%%perfkit` cell magic."""

    def perfkit_magic(line: str, cell: str) -> None:
        try:
            trace_cell(line, cell, ipython.user_ns, run_cell=lambda code: _run(ipython, code), display=_display)
        except PerfkitError as exc:
            print(f"perfkit: error: {exc}")

    ipython.register_magic_function(perfkit_magic, magic_kind="cell", magic_name="perfkit")


def _run(ipython: Any, code: str) -> None:
    result = ipython.run_cell(code)
    result.raise_error()
