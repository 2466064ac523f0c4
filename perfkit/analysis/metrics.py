"""The typed summary: every key of a run's summary (and of `perfkit bench --json`), defined once.

Each `Metric` says its JSON type, what it means and, where it is a column, its title and
format. The JSON keys' documentation (`perfkit.analysis.keys`), the console table
(`perfkit.report.console`), the HTML report's comparison tables (`perfkit.report.html`) and
the notebooks' frame (`perfkit.analysis.tables.summary_frame`) are all read from `METRICS`
when they are made, so adding a metric is one entry here (and its computation).

Columns come in the order of this table: the leading ones (`verbose=False`) make the
console's table and the report's comparison, which must fit a 1,400 px window (about ten
columns); `verbose=True` ones are added by `--verbose` and make the report's details table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One key of a run's summary: its type, its meaning and where it is shown."""

    key: str
    type: str  # JSON type: "int", "float", "str", each optionally "|null" (null: does not apply / not measured)
    doc: str  # what it means, for `perfkit.analysis.keys`
    title: str | None = None  # its column's title; None: in the JSON and the run's manifest only
    fmt: str = "{}"  # a cell's format (str.format), e.g. "{:.0%}"
    verbose: bool = False  # a --verbose column (the report's details table), not a leading one
    long_title: str | None = None  # the title where there is room (the notebooks' frame); default `title`
    interval: tuple[str, str] | None = None  # keys of its interval's low and high ends, shown with it


M = Metric
COUNT, SHARE = "{:d}", "{:.0%}"

