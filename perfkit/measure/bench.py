"""Run the reference workload with a strategy and store what was measured (what `perfkit bench` does).

The notebooks call these same functions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from perfkit.analysis.bottleneck import bottleneck_fields
from perfkit.analysis.compare import repeat_fields
from perfkit.analysis.curve import ABOVE_ONE, efficiency_fields, find_curve
from perfkit.analysis.headtohead import DEFAULT_H2H_GAMES, check_h2h_games
from perfkit.analysis.quality import (
    DEFAULT_POSITIONS,
    measure_quality,
    quality_fields,
    quality_lines,
    settings_path_label,
)
from perfkit.analysis.roofline import mfu_fields
from perfkit.analysis.tables import speedups
from perfkit.batching.cache import DEFAULT_CACHE_ENTRIES, EvalCache, cache_fields, check_cache_entries
from perfkit.devices import Device, get_device
from perfkit.devices.graphs import find_graphed, graph_network
from perfkit.devices.nvml import GpuReader
from perfkit.devices.threads import (
    BIG_BATCH,
    ThreadChoice,
    batch1_probe,
    big_call_warning,
    choose_threads,
    oversubscription_warning,
    time_calls,
)
from perfkit.game import board_sized, check_board_size, get_game
from perfkit.instrument.environment import environment_of
from perfkit.instrument.nvml import GpuSampler
from perfkit.instrument.recorder import Recorder
from perfkit.instrument.run import Run, remove_empty
from perfkit.instrument.summary import finish_summary
from perfkit.model.approximate import (
    AUTOCAST_DTYPES,
    Bucketed,
    autocast_network,
    check_precision_supported,
    compile_network,
    find_bucketed,
    precompile,
)
from perfkit.model.evaluator import Evaluator, resolve_precision
from perfkit.model.fold import prepare_network
from perfkit.model.net import build_network, load_checkpoint
from perfkit.search import search_kind
from perfkit.search.mcts import MCTSConfig
from perfkit.strategies import STRATEGIES, CrossGameOptions, Engine, make_strategy
from perfkit.types import (
    DEFAULT_GAME,
    CallRecord,
    Evaluate,
    Game,
    PerfkitError,
    Preset,
    RunSummary,
    SearchConfig,
    get_preset,
)

# Summary keys a strategy's `stats()` provides (crossgame with worker processes).
WORKER_KEYS = ("batch_fill", "worker_idle_share", "requests_sent", "requests_answered")


@dataclass(frozen=True)
class BenchSettings:
    """Everything that defines a benchmark run; stored in its manifest."""

    preset: str = "small"  # network/board preset: tiny, small, reference
    game: str = DEFAULT_GAME  # hex (built in) or an OpenSpiel game string: connect_four, go(board_size=9)
    board: int | None = None  # override the preset's board size (same network shape)
    games: int = 16  # games to play per strategy
    concurrency: int | None = None  # crossgame: games in flight (None: its default)
    max_batch: int | None = None  # crossgame: split calls above this many positions (None: its default)
    groups: int | None = None  # crossgame: groups of games whose levels are mixed in calls
    inflight: int | None = None  # crossgame: calls in flight (2 overlaps CPU and network)
    workers: int | None = None  # crossgame: processes playing the games, feeding this one's network (0: in-process)
    max_wait_s: float | None = None  # crossgame with workers: longest a request waits for a fuller call
    seed: int = 0  # weights (unless a checkpoint is given) and every game's noise
    device: str = "auto"  # auto, cpu, cuda, cuda:N, sim[:CURVE|free] (simulated)
    precision: str = "float32"  # float32, or float64 (exact mode)
    checkpoint: str | None = None  # weights file written by perfkit.save_checkpoint
    threads: int | None = None  # torch intra-op threads on the CPU (None: torch's default)
    cache: bool = True  # the exact evaluation cache between the search and the network (False: --no-cache)
    cache_size: int = DEFAULT_CACHE_ENTRIES  # positions the cache keeps (LRU)
    fold: bool = True  # fold BatchNorm into the convolutions, memory format measured at load (False: --no-fold)
    compile: bool = False  # torch.compile the network, batches bucketed to powers of two (approximate: --compile)
    autocast: str | None = None  # float16 or bfloat16: a float32 network under torch.autocast (approximate)
    cuda_graphs: bool = False  # CUDA graphs for a few batch-size buckets (CUDA only; approximate: padded batches)
    quality_positions: int = DEFAULT_POSITIONS  # an approximate path's quality: positions from real games
    h2h_games: int = DEFAULT_H2H_GAMES  # an approximate path's quality: games against float64 (even: pairs)
    compile_backend: str = "inductor"  # torch.compile's backend ("eager" only traces: tests)
    search: SearchConfig | MCTSConfig = field(default_factory=SearchConfig)  # minimax (the default) or mcts

    def __post_init__(self) -> None:
        # Checked as the CLI checks its flags: a notebook's typo is one clear line, not a torch error later.
        for name, low in (("games", 1), ("board", None), ("concurrency", 1), ("max_batch", 1), ("groups", 1),
                          ("inflight", 1), ("workers", 0), ("seed", 0), ("threads", 1)):
            value = getattr(self, name)
            if value is None and name not in ("games", "seed"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise PerfkitError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
            if low is not None and value < low:
                raise PerfkitError(f"{name} must be >= {low}, got {value}")
        wait = self.max_wait_s
        if wait is not None and (isinstance(wait, bool) or not isinstance(wait, (int, float)) or not wait >= 0):
            raise PerfkitError(f"max_wait_s must be a number of seconds >= 0, got {wait!r}")
        for name in ("preset", "game", "device", "precision", "compile_backend"):
            if not isinstance(getattr(self, name), str):
                raise PerfkitError(f"{name} must be a string, got {getattr(self, name)!r}")
        if self.checkpoint is not None and not isinstance(self.checkpoint, (str, os.PathLike)):
            raise PerfkitError(f"checkpoint must be a file path, got {self.checkpoint!r}")
        if not isinstance(self.cache, bool):
            raise PerfkitError(f"cache must be True or False, got {self.cache!r}")
        check_cache_entries(self.cache_size)
        if not isinstance(self.fold, bool):
            raise PerfkitError(f"fold must be True or False, got {self.fold!r}")
        if not isinstance(self.compile, bool):
            raise PerfkitError(f"compile must be True or False, got {self.compile!r}")
        if not isinstance(self.cuda_graphs, bool):
            raise PerfkitError(f"cuda_graphs must be True or False, got {self.cuda_graphs!r}")
        if self.autocast is not None and self.autocast not in AUTOCAST_DTYPES:
            raise PerfkitError(f"autocast must be None, {' or '.join(AUTOCAST_DTYPES)}; got {self.autocast!r}")
        if self.autocast is not None and self.precision != "float32":
            raise PerfkitError(
                f"--autocast {self.autocast} runs a float32 network in mixed precision; drop --precision {self.precision}"
            )
        if self.compile and self.cuda_graphs:
            raise PerfkitError("--compile and --cuda-graphs: choose one (a compiled network is bucketed already)")
        q = self.quality_positions
        if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or q < 1:
            raise PerfkitError(f"quality_positions must be a whole number >= 1, got {q!r}")
        check_h2h_games(self.h2h_games)
        search_kind(self.search)  # a config of no registered search (perfkit.search.SEARCHES) fails here
        if self.board is not None:
            if not board_sized(self.game):
                raise PerfkitError(f"board sizes the built-in hex; {self.game!r} has its own shape (drop --board)")
            check_board_size(self.board)
        get_preset(self.preset)
        resolve_precision(self.precision)
        self.make_game()  # an unknown or unplayable game fails here, before anything runs
        self.crossgame_options()  # e.g. groups with workers fails here, not after the other strategies ran

    def crossgame_options(self) -> CrossGameOptions:
        """crossgame's options, whole: every `CrossGameOptions` field read from these settings by name
        (a field set to None keeps crossgame's default). bench, tune and selfplay build the strategy from it."""
        return CrossGameOptions.given(**{name: getattr(self, name) for name in CrossGameOptions.names()})

    def with_crossgame(self, options: CrossGameOptions) -> BenchSettings:
        """These settings with crossgame's `options`, every one of them (a notebook's way in)."""
        if not isinstance(options, CrossGameOptions):
            raise PerfkitError(f"options must be a perfkit CrossGameOptions, got {type(options).__name__}")
        return dataclasses.replace(self, **options.to_dict())

    def make_game(self) -> Game:
        """The game to play (Hex on the preset's board, or the OpenSpiel game)."""
        return get_game(self.game, board=self.network.board)

    @property
    def network(self) -> Preset:
        p = get_preset(self.preset)
        return p if self.board is None else dataclasses.replace(p, board=self.board)


@dataclass
class Workload:
    """A network on a device, ready to evaluate; shared by the strategies of one bench."""

    settings: BenchSettings
    model: torch.nn.Module
    device: torch.device
    threads: ThreadChoice | None = None  # the torch thread count chosen for it, and why
    game: Game | None = None  # None: Hex on the settings' board
    prepared: dict[str, Any] | None = None  # how the network was made cheaper at load (fold.prepare_network), None: as built
    backend: Device | None = None  # the device's backend (None: from `device`); sim's queue is shared by its evaluators
    quality: dict[str, Any] | None = None  # an approximate path's quality report (perfkit.analysis.quality), None: exact path

    def __post_init__(self) -> None:
        if self.backend is None:
            self.backend = get_device(self.device)

    @classmethod
    def prepare(cls, settings: BenchSettings) -> Workload:
        backend = get_device(settings.device)
        device = backend.torch_device
        if settings.threads:
            torch.set_num_threads(settings.threads)
        net = settings.network
        game = settings.make_game()
        model: torch.nn.Module
        if settings.checkpoint:
            model = load_checkpoint(settings.checkpoint, net, game=game)
        else:
            model = build_network(game, net, seed=settings.seed)
        prepared = None
        dtype = resolve_precision(settings.precision)
        check_precision_supported(device, dtype, model, tuple(game.obs_shape))  # one line where it can't run
        if settings.fold:
            model, prepared = prepare_network(
                model, game.obs_shape, device=device, dtype=dtype
            )
        if settings.autocast:
            model = autocast_network(
                model, tuple(game.obs_shape), device=device, precision=settings.precision, name=settings.autocast
            )
        if settings.compile:
            model = compile_network(
                model, tuple(game.obs_shape), device=device, dtype=dtype, backend=settings.compile_backend
            )
        if settings.cuda_graphs:  # the largest call any strategy of these settings makes sets the buckets
            model = graph_network(model, device=device, max_batch=largest_call("crossgame", settings), spec=backend.spec)
        workload = cls(settings=settings, model=model, device=device, game=game, backend=backend, prepared=prepared)
        workload.threads = choose_threads(
            device_type=backend.kind, requested=settings.threads, probe=batch1_probe(workload.evaluator()),
        )
        torch.set_num_threads(workload.threads.threads)
        big_call_s = time_calls(workload.evaluator(), BIG_BATCH)  # what crossgame's calls should cost
        workload.threads = dataclasses.replace(workload.threads, big_call_s=big_call_s)
        return workload

    def evaluator(self, on_call: Callable[[CallRecord], None] | None = None) -> Evaluator:
        return Evaluator(
            self.model, game=self.game or self.settings.make_game(),
            device=self.backend if self.backend is not None else self.device,
            precision=self.settings.precision, on_call=on_call,
        )

    def cached(self, evaluate: Evaluate) -> Evaluate:
        """`evaluate` behind the exact evaluation cache, or as it is with `cache=False`."""
        return EvalCache(evaluate, entries=self.settings.cache_size) if self.settings.cache else evaluate

    def warm_up(self, evaluator: Evaluator) -> None:
        """A few unrecorded calls so that one-time setup (allocators, kernels) is not measured."""
        for b in (1, 27, 256):
            evaluator(*evaluator.blank(b))


def environment(evaluator: Evaluator) -> dict[str, Any]:
    return environment_of(evaluator.backend)


def thread_fields(
    choice: ThreadChoice | None, batch1_s: float | None, threads: int, reason: str | None,
    calls: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The run's thread count, why, and a warning when its calls were far slower than timed before it."""
    expected = choice.batch1_s.get(threads) if choice else None
    big_s = choice.big_call_s if choice and threads == choice.threads else None
    return {
        "torch_threads": threads,
        "threads_reason": reason or "set by the caller (no thread choice made)",
        "oversubscription_warning": oversubscription_warning(
            batch1_s, expected, expected_from="timed just before the run with the same threads"
        ) or big_call_warning(calls, big_s),
    }


def run_strategy(
    name: str,
    workload: Workload,
    *,
    progress: bool = True,
    record_calls: bool = True,
    gpu_reader: GpuReader | None = None,
) -> Run:
    """Play the workload's games with strategy `name`; returns the Run (not yet saved)."""
    s = workload.settings
    strategy = make_strategy(name, s.crossgame_options())
    threads, threads_reason = workload.threads.for_strategy(name) if workload.threads else (torch.get_num_threads(), None)
    torch.set_num_threads(threads)
    recorder = Recorder(strategy.name, record_calls=record_calls)
    ready = ReadyNetwork.prepare(name, workload)
    ready.evaluator.on_call = recorder.on_call
    engine = Engine(evaluate=ready.evaluate, game=ready.evaluator.game, config=s.search, seed=s.seed)
    if gpu_reader is None:
        gpu_reader, gpu_status = ready.evaluator.backend.gpu_reader()
    else:
        gpu_status = None
    played = play_timed(strategy, engine, recorder, GpuSampler(gpu_reader), games=s.games, progress=progress)
    calls, moves, games = recorder.calls_table(), recorder.moves_table(), recorder.games_table()
    summary = finish_summary(
        calls=calls, moves=moves, games=games, gpu=played.gpu, wall_s=played.wall_s, wall_start=played.t0,
        gpu_status=played.gpu_status or gpu_status or "measured", device=ready.evaluator.backend.spec,
        device_name=ready.evaluator.device_name, recorder_s=recorder.own_s, cpu_s=played.cpu_s,
        efficiency_status="not compared with a curve (bench does that)",
    )
    stats = strategy.stats() if hasattr(strategy, "stats") else {}
    summary.extra.update(bench_fields(summary, workload, ready, stats, threads, threads_reason, calls))
    manifest = {
        "kind": "perfkit-run",
        "strategy": strategy.name,
        "strategy_settings": strategy.settings(),
        "strategy_stats": stats,
        "settings": {k: v for k, v in dataclasses.asdict(s).items() if k != "search"},
        "search": s.search.to_dict(),
        "network": network_fields(s.network, ready.evaluator.game),
        "game": ready.evaluator.game.describe(),
        "environment": environment(ready.evaluator),
        "threads": workload.threads.to_dict() if workload.threads else None,
        **played.times(),
        "record_calls": record_calls,
        **ready.manifest_fields(workload.prepared),
        "quality": workload.quality,
        "summary": summary.to_dict(),
    }
    return Run(manifest=manifest, calls=calls, moves=moves, games=games, gpu=played.gpu)


@dataclass
class ReadyNetwork:
    """The evaluator a run calls, warmed up, with every compiled bucket and CUDA graph made before its clock."""

    evaluator: Evaluator
    evaluate: Any  # the evaluator, behind the exact cache unless cache=False
    compiled: Bucketed | None  # the torch.compile'd wrapper (None: not compiled)
    compiled_before: dict[int, float]  # its buckets' compile seconds before the clock started
    graphed: Any  # the CUDA-graphed wrapper (None: no graphs)

    @classmethod
    def prepare(cls, name: str, workload: Workload) -> ReadyNetwork:
        evaluator = workload.evaluator()
        workload.warm_up(evaluator)
        obs_shape = tuple(evaluator.game.obs_shape)
        compiled = find_bucketed(evaluator.model)
        if compiled is not None:  # every bucket the run can reach, compiled before the clock starts
            precompile(compiled, obs_shape, up_to=largest_call(name, workload.settings), device=evaluator.device,
                       dtype=evaluator.dtype)
        graphed = find_graphed(evaluator.model)
        if graphed is not None:  # every bucket captured before the clock starts, and before other threads run
            graphed.capture_all(torch.zeros((1, *obs_shape), device=evaluator.device, dtype=evaluator.dtype))
        return cls(evaluator=evaluator, evaluate=workload.cached(evaluator), compiled=compiled,
                   compiled_before=dict(compiled.compile_s) if compiled is not None else {}, graphed=graphed)

    @property
    def cache(self) -> EvalCache | None:
        return self.evaluate if isinstance(self.evaluate, EvalCache) else None

    def manifest_fields(self, prepared: dict[str, Any] | None) -> dict[str, Any]:
        """The manifest's cache, network_prepared (`prepared`), compile and cuda_graphs."""
        compiled = self.compiled
        return {
            "cache": self.cache.stats() if self.cache is not None else None,
            "network_prepared": prepared,
            "compile": {"buckets_s": {str(k): v for k, v in sorted(compiled.compile_s.items())},
                        "backend": compiled.backend} if compiled is not None else None,
            "cuda_graphs": self.graphed.describe() if self.graphed is not None else None,
        }


@dataclass
class Played:
    """A run's games on the clock: when they started and ended, and the GPU samples taken meanwhile."""

    t0: float  # perf_counter at the start: the calls' start_s/end_s are on this clock
    wall_s: float
    started_at: float  # time.time()
    ended_at: float
    gpu: pd.DataFrame  # NVML samples
    gpu_status: str | None  # the sampler's error, None: it sampled
    cpu_s: float | None = None  # the process's CPU seconds (all its threads) while the games ran

    def times(self) -> dict[str, Any]:
        return {
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started_at)),
            "ended_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.ended_at)),
            "wall_s": self.wall_s,
            "perf_counter_start_s": self.t0,
        }


