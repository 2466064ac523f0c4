"""Every key of `perfkit bench --json` (one entry per run), its JSON type and its meaning.

Types: "int", "float", "str", each optionally "|null". A null is never a zero in disguise:
it means "does not apply" (transfers on the CPU) or "not measured", and the matching
`*_status` key says why where the reason is not obvious. tests/test_json_keys.py checks a
real run against this table, key by key, so a new metric must be documented here.
"""

from __future__ import annotations

BENCH_JSON_KEYS: dict[str, tuple[str, str]] = {
    "strategy": ("str", "strategy name: naive, permove or crossgame"),
    "run_dir": ("str|null", "where the run was saved (null with --out none)"),
    "device": ("str", "device the network ran on: cpu, cuda:0, or sim[:CURVE] (simulated: modelled times)"),
    "device_name": ("str", "the device's name (cpu, the GPU's model name, or 'sim: ...')"),
    # Counts.
    "games": ("int", "games played"),
    "moves": ("int", "moves played, all games"),
    "calls": ("int", "network calls"),
    "boards": ("int", "positions evaluated by the network, all calls"),
    "boards_asked": ("int", "positions the search asked for; boards is what the cache left for the network"),
    "cache_hit_share": ("float|null", "share of boards_asked answered by the exact evaluation cache (null: --no-cache)"),
    "cache_entries": ("int|null", "the cache's bound in positions, --cache-size (null: --no-cache)"),
    "calls_per_move": ("float", "calls / moves"),
    "boards_per_move": ("float", "boards / moves"),
    # Batch sizes (boards per call).
    "mean_batch": ("float", "mean boards per call"),
    "p50_batch": ("float", "median boards per call"),
    "p95_batch": ("float", "95th percentile of boards per call"),
    "max_batch_seen": ("int", "largest call"),
    # Rates.
    "wall_s": ("float", "wall time of the games, seconds (warm-up excluded)"),
    "games_per_s": ("float", "games / wall_s"),
    "moves_per_s": ("float", "moves / wall_s"),
    "boards_per_s": ("float", "boards / wall_s"),
    # Where the time went (fractions of wall_s).
    "forward_share": ("float|null", "network forward passes"),
    "transfer_share": ("float|null", "host<->device copies (CUDA events); null on the CPU: no transfer"),
    "encode_share": ("float|null", "preparing the network's input"),
    "cpu_share": ("float|null", "everything but forward and transfers: game logic, search, encoding"),
    "outside_network_share": ("float|null", "time outside network calls altogether"),
    # The device.
    "gpu_util_mean": ("float|null", "mean NVML GPU utilisation %; null when unavailable (see gpu_status)"),
    "gpu_status": ("str", "'measured', or 'unavailable: <reason>'"),
    "efficiency": ("float|null", "boards_per_s / the curve's peak boards/s (same device, network, precision)"),
    "efficiency_status": ("str", "which curve efficiency divides by, or why there is none and how to make one"),
    "mfu": ("float|null", "model FLOP utilisation: boards_per_s x the curve's FLOPs per board / its matmul peak FLOP/s"),
    "mfu_status": ("str", "the achieved FLOP/s and the peak mfu divides by (the curve's roofline), or why there is none"),
    # Opt-in approximate paths (--precision bfloat16|float16, --compile); null on the exact path.
    "approximate": ("str|null", "the approximate path played: bfloat16, float16, compile or e.g. bfloat16+compile"),
    "quality_positions": ("int|null", "positions from real games (played by the float64 reference) its quality is measured on"),
    "move_agreement": ("float|null", "share of those positions whose best legal move by policy equals the float64 reference's"),
    "value_mae": ("float|null", "mean absolute error of the value against the float64 reference on those positions"),
    "approximate_speedup": ("float|null", "boards/s of this network / the exact float32 network's, one call of real positions"),
    "compile_s": ("float|null", "--compile: seconds compiling before the run's clock started (apart from the steady state)"),
    "compile_in_run_s": ("float|null", "--compile: seconds compiling batch buckets first reached during the run (in wall_s)"),
    "peak_rss_mb": ("float", "peak resident memory of the process so far, MB"),
    # Which side bounds the run (perfkit/analysis/bottleneck.py).
    "bottleneck": ("str|null", "'device', 'batching' or 'cpu side' (null: no calls)"),
    "bottleneck_reason": ("str", "the verdict's figures: device busy share, mean batch, what would help"),
    "device_busy_share": ("float|null", "(forward + transfer) / wall_s; on sim, the modelled device time"),
    "batch_efficiency": ("float|null", "the curve's boards/s at the run's mean batch / its peak (null: no curve)"),
    # Comparisons and projection.
    "speedup_vs_naive": ("float|null", "moves_per_s / naive's moves_per_s in the same bench (null without naive)"),
    "projected_days_500k": ("float|null", "days for 500,000 games on one device at games_per_s"),
    "projected_days_500k_low": ("float|null", "low end of the interval, from the fastest window of the run"),
    "projected_days_500k_high": ("float|null", "high end of the interval, from the slowest window of the run"),
    # Integrity and the cost of measuring.
    "game_digest": ("str|null", "sha256 of every game's moves: equal digests, equal games"),
    "recorder_s": ("float", "seconds the recorder spent on itself (hooks + building its tables)"),
    "recorder_share": ("float|null", "recorder_s / wall_s"),
    # Threads and oversubscription (perfkit/threads.py).
    "torch_threads": ("int", "torch intra-op threads the run used"),
    "threads_reason": ("str", "why that many: --threads, OMP_NUM_THREADS, the device, the free cores, or a timed probe"),
    "batch1_median_s": ("float|null", "median wall time of the run's single-board calls (null: it made none)"),
    "oversubscription_warning": (
        "str|null", "set when batch-1 (or 128+-board) calls took far longer than timed just before the run (a busy CPU)"
    ),
    # Repeats (bench --repeat R): the rates above are then medians over the R repeats.
    "repeats": ("int", "times each strategy was played (interleaved with the others); every repeat is in RUN_DIR/repeats/"),
    "moves_per_s_spread": ("float|null", "(max - min) / median of moves/s over the repeats; null with one repeat"),
    "boards_per_s_spread": ("float|null", "the same for boards/s"),
    "games_per_s_spread": ("float|null", "the same for games/s"),
    "speedup_vs_naive_spread": ("float|null", "the same for the speed-up (each repeat against naive's same repeat)"),
    "unstable": ("str|null", "why the result is not to be trusted (spread above 20%, oversubscribed repeats); null: stable"),
    # Worker processes (crossgame --workers W >= 1); null when the games were played in-process.
    "batch_fill": ("float|null", "mean boards per call / max_batch (null also without a max batch)"),
    "worker_idle_share": ("float|null", "share of the workers' time spent blocked waiting for the batch server"),
    "requests_sent": ("int|null", "search levels the workers sent; equals requests_answered (checked)"),
    "requests_answered": ("int|null", "search levels the batch server answered"),
}


def json_type_ok(value, spec: str) -> bool:
    """Whether a decoded JSON value has the type `spec` ("float|null", ...) says."""
    kinds = spec.split("|")
    if value is None:
        return "null" in kinds
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return "int" in kinds
    if isinstance(value, float):
        return "float" in kinds
    if isinstance(value, str):
        return "str" in kinds
    return False