METRICS: tuple[Metric, ...] = (
    # What was run.
    M("strategy", "str", "strategy name: naive, permove or crossgame"),
    M("run_dir", "str|null", "where the run was saved (null with --out none)"),
    M("device", "str", "device the network ran on: cpu, cuda:0, or sim[:CURVE] (simulated: modelled times)"),
    M("device_name", "str", "the device's name (cpu, the GPU's model name, or 'sim: ...')"),
    # The headline: the console's and the report's leading columns, in this order.
    M("moves_per_s", "float", "moves / wall_s", "moves/s", "{:.2f}"),
    M("speedup_vs_naive", "float|null", "moves_per_s / naive's moves_per_s in the same bench (null without naive)",
      "vs naive", "{:.2f}x", long_title="speed-up vs naive"),
    M("efficiency", "float|null", "boards_per_s / the curve's peak boards/s (same device, network, precision)",
      "efficiency", SHARE),
    M("efficiency_status", "str", "which curve efficiency divides by, or why there is none and how to make one"),
    M("projected_days_500k", "float|null", "days for 500,000 games on one device at games_per_s", "days/500k",
      "{:.1f}", long_title="days for 500k", interval=("projected_days_500k_low", "projected_days_500k_high")),
    M("projected_days_500k_low", "float|null", "low end of the interval, from the fastest window of the run"),
    M("projected_days_500k_high", "float|null", "high end of the interval, from the slowest window of the run"),
    M("peak_rss_mb", "float", "peak resident memory of the process so far, MB", "peak RSS MB", "{:,.0f}"),
    M("boards_per_s", "float", "boards / wall_s", "boards/s", "{:,.0f}"),
    M("calls_per_move", "float", "calls / moves", "calls/move", "{:.2f}"),
    M("mean_batch", "float", "mean boards per call", "mean batch", "{:.1f}"),
    M("cache_hit_share", "float|null", "share of boards_asked answered by the exact evaluation cache (null: --no-cache)",
      "cache hits", SHARE, long_title="cache hit share"),
    # Counts (the --verbose columns from here on, in this order).
    M("games", "int", "games played", "games", COUNT, verbose=True),
    M("moves", "int", "moves played, all games", "moves", COUNT, verbose=True),
    M("calls", "int", "network calls", "calls", COUNT, verbose=True),
    M("boards", "int", "positions evaluated by the network, all calls", "boards", COUNT, verbose=True),
    M("boards_asked", "int", "positions the search asked for; boards is what the cache left for the network"),
    M("cache_entries", "int|null", "the cache's bound in positions, --cache-size (null: --no-cache)"),
    M("boards_per_move", "float", "boards / moves"),
    # Batch sizes (boards per call).
    M("p50_batch", "float", "median boards per call", "p50 batch", "{:.0f}", verbose=True),
    M("p95_batch", "float", "95th percentile of boards per call", "p95 batch", "{:.0f}", verbose=True),
    M("max_batch_seen", "int", "largest call"),
    # Rates.
    M("games_per_s", "float", "games / wall_s", "games/s", "{:.3f}", verbose=True),
    M("wall_s", "float", "wall time of the games, seconds (warm-up excluded)", "wall s", "{:.2f}", verbose=True),
    # Where the time went (fractions of wall_s).
    M("forward_share", "float|null", "network forward passes", "forward", SHARE, verbose=True,
      long_title="forward share"),
    M("forwards_at_once", "float|null", "forward passes running at once while one ran: 1 one call at a time, up to "
      "the concurrent CPU calls of --inflight 2 (null: no call)"),
    M("transfer_share", "float|null", "host<->device copies (CUDA events); null on the CPU: no transfer",
      "transfer", SHARE, verbose=True, long_title="transfer share"),
    M("encode_share", "float|null", "preparing the network's input"),
    M("cpu_share", "float|null", "everything but forward and transfers: game logic, search, encoding",
      "cpu", SHARE, verbose=True, long_title="cpu share"),
    M("outside_network_share", "float|null", "time outside network calls altogether"),
    # The device and the threads that fed it.
    M("gpu_util_mean", "float|null", "mean NVML GPU utilisation %; null when unavailable (see gpu_status)",
      "gpu util", "{:.0f}%", verbose=True, long_title="gpu util %"),
    M("gpu_status", "str", "'measured', or 'unavailable: <reason>'"),
    M("torch_threads", "int", "torch intra-op threads the run used", "threads", COUNT, verbose=True),
    M("threads_reason", "str", "why that many: --threads, OMP_NUM_THREADS, the device, the free cores, or a timed probe"),
    M("mfu", "float|null", "model FLOP utilisation: boards_per_s x the curve's FLOPs per board / its matmul peak FLOP/s",
      "mfu", "{:.1%}", verbose=True),
    M("mfu_status", "str", "the achieved FLOP/s and the peak mfu divides by (the curve's roofline), or why there is none"),
    # Opt-in approximate paths (--precision bfloat16|float16, --compile); null on the exact path.
    M("approximate", "str|null", "the approximate path played: bfloat16, float16, compile or e.g. bfloat16+compile"),
    M("quality_positions", "int|null", "positions from real games (played by the float64 reference) its quality is measured on"),
    M("move_agreement", "float|null", "share of those positions whose best legal move by policy equals the float64 reference's"),
    M("value_mae", "float|null", "mean absolute error of the value against the float64 reference on those positions"),
    M("h2h_games", "int|null", "head-to-head games against the float64 reference (pairs, colours swapped)"),
    M("h2h_win_rate", "float|null", "the approximate network's score / games against the float64 reference (win 1, draw 0.5)"),
    M("h2h_ci_low", "float|null", "lower end of the win rate's 95% Wilson score interval"),
    M("h2h_ci_high", "float|null", "upper end of the win rate's 95% Wilson score interval"),
    M("approximate_speedup", "float|null", "boards/s of this network / the exact float32 network's, one call of real positions"),
    M("quality_s", "float|null", "seconds measuring the approximate path's quality before the run (not in its rates)"),
    M("compile_s", "float|null", "--compile: seconds compiling before the run's clock started (apart from the steady state)"),
    M("compile_in_run_s", "float|null", "--compile: seconds compiling batch buckets first reached during the run (in wall_s)"),
    # Which side bounds the run (perfkit/analysis/bottleneck.py).
    M("bottleneck", "str|null", "'device', 'batching' or 'cpu side' (null: no calls)"),
    M("bottleneck_reason", "str", "the verdict's figures: device busy share, mean batch, what would help"),
    M("device_busy_share", "float|null", "(forward + transfer) / wall_s; on sim, the modelled device time"),
    M("batch_efficiency", "float|null", "the curve's boards/s at the run's mean batch / its peak (null: no curve)"),
    # Integrity and the cost of measuring.
    M("game_digest", "str|null", "sha256 of every game's moves: equal digests, equal games"),
    M("recorder_s", "float", "seconds the recorder spent on itself (hooks + building its tables)"),
    M("recorder_share", "float|null", "recorder_s / wall_s"),
    M("cpu_cores_used", "float|null", "the process's CPU seconds (all its threads) while the games ran / wall_s: the cores "
      "it got; on a shared machine moves_per_s / cpu_cores_used is the steadier rate (null: not measured)"),
    # Oversubscription (perfkit/devices/threads.py).
    M("batch1_median_s", "float|null", "median wall time of the run's single-board calls (null: it made none)"),
    M("oversubscription_warning", "str|null",
      "set when batch-1 (or 128+-board) calls took far longer than timed just before the run (a busy CPU)"),
    # Repeats (bench --repeat R): the rates above are then medians over the R repeats.
    M("repeats", "int", "times each strategy was played (interleaved with the others); every repeat is in RUN_DIR/repeats/"),
    M("moves_per_s_spread", "float|null", "(max - min) / median of moves/s over the repeats; null with one repeat"),
    M("boards_per_s_spread", "float|null", "the same for boards/s"),
    M("games_per_s_spread", "float|null", "the same for games/s"),
    M("speedup_vs_naive_spread", "float|null", "the same for the speed-up (each repeat against naive's same repeat)"),
    M("unstable", "str|null", "why the result is not to be trusted (spread above 20%, oversubscribed repeats); null: stable"),
    # Worker processes (crossgame --workers W >= 1); null when the games were played in-process.
    M("batch_fill", "float|null", "mean boards per call / max_batch (null also without a max batch)"),
    M("worker_idle_share", "float|null", "share of the workers' time spent blocked waiting for the batch server"),
    M("requests_sent", "int|null", "search levels the workers sent; equals requests_answered (checked)"),
    M("requests_answered", "int|null", "search levels the batch server answered"),
)