def play_timed(
    strategy: Any, engine: Engine, recorder: Recorder, sampler: GpuSampler, *, games: int, progress: bool
) -> Played:
    """Play `games` games with `strategy`: the clock, the GPU sampler and the progress bar bracket them."""
    bar = tqdm(total=games, unit="game", desc=strategy.name, file=sys.stderr, disable=not progress, leave=False)
    started_at = time.time()
    t0, cpu0 = time.perf_counter(), time.process_time()
    with sampler:
        for game in strategy.play(range(games), engine):
            recorder.on_game(game)
            bar.update(1)
            if progress and recorder.n_calls:
                elapsed = time.perf_counter() - t0
                bar.set_postfix(
                    games_s=f"{len(recorder.games) / elapsed:.2f}",
                    boards_s=f"{recorder.n_boards / elapsed:.0f}",
                    batch=f"{recorder.n_boards / recorder.n_calls:.1f}",
                )
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    ended_at = time.time()
    bar.close()
    return Played(t0=t0, wall_s=wall_s, started_at=started_at, ended_at=ended_at, gpu=sampler.table(),
                  gpu_status=sampler.error, cpu_s=cpu_s)


def bench_fields(
    summary: RunSummary, workload: Workload, ready: ReadyNetwork, stats: dict[str, Any], threads: int,
    threads_reason: str | None,
    calls: pd.DataFrame,
) -> dict[str, Any]:
    """What bench adds to a run's summary: threads, workers, cache, compile, quality, the verdict."""
    base = summary.to_dict()
    backend = ready.evaluator.backend
    fields: dict[str, Any] = {}
    fields.update(mfu_fields(summary.boards_per_s, None, summary.efficiency_status))
    fields.update(bottleneck_fields({**base, **fields}, getattr(backend, "curve", None)))
    fields.update({key: stats.get(key) for key in WORKER_KEYS})  # None: not played with workers
    fields.update(thread_fields(workload.threads, summary.batch1_median_s, threads, threads_reason, calls))
    if backend.simulated:  # batch-1 wall times are modelled latencies, not a sign of oversubscription
        fields["oversubscription_warning"] = None
    fields.update(cache_fields(ready.cache, summary.boards))
    fields.update(compile_fields(ready.compiled, ready.compiled_before))
    fields.update(quality_fields(workload.quality))
    return fields


