"""Benchmark an engine perfkit did not write: one game at a time, or many games batched.

- `naive`: one game at a time; every evaluation the engine asks for is one network call
  of one position (what the engine does on its own).
- `crossgame`: `concurrency` games in flight, one thread each, every engine unmodified; its
  batch-of-one calls go to the thread batch server, which fills shared forward calls.

Both record into a `Tracer`, so a run is the same calls / moves / games tables and
manifest as a built-in `bench` run.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm import tqdm

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

    def __post_init__(self) -> None:
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
    ids = iter(range(options.games))
    lock = threading.Lock()
    failures: list[tuple[int, str]] = []
    bar = tqdm(total=options.games, unit="game", desc=strategy, file=sys.stderr, disable=not progress, leave=False)

    def next_id() -> int | None:
        with lock:
            return next(ids, None)

    def play_all(predict) -> None:
        while (game_id := next_id()) is not None:
            try:
                with tracer.game(game_id) as game:
                    game.winner = engine.play_game(game_id, predict, tracer)
            except Exception as exc:  # the other games go on; reported at the end
                with lock:
                    failures.append((game_id, _one_line(exc)))
            bar.update(1)

    stats: dict = {}
    with tracer:
        if strategy == "naive":
            play_all(tracer.predict)
        else:
            in_flight = min(options.concurrency, options.games)
            server = BatchServer(
                tracer.evaluate, max_batch=options.max_batch or in_flight, max_wait_s=options.max_wait_s,
                owner_of=tracer.current_move,
            )

            def worker() -> None:
                with server.client() as predict:
                    play_all(predict)

            with server:
                if options.workers:
                    from perfkit.engines.workers import play_with_workers

                    assert recipe is not None  # checked above
                    stats["processes"] = play_with_workers(
                        engine, **recipe, games=options.games, concurrency=options.concurrency,
                        workers=options.workers, server=server, tracer=tracer, failures=failures,
                        on_game=lambda: bar.update(1),
                    )
                else:
                    threads = [threading.Thread(target=worker, name=f"perfkit-game-{i}") for i in range(in_flight)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
            stats.update(server.stats())
    bar.close()
    if failures:
        game_id, first = min(failures, key=lambda f: f[0])
        raise PerfkitError(
            f"game {game_id} failed: {first} ({len(failures)} of {options.games} games failed; "
            f"{options.games - len(failures)} completed)"
        )
    run = tracer.run()
    settings = {
        "concurrency": min(options.concurrency, options.games) if strategy == "crossgame" else 1,
        "max_batch": (options.max_batch or min(options.concurrency, options.games)) if strategy == "crossgame" else 1,
        "max_wait_s": options.max_wait_s if strategy == "crossgame" else None,
        "workers": options.workers if strategy == "crossgame" else 0,
    }
    run.manifest["strategy_settings"] = settings
    run.manifest["strategy_stats"] = stats
    run.manifest["settings"]["games"] = options.games
    run.summary["batch_fill"] = stats.get("batch_fill")
    return run



def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
