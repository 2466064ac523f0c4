"""Benchmark an engine perfkit did not write: one game at a time, or many games batched.

- `naive`: one game at a time; every evaluation the engine asks for is one network call
  of one position (what the engine does on its own).
- `crossgame`: `concurrency` games in flight, every engine unmodified, as greenlets on one
  thread (`scheduler="greenlet"`, the default: a call fires exactly when every live game waits)
  or one thread each (`"threads"`: the thread batch server); their batch-of-one calls fill
  shared forward calls.

Both record into a `Tracer`, so a run is the same calls / moves / games tables and
manifest as a built-in `bench` run.

Both ask through the exact evaluation cache (`ObservationCache`, on unless `cache=False`),
as perfkit's own strategies do, naive included: a position asked before is answered with
what the network returned for it and never sent. The moves are charged with what they
asked (every lookup and every row asked, as with `EvalCache`); the calls table keeps what
was sent (`batch`) and what was asked (`asked`).
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from perfkit.batching.cache import ObservationCache, cache_fields
from perfkit.batching.server import BatchServer
from perfkit.instrument.run import Run
from perfkit.instrument.trace import Tracer, why_failed
from perfkit.strategies import USER_ENGINE, EngineOptions, check_serves, make_strategy, serving
from perfkit.types import PerfkitError, UserEngine, check_observations

ENGINE_STRATEGIES = tuple(serving(USER_ENGINE))  # the registry's: naive and crossgame
MAX_ACTIONS = 1_000_000  # a network's policy row; far above any board game's (Go 19x19: 362, chess: 4,672)
MAX_OBS_NUMBERS = 10_000_000  # numbers in one observation (40 MB in float32)


def check_engine(engine: Any, spec: str | None = None) -> UserEngine:
    """`engine` if it keeps the engine protocol (`perfkit.types.UserEngine`), else a PerfkitError saying what it lacks."""
    name = f"engine {spec!r}" if spec else f"engine {type(engine).__name__}"
    missing = [a for a in ("obs_shape", "actions", "play_game") if not hasattr(engine, a)]
    if missing:
        raise PerfkitError(f"{name} lacks {', '.join(missing)} (see perfkit.types.UserEngine)")
    if not callable(engine.play_game):
        raise PerfkitError(f"{name}: play_game must be a method, got {type(engine.play_game).__name__}")
    shape, actions = engine.obs_shape, engine.actions
    try:  # a tuple, a list, a torch.Size, a numpy array: any sequence of whole numbers
        dims = None if isinstance(shape, (str, bytes)) else list(shape)
    except TypeError:
        dims = None
    if not dims or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in dims):
        raise PerfkitError(f"{name}: obs_shape must be a tuple of positive whole numbers ([planes, rows, cols]), got {shape!r}")
    if math.prod(int(d) for d in dims) > MAX_OBS_NUMBERS:
        raise PerfkitError(f"{name}: obs_shape {list(dims)} holds more than {MAX_OBS_NUMBERS:,} numbers per observation")
    if isinstance(actions, bool) or not isinstance(actions, (int, np.integer)) or not 1 <= actions <= MAX_ACTIONS:
        raise PerfkitError(f"{name}: actions must be a whole number from 1 to {MAX_ACTIONS:,} (the game's action count), "
                           f"got {actions!r}")
    if not isinstance(engine, UserEngine):  # what is checked above is all the Protocol asks
        raise PerfkitError(f"{name} does not keep perfkit.types.UserEngine")
    return engine


def engine_settings(engine: Any, spec: str, game: str) -> dict[str, Any]:
    """What `engine.settings()` says for the run's manifest (a dict), or a PerfkitError."""
    if not hasattr(engine, "settings"):
        return {"engine": spec, "game": game}
    try:
        settings = engine.settings()
    except (Exception, SystemExit) as exc:
        raise PerfkitError(f"engine {spec!r}: settings() failed: {why_failed(exc)}") from None
    if not isinstance(settings, dict) or not all(isinstance(k, str) for k in settings):
        raise PerfkitError(f"engine {spec!r}: settings() must return a dict with str keys, got {type(settings).__name__}")
    return settings