def largest_call(name: str, s: BenchSettings) -> int:
    """An upper bound on the boards of one network call strategy `name` makes with settings `s`."""
    if isinstance(s.search, MCTSConfig):  # a round asks for K leaves of each tree in flight
        per_move = s.search.for_strategy(name).leaves or 1
    else:
        per_move = s.search.value_topk + int(np.prod(s.search.widths))  # the widest search level, with the candidates
    if name != "crossgame":
        return per_move
    options = s.crossgame_options()
    games = min(s.games, options.concurrency)
    return min(options.max_batch or games * per_move, games * per_move)


def compile_fields(compiled: Bucketed | None, before: dict[int, float]) -> dict[str, float | None]:
    """Compile time apart from the steady state: before the run's clock, and any bucket first reached in it."""
    if compiled is None:
        return {"compile_s": None, "compile_in_run_s": None}
    late = {k: v for k, v in compiled.compile_s.items() if k not in before}
    return {"compile_s": float(sum(before.values())), "compile_in_run_s": float(sum(late.values()))}




def run_label_of(settings: BenchSettings) -> str:
    """The preset, and the game where it is not the presets' own (sized by their board), for run directory names."""
    if board_sized(settings.game):
        return settings.preset
    return f"{settings.preset}-{''.join(c if c.isalnum() else '_' for c in settings.game).strip('_')}"