# Keys only an engine's run has (`perfkit bench --engine`, `perfkit profile --engine`): Amdahl's
# bound, how full its calls were of the games live, and its forward against its curve. In its
# summary, `--json` and the report's run details; not in perfkit's own runs (so not columns).
ENGINE_METRICS: tuple[Metric, ...] = (
    M("cpu_side_cap_moves_per_s", "float|null", "moves / wall time outside network calls: the moves/s the CPU side allows"),
    M("network_wall_share", "float|null", "1 - outside_network_share: network calls' share of the wall time"),
    M("games_fill", "float|null", "mean over calls of rows / min(games live when it fired, max_batch): 1.0 = every call "
      "carried every live game (null: naive, or games in worker processes)"),
    M("live_per_call", "float|null", "mean games live when a call fired (the in-flight games it could carry)"),
    M("forward_boards_per_s", "float|null", "at the mean batch: the median boards/s of the run's calls within 25% of it"),
    M("curve_forward_boards_per_s", "float|null", "the curve's forward boards/s at the same calls' batches (median, interpolated)"),
    M("forward_vs_curve", "float|null", "forward_boards_per_s / curve_forward_boards_per_s: 1.0 = the forward ran in the "
      "run as fast as alone"),
    M("forward_vs_curve_all", "float|null", "every call's forward seconds by the curve / their forward seconds in the run "
      "(calls the OS preempted on a loaded machine included)"),
    M("forward_vs_curve_status", "str|null", "which curve forward_vs_curve divides by, or 'unavailable: <why and how>'"),
    M("forward_path", "str|null", "how the network's forward ran: 'traced: ...' (TorchScript, without the GIL) or 'eager: <why>'"),
)
del M


def columns(*, verbose: bool | None = False) -> list[Metric]:
    """The metrics shown as columns, in table order.

    Args:
        verbose: False, the leading columns; True, the --verbose ones only; None, all of them.
    """
    return [m for m in METRICS if m.title is not None and (verbose is None or m.verbose == verbose)]


def console_columns(*, verbose: bool = False) -> list[Metric]:
    """The console table's columns: the leading ones, then with `verbose` the rest."""
    return columns() + (columns(verbose=True) if verbose else [])