class GamesFailed(PerfkitError):
    """Games of a run did not finish. `run` is what did (each failure, with why, in its manifest's
    `failed_games`); nothing of a failed game is recorded, neither as a draw nor at all.
    `timed_out`: the game that ran past the game timeout and stopped the run (None: none did)."""

    def __init__(
        self, run: Run, failures: list[tuple[int, str]], games: int, *, timed_out: int | None = None, kept_in: object = None,
    ) -> None:
        self.run, self.failures, self.games, self.timed_out = run, sorted(failures), games, timed_out
        others = [(g, why) for g, why in self.failures if g != timed_out]
        finished = len(run.games)
        kept = f", kept in {kept_in}" if kept_in is not None and finished else ""
        if timed_out is None:
            text = f"{len(others)} of {games} games failed: {_failures_line(others)}; {finished} finished{kept}"
        else:  # the hung game leads: it is why the run stopped
            why = dict(self.failures)[timed_out]
            text = f"game {timed_out} {why}: the run is stopped; {finished} of {games} games finished{kept}"
            if others:
                text += f"; {len(others)} failed before: {_failures_line(others)}"
        super().__init__(text)


def _failures_line(failures: list[tuple[int, str]]) -> str:
    """"game 1: why; games 2, 5: why": games failing alike are named together, three reasons at most."""
    by_why: dict[str, list[int]] = {}
    for g, why in failures:
        by_why.setdefault(why, []).append(g)
    listed = "; ".join(f"{_games_named(ids)}: {why}" for why, ids in list(by_why.items())[:3])
    return listed + (f"; and {len(by_why) - 3} other reasons (all in the run's manifest)" if len(by_why) > 3 else "")


def _games_named(ids: list[int]) -> str:
    """"game 3", "games 1, 2, 5", "games 1, 2, 5 and 9 more"."""
    if len(ids) == 1:
        return f"game {ids[0]}"
    shown = ", ".join(map(str, ids[:3]))
    return f"games {shown}" + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


class _Games:
    """The game ids of a run handed out to whichever thread asks next, each played under the
    tracer; a game that fails is kept as a failure (with why) and the others go on."""

    def __init__(
        self, engine: Any, tracer: Tracer, ids: Iterable[int], *, on_game: Callable[[int, str | None], None],
    ) -> None:
        self.engine, self.tracer, self.on_game = engine, tracer, on_game
        self.ids = iter(ids)
        self.lock = threading.Lock()
        self.failures: list[tuple[int, str]] = []  # (game id, one line)
        self.playing: dict[int, float] = {}  # game id -> time.monotonic() when it started
        self.stopped = False  # set when the run stops: no game starts after it, none fails after it
        self.timed_out: int | None = None  # the game that ran past the game timeout

    def next_id(self) -> int | None:
        with self.lock:
            game_id = None if self.stopped else next(self.ids, None)
            if game_id is not None:
                self.playing[game_id] = time.monotonic()
            return game_id

    def stop(self) -> None:
        with self.lock:
            self.stopped = True

    def time_out(self, game_id: int, timeout_s: float) -> None:
        """Stop the run: game `game_id` has played longer than `timeout_s`."""
        with self.lock:
            if self.timed_out is None:
                self.timed_out = game_id
                self.failures.append((game_id, f"did not finish within {timeout_s:g} s (the game timeout)"))
            self.stopped = True

    def overdue(self, timeout_s: float) -> int | None:
        """The game playing for longer than `timeout_s` (the oldest), if one is."""
        with self.lock:
            if not self.playing:
                return None
            game_id, since = min(self.playing.items(), key=lambda kv: kv[1])
        return game_id if time.monotonic() - since > timeout_s else None

    def play_all(self, predict: Callable[..., Any]) -> None:
        """Play games until none is left, each asking `predict` for its evaluations."""
        while (game_id := self.next_id()) is not None:
            why = play_one(self.engine, game_id, predict, self.tracer)
            with self.lock:
                self.playing.pop(game_id, None)
                if why is not None and not self.stopped:  # after a stop: the run's fault, not the game's
                    self.failures.append((game_id, why))
            self.on_game(game_id, why)