def network_fields(preset: Preset, game: Game) -> dict[str, Any]:
    """The manifest's network: the preset's sizes; its board is the game's (rows x cols for
    a game other than Hex)."""
    fields = dataclasses.asdict(preset)
    if "board" not in game.describe():  # a game not sized by --board: its board is its observation's
        fields.update(board="x".join(map(str, game.obs_shape[1:])), obs_shape=list(game.obs_shape), actions=game.actions)
    return fields


def run_dir_for(out: Path, strategy: str, preset: str) -> Path:
    """A fresh directory name under `out`: <timestamp>-<strategy>-<preset>[-k]."""
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{strategy}-{preset}"
    path, k = out / base, 1
    while path.exists():
        k += 1
        path = out / f"{base}-{k}"
    return path


def check_writable(out: Path) -> None:
    """PerfkitError now, before any game is played, if runs cannot be written under `out`."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".perfkit-write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise PerfkitError(f"cannot write to output directory {out}: {exc.strerror or exc}") from None


def check_measurable(workload: Workload) -> None:
    """PerfkitError (one line) for an approximate path on a simulated device: sim answers with a
    stand-in network, so the path's quality and speed would be measured against nothing."""
    path = settings_path_label(workload.settings)
    if path and workload.backend is not None and workload.backend.simulated:
        raise PerfkitError(
            f"{path} on a simulated device: sim answers with a stand-in network, so an approximate network's "
            "quality and speed cannot be measured there; use --device cpu or cuda"
        )


