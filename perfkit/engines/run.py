"""Benchmark an engine perfkit did not write: one game at a time, or many games batched.

- `naive`: one game at a time; every evaluation the engine asks for is one network call
  of one position (what the engine does on its own).
- `crossgame`: `concurrency` games in flight, every engine unmodified, as greenlets on this
  thread (`scheduler="greenlet"`, the default: a call fires exactly when every live game
  waits) or one thread each (`"threads"`: the thread batch server, for engines that release
  the GIL); their batch-of-one calls fill shared forward calls.

Both record into a `Tracer`, so a run is the same calls / moves / games tables and
manifest as a built-in `bench` run.

Both ask through the exact evaluation cache (`ObservationCache`, on unless `cache=False`),
as perfkit's own strategies do, naive included: a position asked before is answered with
what the network returned for it and never sent. The moves are charged with what they
asked (every lookup and every row asked, as with `EvalCache`); the calls table keeps what
was sent (`batch`) and what was asked (`asked`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm import tqdm

from perfkit.batching.cache import DEFAULT_CACHE_ENTRIES, ObservationCache, cache_fields, check_cache_entries
from perfkit.batching.greenlets import DEFAULT_SCHEDULER, GreenletServer, check_scheduler
from perfkit.batching.server import DEFAULT_MAX_WAIT_S, BatchServer
from perfkit.instrument.run import Run
from perfkit.instrument.trace import Tracer
from perfkit.types import PerfkitError

ENGINE_STRATEGIES = ("naive", "crossgame")
DEFAULT_CONCURRENCY = 64


@dataclass(frozen=True)
class EngineOptions:
    """How an engine's games are played and batched (one object from the CLI to the runner)."""

    games: int = 16  # games per strategy
    concurrency: int = DEFAULT_CONCURRENCY  # crossgame: games in flight, one thread each
    max_batch: int | None = None  # crossgame: most positions per call (None: the games in flight)
    max_wait_s: float = DEFAULT_MAX_WAIT_S  # crossgame: longest the oldest request waits
    workers: int = 0  # crossgame: 0 plays in this process; W >= 1 plays in W processes feeding this one
    cache: bool = True  # the exact evaluation cache between the engine's predicts and the network (False: --no-cache)
    cache_size: int = DEFAULT_CACHE_ENTRIES  # observations the cache keeps (LRU)
    scheduler: str = DEFAULT_SCHEDULER  # crossgame: the games as greenlets on one thread, or one thread each

    def __post_init__(self) -> None:
        check_scheduler(self.scheduler)
        if not isinstance(self.cache, bool):
            raise PerfkitError(f"cache must be True or False, got {self.cache!r}")
        check_cache_entries(self.cache_size)
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            raise PerfkitError(f"workers must be an integer >= 0, got {self.workers!r}")
        for key in ("games", "concurrency"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PerfkitError(f"{key} must be a positive integer, got {value!r}")
        if self.max_batch is not None and (not isinstance(self.max_batch, int) or self.max_batch < 1):
            raise PerfkitError(f"max batch must be a positive integer, got {self.max_batch!r}")
        if not self.max_wait_s >= 0:
            raise PerfkitError(f"max wait must be >= 0 seconds, got {self.max_wait_s!r}")


class _Games:
    """The game ids of a run handed out to whichever thread asks next, each played under the
    tracer; a game that raises is kept as a failure and the others go on."""

    def __init__(self, engine, tracer: Tracer, games: int, bar) -> None:
        self.engine, self.tracer, self.bar = engine, tracer, bar
        self.ids = iter(range(games))
        self.lock = threading.Lock()
        self.failures: list[tuple[int, str]] = []  # (game id, one line)

    def next_id(self) -> int | None:
        with self.lock:
            return next(self.ids, None)

    def play_all(self, predict) -> None:
        """Play games until none is left, each asking `predict` for its evaluations."""
        while (game_id := self.next_id()) is not None:
            try:
                with self.tracer.game(game_id) as game:
                    game.winner = self.engine.play_game(game_id, predict, self.tracer)
            except Exception as exc:  # the other games go on; reported at the end
                with self.lock:
                    self.failures.append((game_id, _one_line(exc)))
            self.bar.update(1)


def play_engine(
    engine,
    network: Callable,
    strategy: str,
    options: EngineOptions,
    *,
    recipe: dict | None = None,
    precision: str = "float32",
    device: str | torch.device = "cpu",
    progress: bool = False,
    manifest: dict | None = None,
) -> Run:
    """Play `options.games` games of `engine` with `network` under `strategy`; returns the Run.

    A game that raises (say, its network call failed) does not stop the others; once they
    have finished, the first failure is raised as a PerfkitError naming the game. With
    `options.workers`, each worker process rebuilds the engine from `recipe`: the keywords
    of `make_engine` (spec, game, simulations, seed).
    """
    if options.workers and strategy == "crossgame" and recipe is None:
        raise PerfkitError("workers rebuild the engine: pass recipe={spec, game, simulations, seed} as make_engine takes them")
    if strategy not in ENGINE_STRATEGIES:
        raise PerfkitError(
            f"strategy {strategy!r} does not apply to an engine's own search; choose one of: "
            f"{', '.join(ENGINE_STRATEGIES)}, all (permove needs perfkit's search, which asks a whole tree level at once)"
        )
    tracer = Tracer(
        network, name=strategy, actions=engine.actions, precision=precision, device=device,
        manifest=manifest,
    )
    bar = tqdm(total=options.games, unit="game", desc=strategy, file=sys.stderr, disable=not progress, leave=False)
    games = _Games(engine, tracer, options.games, bar)
    cache = ObservationCache(
        tracer.evaluate, entries=options.cache_size, attribute=tracer.attribute, owner_of=tracer.current_move,
    ) if options.cache else None
    stats: dict = {}
    cpu0 = time.process_time()
    with tracer:
        if strategy == "naive":
            games.play_all(cache.predict if cache is not None else tracer.predict)
        else:
            stats = _crossgame(engine, games, options, recipe, cache)
    # CPU seconds of this process, all its threads (not worker processes'): on a shared machine
    # moves per CPU second says what wall-clock moves/s cannot, how much work a move costs.
    stats["process_cpu_s"] = time.process_time() - cpu0
    bar.close()
    if games.failures:
        game_id, first = min(games.failures, key=lambda f: f[0])
        raise PerfkitError(
            f"game {game_id} failed: {first} ({len(games.failures)} of {options.games} games failed; "
            f"{options.games - len(games.failures)} completed)"
        )
    return _described(tracer.run(), strategy, options, cache, stats)


def _described(run: Run, strategy: str, options: EngineOptions, cache: ObservationCache | None, stats: dict) -> Run:
    """`run` with the strategy's settings and stats, and the cache's, in its manifest and summary."""
    crossgame = strategy == "crossgame"
    in_flight = min(options.concurrency, options.games)
    run.manifest["strategy_settings"] = {
        "concurrency": in_flight if crossgame else 1,
        "max_batch": (options.max_batch or in_flight) if crossgame else 1,
        # greenlets in this process fire only when full or all wait: no max wait applies
        "max_wait_s": options.max_wait_s if crossgame and (options.workers or options.scheduler == "threads") else None,
        "workers": options.workers if crossgame else 0,
        "scheduler": options.scheduler if crossgame else None,
        "cache_entries": options.cache_size if cache is not None else None,
    }
    run.manifest["strategy_stats"] = stats
    run.manifest["settings"]["games"] = options.games
    run.manifest["settings"]["cache"], run.manifest["settings"]["cache_size"] = options.cache, options.cache_size
    run.manifest["cache"] = cache.stats() if cache is not None else None
    run.summary["batch_fill"] = stats.get("batch_fill")
    run.summary["process_cpu_s"] = stats.get("process_cpu_s")
    run.summary.update(cache_fields(cache, run.summary["boards"]))
    return run


def _crossgame(engine, games: _Games, options: EngineOptions, recipe: dict | None, cache: ObservationCache | None) -> dict:
    """The games in flight, as greenlets or one thread each (or in worker processes), through one batch
    server in front of the tracer (and the cache, when there is one: it is the server's
    forward and answers wholly cached requests as they arrive); returns the server's (and
    the workers') stats."""
    tracer = games.tracer
    in_flight = min(options.concurrency, options.games)
    server = BatchServer(
        cache if cache is not None else tracer.evaluate, max_batch=options.max_batch or in_flight,
        max_wait_s=options.max_wait_s, owner_of=tracer.current_move,
        lookup=cache.lookup if cache is not None else None,
    )
    stats: dict = {"scheduler": options.scheduler}
    if options.scheduler == "greenlet" and not options.workers:
        hub = GreenletServer(
            server.forward, max_batch=server.max_batch, owner_of=server.owner_of, lookup=server.lookup,
        )
        hub.run([lambda: games.play_all(hub.predict)] * in_flight)
        stats.update(hub.stats())
        return stats

    def client() -> None:
        with server.client() as predict:
            games.play_all(predict)

    with server:
        if options.workers:
            from perfkit.engines.workers import play_with_workers

            assert recipe is not None  # play_engine checked it
            stats["processes"] = play_with_workers(
                engine, **recipe, games=options.games, concurrency=options.concurrency,
                workers=options.workers, server=server, tracer=tracer, failures=games.failures,
                scheduler=options.scheduler,
                on_game=lambda: games.bar.update(1),
            )
        else:
            threads = [threading.Thread(target=client, name=f"perfkit-game-{i}") for i in range(in_flight)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    stats.update(server.stats())
    return stats


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