def play_one(engine: Any, game_id: int, predict: Callable[..., Any], tracer: Tracer) -> str | None:
    """Play game `game_id` under `tracer`: None if it finished (recorded), else why not (not recorded).

    Whatever the engine raises, `sys.exit` and KeyboardInterrupt included, fails this game only:
    games play in threads of their own (`run_game_threads`), so a real Ctrl-C, which Python
    delivers to the main thread, never lands here.
    """
    try:
        with tracer.game(game_id) as game:
            game.winner = engine.play_game(game_id, predict, tracer)
            if not game.moves:  # its games/s would project "0.0 days"
                raise PerfkitError(
                    "the engine marked no move: play_game marks each one, `with tracer.move(player) as move: ...; "
                    "move.action = a`"
                )
    except BaseException as exc:  # the engine's sys.exit(3) is this game's failure, not perfkit's exit code
        return why_failed(exc)
    return None


def run_game_threads(targets: list[Callable[[], None]], games: _Games, timeout_s: float | None = None) -> None:
    """Run each target (a loop over `games`) in a thread of its own and wait for them all, or
    until a game has played longer than `timeout_s` (then `games.timed_out` names it).

    Daemon threads: a game that never returns cannot keep the process alive. Ctrl-C here, in
    the waiting thread, stops handing out games and is raised.
    """
    threads = [threading.Thread(target=t, name=f"perfkit-game-{i}", daemon=True) for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(None if timeout_s is None else min(0.1, timeout_s / 4))
                if timeout_s is not None and (late := games.overdue(timeout_s)) is not None:
                    games.time_out(late, timeout_s)
                    return
    except BaseException:
        games.stop()
        raise


def checked_predict(predict: Callable[..., Any], obs_shape: Any) -> Callable[[np.ndarray], Any]:
    """`predict` refusing a bad observation (see `check_observations`) with a PerfkitError, as
    the batch server does: naive holds an engine to the same contract as crossgame."""

    def checked(obs: np.ndarray) -> Any:
        return predict(check_observations(obs, obs_shape, batch=False))

    return checked


def play_engine(
    engine: Any,
    network: Callable[..., Any],
    strategy: str,
    options: EngineOptions,
    *,
    recipe: dict[str, Any] | None = None,
    precision: str = "float32",
    device: str | torch.device = "cpu",
    progress: bool = False,
    manifest: dict[str, Any] | None = None,
    deadline_s: float | None = None,
) -> Run:
    """Play `options.games` games of `engine` with `network` under `strategy`; returns the Run.

    The strategy comes from the strategies registry, which refuses in one line one that does not
    serve a user's engine (permove). A game that fails (it raises, calls `sys.exit`, its network
    call failed) does not stop the others and is not recorded; once they have finished,
    `GamesFailed` (a PerfkitError) names the failed games and why, and holds the run of the games
    that finished. With `options.workers`, each worker process rebuilds the engine from `recipe`:
    the keywords of `make_engine` (spec, game, simulations, seed).

    `deadline_s` (a `time.perf_counter()` time; `bench --tune`'s trials): from then on no game
    starts and the games in flight stop at their next network call; the run is the games that
    finished before (the stopped ones are neither recorded nor failures).
    """
    check_engine(engine)
    chosen = make_strategy(strategy, options)
    check_serves(strategy, USER_ENGINE)
    if getattr(chosen, "workers", 0) and recipe is None:
        raise PerfkitError("workers rebuild the engine: pass recipe={spec, game, simulations, seed} as make_engine takes them")
    tracer = Tracer(
        network, name=strategy, actions=engine.actions, precision=precision, device=device,
        manifest=manifest,
    )
    tracer.prepare_forward(engine.obs_shape)  # traced before the clock starts: without the GIL where exact
    bar = tqdm(total=options.games, unit="game", desc=strategy, file=sys.stderr, disable=not progress, leave=False)
    games = _Games(engine, tracer, range(options.games), on_game=lambda _id, _why: bar.update(1))
    cache = ObservationCache(
        tracer.evaluate, entries=options.cache_size, attribute=tracer.attribute, owner_of=tracer.current_move,
    ) if options.cache else None
    offered = _EngineGames(engine, games, options, cache=cache, recipe=recipe, deadline_s=deadline_s)
    cpu0 = time.process_time()
    with tracer:
        stats = chosen.play_engine(offered)  # type: ignore[attr-defined]  # every strategy serving USER_ENGINE has it
        if games.stopped:
            tracer.close_games()  # a game still in flight is not recorded now: the tables stay one run
    # CPU seconds of this process, all its threads (not worker processes'): on a shared machine
    # moves per CPU second says what wall-clock moves/s cannot, how much work a move costs.
    stats["process_cpu_s"] = time.process_time() - cpu0
    bar.close()
    with games.lock:
        failures = list(games.failures)
    settings = chosen.engine_settings(offered)  # type: ignore[attr-defined]
    run = _described(tracer.run(), settings, options, cache, stats, failures)
    if failures:
        raise GamesFailed(run, failures, options.games, timed_out=games.timed_out)
    return run


class _EngineGames:
    """A user's engine's games as a strategy plays them (`perfkit.strategies.EngineGames`)."""

    def __init__(
        self, engine: Any, games: _Games, options: EngineOptions, *, cache: ObservationCache | None, recipe: dict[str, Any] | None,
        deadline_s: float | None = None,
    ) -> None:
        self.engine, self.games_of, self.options, self.recipe = engine, games, options, recipe
        tracer = games.tracer
        self.obs_shape = engine.obs_shape
        self.games = options.games
        self.scheduler = options.plays_as
        forward = cache if cache is not None else tracer.evaluate
        self.forward = forward if deadline_s is None else _until(forward, deadline_s, games)
        self.lookup = cache.lookup if cache is not None else None
        self.owner_of = tracer.current_move
        self.predict_one = checked_predict(cache.predict if cache is not None else tracer.predict, engine.obs_shape)

    def play_all(self, predict: Callable[..., Any]) -> None:
        self.games_of.play_all(predict)

    def run(self, targets: list[Callable[[], None]]) -> None:
        run_game_threads(targets, self.games_of, self.options.game_timeout_s)

    def in_workers(self, server: BatchServer) -> dict[str, Any]:
        from perfkit.search.engines.workers import play_with_workers

        assert self.recipe is not None  # play_engine checked it
        games, options = self.games_of, self.options
        return play_with_workers(
            self.engine, **self.recipe, games=options.games, concurrency=options.concurrency,
            workers=options.workers, server=server, tracer=games.tracer, failures=games.failures,
            on_game=games.on_game, game_timeout_s=options.game_timeout_s, on_timeout=games.time_out,
            scheduler=options.plays_as,
        )


def _until(forward: Callable[..., Any], deadline_s: float, games: _Games) -> Callable[..., Any]:
    """`forward` until `deadline_s` (perf_counter); after it the run stops: no game starts, and the
    calls of the games in flight fail, so they end (unrecorded) instead of playing to the end."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        if time.perf_counter() >= deadline_s:
            games.stop()
            raise PerfkitError("the trial's time is up")
        return forward(*args, **kwargs)

    return timed


def _described(
    run: Run, settings: dict[str, Any], options: EngineOptions, cache: ObservationCache | None, stats: dict[str, Any],
    failures: list[tuple[int, str]],
) -> Run:
    """`run` with the strategy's settings and stats, the cache's, and the games that failed, in its
    manifest and summary."""
    run.manifest["strategy_settings"] = {**settings, "cache_entries": options.cache_size if cache is not None else None}
    run.manifest["strategy_stats"] = stats
    run.manifest["settings"]["games"] = options.games
    run.manifest["settings"]["cache"], run.manifest["settings"]["cache_size"] = options.cache, options.cache_size
    run.manifest["cache"] = cache.stats() if cache is not None else None
    run.summary["batch_fill"] = stats.get("batch_fill")
    # Each call's rows ÷ the games live when it fired; worker processes' games are not counted here.
    in_process = "processes" not in stats
    run.summary["games_fill"] = stats.get("games_fill") if in_process else None
    run.summary["live_per_call"] = stats.get("live_per_call") if in_process else None
    run.summary["process_cpu_s"] = stats.get("process_cpu_s")
    run.summary.update(cache_fields(cache, run.summary["boards"]))
    run.manifest.pop("failed_games", None)  # the tracer's own list lacks the games of worker processes
    if failures:
        run.manifest["failed_games"] = [{"game": g, "error": why} for g, why in sorted(failures)]
    return run