def bench(
    strategies: list[str],
    settings: BenchSettings,
    *,
    out: str | os.PathLike[str] | None = "runs",
    progress: bool = True,
    curves: str | os.PathLike[str] | None = None,
    repeat: int = 1,
) -> list[Run]:
    """Run each strategy on the same workload; saves each run under `out` (None: don't save).

    `efficiency` divides by the peak of a saved `perfkit curve` for the same device, network
    and precision, looked up in `curves` (default: `<out>/curves`, i.e. runs/curves).
    With `repeat` R > 1 the strategies are played R times, interleaved (see `play_repeats`);
    each strategy's run reports the median and spread of its rates and keeps every repeat.
    """
    if repeat < 1:
        raise PerfkitError(f"repeat must be >= 1, got {repeat}")
    if isinstance(strategies, str):
        raise PerfkitError(f"bench takes a list of strategy names, got the string {strategies!r}; pass [{strategies!r}]")
    if not isinstance(strategies, (list, tuple)) or not strategies or not all(isinstance(n, str) for n in strategies):
        raise PerfkitError(f"bench needs a non-empty list of strategy names ({', '.join(STRATEGIES)}), got {strategies!r}")
    if not isinstance(settings, BenchSettings):
        raise PerfkitError(f"bench needs a BenchSettings, got {type(settings).__name__}")
    for name in strategies:
        if name not in STRATEGIES:
            make_strategy(name)  # raises the unknown-strategy error
    workload = Workload.prepare(settings)  # a bad device or checkpoint fails before anything is written
    check_measurable(workload)
    if progress and workload.threads is not None:
        print(workload.threads.describe(), file=sys.stderr, flush=True)
    out_path = Path(out) if out is not None else None
    created = [p for p in (out_path, *out_path.parents) if not p.exists()][::-1] if out_path is not None else []
    try:
        if out_path is not None:
            check_writable(out_path)
        return play_and_save(strategies, workload, out_path=out_path, progress=progress, curves=curves, repeat=repeat)
    finally:
        remove_empty(created)  # a bench that saved nothing (a full disk, an early stop) leaves no empty runs/


def play_and_save(
    strategies: list[str], workload: Workload, *, out_path: Path | None, progress: bool, curves: str | os.PathLike[str] | None, repeat: int
) -> list[Run]:
    """bench's games once the workload is ready: the quality of an approximate path, then the strategies."""
    settings = workload.settings
    if settings_path_label(settings):
        if progress:
            print(f"measuring {settings_path_label(settings)} against the float64 reference on "
                  f"{settings.quality_positions:,} positions from real games and in {settings.h2h_games} head-to-head "
                  "games ...", file=sys.stderr, flush=True)
        workload.quality = measure_quality(workload, positions=settings.quality_positions, h2h_games=settings.h2h_games)
        if progress:
            for line in quality_lines(workload.quality):
                print(line, file=sys.stderr, flush=True)
    if repeat > 1:
        return play_repeats(strategies, workload, out_path=out_path, progress=progress, curves=curves, repeat=repeat)
    runs = []
    try:
        for name in strategies:
            run = run_strategy(name, workload, progress=progress)
            runs.append(run)
    except KeyboardInterrupt:
        if runs and out_path is not None:  # keep what finished: an interrupted `all` is not a lost bench
            finish_runs(runs, workload, out_path=out_path, curves=curves)
            kept = ", ".join(f"{r.manifest['strategy']} in {r.path}" for r in runs)
            print(f"interrupted; kept the strategies that finished: {kept}", file=sys.stderr, flush=True)
        raise
    return finish_runs(runs, workload, out_path=out_path, curves=curves)


def finish_runs(
    runs: list[Run], workload: Workload, *, out_path: Path | None, curves: str | os.PathLike[str] | None
) -> list[Run]:
    """Speed-ups and efficiency across the runs of one bench, then save each under `out_path`."""
    add_comparisons(runs)
    for run in runs:
        run.summary.update(repeat_fields([run]))  # one repeat: no spread (see play_repeats)
    curves_dir = Path(curves) if curves is not None else (out_path or Path("runs")) / "curves"
    add_efficiency(runs, workload, curves_dir)
    if out_path is not None:
        save_runs([(run, run_dir_for(out_path, run.manifest["strategy"], run_label_of(workload.settings)))
                   for run in runs])
    return runs


class SaveFailed(PerfkitError):
    """A measured run could not be written (a full disk, a folder gone read-only): what fitted is kept."""


def save_runs(items: list[tuple[Run, Path]], *, into_existing: bool = False) -> None:
    """Save each run at its path; one that does not fit is left out and the others are still tried
    (a smaller one may fit). SaveFailed, one line, once all were tried."""
    failed: list[tuple[Run, Path, OSError]] = []
    for run, path in items:
        try:
            run.save(path, into_existing=into_existing)
        except OSError as exc:
            failed.append((run, path, exc))
    if not failed:
        return
    strategies = list(dict.fromkeys(r.manifest["strategy"] for r, _, _ in failed))
    names = " and ".join(strategies) + (" runs" if len(strategies) > 1 else " run")
    _, path, first = failed[0]
    saved = [f"{r.manifest['strategy']} in {r.path}" for r, _ in items if r.path is not None]
    kept = f"saved: {', '.join(saved)}" if saved else "the runs saved before it are kept"
    if first.errno in (errno.ENOSPC, errno.EDQUOT):
        raise SaveFailed(f"disk full: no space left to save the {names} in {path.parent}; {kept}; "
                         "free space and run bench again")
    raise SaveFailed(f"cannot save the {names} in {path}: {first.strerror or first}; {kept}")


def play_repeats(
    strategies: list[str], workload: Workload, *, out_path: Path | None, progress: bool, curves: str | os.PathLike[str] | None, repeat: int
) -> list[Run]:
    """`bench --repeat R`: every strategy R times, interleaved, so that a shared machine's drift hits all.

    Repeat i plays the strategies in order, repeat i+1 in reverse (naive, permove, crossgame,
    crossgame, permove, naive, ...). Speed-ups are taken within a repeat. Each strategy's run
    is the repeat closest to the median moves/s, with the median and spread of every rate
    over the repeats in its summary (`repeat_fields`); every repeat is saved under
    `<run dir>/repeats/<i>/` as soon as it is played, so Ctrl-C keeps the finished repeats
    (and each strategy's run over them), as an interrupted `--strategy all` keeps its strategies.
    """
    played: dict[str, list[Run]] = {name: [] for name in strategies}
    curves_dir = Path(curves) if curves is not None else (out_path or Path("runs")) / "curves"
    label = run_label_of(workload.settings)
    paths = {name: run_dir_for(out_path, name, label) for name in strategies} if out_path is not None else {}

    def keep(this_repeat: list[Run]) -> None:  # idempotent: a repeat interrupted while kept is kept once
        fresh = [run for run in this_repeat if not any(run is r for r in played[run.manifest["strategy"]])]
        add_comparisons(this_repeat)
        add_efficiency(fresh, workload, curves_dir)
        for run in fresh:
            name = run.manifest["strategy"]
            if name in paths:
                save_runs([(run, paths[name] / "repeats" / str(len(played[name]) + 1))])
            played[name].append(run)

    this_repeat: list[Run] = []
    try:
        for i in range(repeat):
            this_repeat = []
            for name in strategies if i % 2 == 0 else strategies[::-1]:
                this_repeat.append(run_strategy(name, workload, progress=progress))
            keep(this_repeat)
    except SaveFailed:
        with contextlib.suppress(SaveFailed):  # the first failure is the one to report
            repeat_runs(played, repeat=repeat, paths=paths)  # each strategy's run over the repeats saved
        raise
    except KeyboardInterrupt:
        keep(this_repeat)  # the strategies that finished in the interrupted repeat count too
        runs = repeat_runs(played, repeat=repeat, paths=paths)
        if runs:
            kept = ", ".join(f"{r.manifest['strategy']} ({r.summary['repeats']} of {repeat} repeats) in {r.path}"
                             for r in runs)
            print(f"interrupted; kept the repeats that finished: {kept}", file=sys.stderr, flush=True)
        raise
    return repeat_runs(played, repeat=repeat, paths=paths)


def repeat_runs(played: dict[str, list[Run]], *, repeat: int, paths: dict[str, Path]) -> list[Run]:
    """Each strategy's run over its repeats (see play_repeats), saved in its run dir beside `repeats/`."""
    runs = []
    for repeats in played.values():
        if not repeats:
            continue  # interrupted before its first repeat ended
        middle = repeats[closest_to_median([r.summary["moves_per_s"] for r in repeats])]
        manifest = {**middle.manifest, "summary": {**middle.summary, **repeat_fields(repeats)}}
        manifest["repeats"] = {"count": len(repeats), "requested": repeat,
                               "order": "interleaved, alternating direction", "dir": "repeats/<i>"}
        runs.append(dataclasses.replace(middle, manifest=manifest, path=None))  # a copy: the repeat is saved as is
    save_runs([(run, paths[run.manifest["strategy"]]) for run in runs if run.manifest["strategy"] in paths],
              into_existing=True)
    return runs


def closest_to_median(values: list[float]) -> int:
    median = float(np.median(values))
    return min(range(len(values)), key=lambda i: abs(values[i] - median))


def add_comparisons(runs: list[Run]) -> None:
    """Store each run's speed-up vs naive (`tables.speedups`) where naive was measured alongside."""
    for run, speedup in zip(runs, speedups(runs), strict=True):
        run.summary["speedup_vs_naive"] = speedup


def add_efficiency(runs: list[Run], workload: Workload, curves_dir: Path) -> None:
    """`efficiency` of each run against the saved curve of its device, network and precision."""
    s = workload.settings
    sim_curve = getattr(workload.backend, "curve", None)  # a simulated device's own curve is its limit
    if sim_curve is None and workload.backend is not None and workload.backend.simulated:
        curve, reason = None, "sim:free: a free network has no limit to compare with"
    else:
        curve, reason = (sim_curve, "") if sim_curve is not None else find_curve(
            curves_dir, device_name=runs[0].summary["device_name"] if runs else "", network=s.network,
            precision=s.precision, game=s.game,
        )
    for run in runs:
        # A measured curve cut short of the run's calls is no limit (sim's curve is the device itself).
        problem = "" if curve is None or sim_curve is not None else curve.efficiency_problem(run.summary.get("mean_batch"))
        limit = None if problem else curve
        run.summary.update(efficiency_fields(run.summary["boards_per_s"], limit, problem or reason))
        run.summary.update(mfu_fields(run.summary["boards_per_s"], curve, reason))
        if sim_curve is not None:
            run.summary.update(mfu=None, mfu_status="sim: a simulated device has no arithmetic peak")
        run.summary.update(bottleneck_fields(run.summary, limit))
        threads = run.manifest["environment"].get("torch_threads")
        curve_threads = curve.environment.get("torch_threads") if curve is not None else None
        on_cpu = run.manifest["environment"].get("device") == "cpu"
        if curve_threads is not None and on_cpu and curve_threads != threads:
            run.summary["efficiency_status"] += f"; note: curve measured with {curve_threads} torch threads, run used {threads}"
        at_once = run.summary.get("forwards_at_once") or 1.0
        if limit is not None and on_cpu and threads and at_once > 1.05:  # concurrent CPU calls (--inflight 2)
            cores = math.ceil(at_once - 0.05) * threads
            status = run.summary["efficiency_status"].replace(ABOVE_ONE, "")
            run.summary["efficiency_status"] = (
                f"{status}; note: {at_once:.2f} forwards of {threads} thread{'s' if threads > 1 else ''} ran at once, so "
                f"this run's limit is nearer a curve of {cores} threads (perfkit curve --threads {cores}, and --curves its folder)"
            )


def recorder_overhead(name: str, workload: Workload, *, pairs: int = 3) -> dict[str, Any]:
    """What recording costs: the same workload played with recording on and off, alternately.

    Each pair plays the games once with the full recorder and once with
    `Recorder(record_calls=False)` (totals only), in alternating order so that drift in a
    shared machine's load hits both; the overhead is the median of the pairs' wall-time
    ratios minus one. The recorder also times itself (`recorder_share`, hooks + tables),
    which is far less noisy than the A/B difference on a busy CPU.
    """
    if pairs < 1:
        raise PerfkitError(f"pairs must be >= 1, got {pairs}")
    on: list[float] = []
    off: list[float] = []
    share: list[float] = []
    for i in range(pairs):
        for record in ((True, False) if i % 2 == 0 else (False, True)):
            run = run_strategy(name, workload, progress=False, record_calls=record)
            # Building the tables (after the games) is part of what recording costs.
            wall = run.manifest["wall_s"] + run.summary["recorder_s"]
            (on if record else off).append(wall)
            if record:
                share.append(run.summary["recorder_share"])
    ratios = np.array(on) / np.array(off)
    return {
        "strategy": name,
        "pairs": pairs,
        "wall_on_s": on,
        "wall_off_s": off,
        "overhead": float(np.median(ratios) - 1.0),
        "overhead_min": float(ratios.min() - 1.0),
        "overhead_max": float(ratios.max() - 1.0),
        "recorder_share": float(np.median(share)),
    }
