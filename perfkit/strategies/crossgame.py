"""`crossgame`: G games in flight, their positions batched across games (the seed's phase 2).

The seed's phase-2 architecture, in one process:
- a shared position queue: every group of games runs one vectorised search, and each
  search level it needs evaluated waits in one FIFO queue;
- a batch processor that fills each network call from the queue up to `max_batch`
  positions, mixing levels and groups (a request may be split across calls);
- result distribution: answers are scattered back to the waiting requests, and a search
  resumes as soon as its whole level is answered;
- asynchronous processing: with `inflight` ≥ 2 the network runs on its own thread while
  the main thread advances the groups whose answers are back (torch releases the GIL;
  on CUDA the copies and kernels are asynchronous anyway), so the CPU side of one group
  overlaps the device work of another.

With `groups=1, inflight=1` this is the plain lockstep loop: 4 calls per move step,
batches of G×{1, 5, 9, 27} split by `max_batch`.

With `workers` ≥ 1 the games' CPU side runs in that many processes feeding this one, the
batch server (`perfkit.strategies.workers`).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Sized
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from perfkit.batching.cache import DEFAULT_CACHE_ENTRIES, EvalCache, Lookup, check_cache_entries
from perfkit.batching.queue import Call, RowQueue, quick_gil_handoff
from perfkit.batching.server import DEFAULT_SCHEDULER, BatchServer, check_scheduler
from perfkit.strategies.base import (
    ANY_SEARCH,
    USER_ENGINE,
    Agent,
    EngineGames,
    GameSlots,
    Part,
    Seats,
    batch_of,
    for_strategy,
    take_from,
)
from perfkit.strategies.workers import DEFAULT_MAX_WAIT_S, play_with_workers
from perfkit.types import EvalRequest, Evaluation, GameRecord, PerfkitError

DEFAULT_CONCURRENCY = 64
DEFAULT_MAX_BATCH = 1024
Answer = tuple[np.ndarray, np.ndarray]  # logits [B, A], values [B]


@dataclass
class _Level:
    """A search level waiting for its answers (a `Pending` of the batching core)."""

    slots: GameSlots
    steps: Generator[EvalRequest, Evaluation, list[Any]]
    req: EvalRequest
    answered: int = 0  # rows whose answers are back
    logits: np.ndarray = field(init=False)  # [K, N*N]
    values: np.ndarray = field(init=False)  # [K]

    def __post_init__(self) -> None:
        k = len(self.req)
        self.logits = np.empty((k, self.req.actions))
        self.values = np.empty(k)

    def answer(self, lo: int, hi: int, logits: np.ndarray, values: np.ndarray, call_rows: int) -> bool:
        self.logits[lo:hi], self.values[lo:hi] = logits, values
        self.answered += hi - lo
        return self.answered == len(self.req)


class _Batcher:
    """The in-process batch processor: the groups' levels wait in one queue, calls go out (on a
    device thread with `inflight` >= 2), and answers resume the searches that wait for them."""

    def __init__(self, engine: Agent, *, max_batch: int | None, inflight: int) -> None:
        self.engine, self.inflight = engine, inflight
        self.queue = RowQueue(max_batch)
        # Each call out: its answer (a Future on the device thread, or the answer itself), the cache
        # lookup it completes (None: no cache on this thread), the call.
        self.flights: deque[tuple[Future[Answer] | Answer | None, Lookup | None, Call]] = deque()
        # One device thread; on a device whose evaluator takes concurrent calls (CUDA's double-buffered
        # slots) one per call in flight, so a call's copies overlap the previous call's forward pass.
        threads = max(1, min(inflight, int(getattr(engine.evaluate, "concurrent_calls", 1))))
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="perfkit-device") if inflight > 1 else None
        self.seated = isinstance(engine.evaluate, Seats)  # two networks: each row goes to its root player's
        # With a device thread the cache is looked up here, on the search's thread, and only the rows it
        # lacks go to the device thread: the device thread runs the network and little else.
        self.cache = engine.evaluate if self.pool is not None and isinstance(engine.evaluate, EvalCache) else None

    def start(self, slots: GameSlots) -> Iterator[GameRecord]:
        """The group's next search, its first request queued; yields games a search that needed no network ended."""
        while (steps := slots.begin()) is not None:
            try:
                first = next(steps)
            except StopIteration as done:  # mcts: every leaf was terminal
                yield from slots.end(done.value)
                continue
            self.queue.push(_Level(slots, steps, first), len(first), time.perf_counter())
            return

    def send(self) -> None:
        """Calls from the queue while fewer than `inflight` are out."""
        evaluate = self.engine.evaluate
        while self.queue and len(self.flights) < self.inflight:
            call = self.queue.take()
            parts: list[Part] = [(level.req, rows, level.slots.tally) for level, rows in call.parts()]
            stones, to_move, kwargs = batch_of(parts, seated=self.seated)
            kwargs["queue_wait_s"] = time.perf_counter() - call.oldest_s
            if self.pool is None:
                self.flights.append((evaluate(stones, to_move, **kwargs), None, call))
            elif self.cache is not None:
                look, rest = self.cache.split(stones, to_move, **kwargs)
                self.flights.append((None if rest is None else self.pool.submit(rest), look, call))
            else:
                self.flights.append((self.pool.submit(evaluate, stones, to_move, **kwargs), None, call))

    def receive(self) -> Iterator[GameRecord]:
        """The oldest call's answers back to its levels; each level wholly answered resumes its search."""
        answer, look, call = self.flights.popleft()
        result = answer.result() if isinstance(answer, Future) else answer
        if look is not None and self.cache is not None:
            logits, values = self.cache.finish(look, *(result or ()))  # None: every row was cached
        else:
            assert result is not None  # a call without a lookup has its answer
            logits, values = result
        if self.pool is not None:
            self.send()  # a level already waiting goes out now, before this call's searches run
        for level in call.scatter(logits, values):
            try:
                req = level.steps.send(Evaluation(level.logits, level.values))
                self.queue.push(_Level(level.slots, level.steps, req), len(req), time.perf_counter())
            except StopIteration as done:
                yield from level.slots.end(done.value)
                yield from self.start(level.slots)
            if self.pool is not None:
                self.send()  # this group's next level goes out now, while the CPU side serves the next group

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def play_crossgame(
    game_ids: Iterable[int],
    *,
    engine: Agent,
    concurrency: int,
    max_batch: int | None,
    groups: int = 1,
    inflight: int = 1,
) -> Iterator[GameRecord]:
    """Play `game_ids`, `concurrency` games in flight split into `groups`; yields games as they end.

    With `inflight` >= 2 a group's next level goes out as soon as it is ready, so the device
    works on it while the CPU side serves the other groups.
    """
    source = take_from(game_ids)
    # Split the games in flight evenly, also when the run has fewer games than `concurrency`.
    in_flight = min(concurrency, len(game_ids)) if isinstance(game_ids, Sized) else concurrency
    per_group = max(1, math.ceil(in_flight / groups))
    batcher = _Batcher(engine, max_batch=max_batch, inflight=inflight)
    try:
        with quick_gil_handoff(batcher.pool is not None):
            for _ in range(groups):
                yield from batcher.start(GameSlots(engine, source, per_group))
                if batcher.pool is not None:
                    batcher.send()  # each group's first level its own call: the groups start out of step
            while batcher.queue or batcher.flights:
                batcher.send()
                yield from batcher.receive()
    finally:
        batcher.close()


@dataclass(frozen=True)
class CrossGameOptions:
    """crossgame's options as one typed object, carried whole from the CLI, `BenchSettings`,
    tune and selfplay to the strategy (`make_strategy("crossgame", options)`).

    Args:
        concurrency: games in flight; a finished game is replaced by the next.
        max_batch: no call carries more positions than this (None: no limit).
        groups: games are split into this many groups, each searched in lockstep; the
            batch processor mixes their levels to keep calls full.
        inflight: network calls queued at once; 2 overlaps CPU work with the network.
        workers: 0 plays in this process; W ≥ 1 runs the games in W worker processes
            (`ceil(concurrency / W)` games each) feeding this process's network.
        max_wait_s: with workers, the longest the oldest waiting request is held for a
            fuller call (a call also fires at `max_batch` rows or when every worker waits).
    """

    concurrency: int = DEFAULT_CONCURRENCY
    max_batch: int | None = DEFAULT_MAX_BATCH
    groups: int = 1
    inflight: int = 1
    workers: int = 0
    max_wait_s: float = DEFAULT_MAX_WAIT_S

    def __post_init__(self) -> None:
        for key, least in (("concurrency", 1), ("groups", 1), ("inflight", 1), ("workers", 0)):
            _whole(key, getattr(self, key), least)
        if self.max_batch is not None:
            _whole("max batch", self.max_batch, 1)
        if isinstance(self.max_wait_s, bool) or not isinstance(self.max_wait_s, (int, float)) or not self.max_wait_s >= 0:
            raise PerfkitError(f"max wait must be >= 0 seconds, got {self.max_wait_s!r}")
        if self.workers and (self.groups, self.inflight) != (1, 1):
            raise PerfkitError("groups and inflight apply in-process only (workers 0); with workers, leave them at 1")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The options, in order."""
        return tuple(f.name for f in fields(CrossGameOptions))

    @classmethod
    def given(cls, **values: Any) -> CrossGameOptions:
        """The options with `values` set; a value of None keeps its default (a flag not given)."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise PerfkitError(f"unknown crossgame option(s) {', '.join(unknown)}; choose from: {', '.join(cls.names())}")
        return CrossGameOptions(**{k: v for k, v in values.items() if v is not None})

    @classmethod
    def of(cls, strategy: CrossGameOptions) -> CrossGameOptions:
        """The options a crossgame strategy plays with."""
        return CrossGameOptions(**strategy.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Every option by name (what a run's manifest stores as its strategy settings)."""
        return {name: getattr(self, name) for name in self.names()}

    def strategy(self) -> CrossGame:
        """crossgame with these options, every one of them."""
        return CrossGame(**self.to_dict())


def _whole(key: str, value: object, least: int) -> None:
    """A PerfkitError unless `value` is a whole number >= `least`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise PerfkitError(f"{key} must be a whole number >= {least}, got {value!r}")
    if value < least:
        raise PerfkitError(f"{key} must be >= {least}, got {value}")


@dataclass(frozen=True)
class EngineOptions(CrossGameOptions):
    """The same options, for a user's engine (`perfkit.search.engines.play_engine`), plus what only its
    runs have: how many games, the exact cache, a game timeout and the scheduler of its games.

    The batching fields are crossgame's (one declaration, one set of checks); `max_batch`
    defaults to None here: a call carries at most the games in flight, one request each.
    `groups` (greenlets only): the games split into groups whose calls overlap the other groups'
    searches (`perfkit.batching.greenlets`); `inflight` stays 1.
    """

    max_batch: int | None = None  # most positions per call (None: the games in flight)
    games: int = 16  # games per strategy
    cache: bool = True  # the exact evaluation cache between the engine's predicts and the network (False: --no-cache)
    cache_size: int = DEFAULT_CACHE_ENTRIES  # observations the cache keeps (LRU)
    game_timeout_s: float | None = None  # a game still playing after this stops the run (None: no limit)
    scheduler: str = DEFAULT_SCHEDULER  # crossgame: one thread per game, or the games as greenlets on one thread

    def __post_init__(self) -> None:
        super().__post_init__()
        _whole("games", self.games, 1)
        if self.inflight != 1:
            raise PerfkitError("inflight applies to perfkit's own search; an engine's games overlap the network with --groups 2")
        check_scheduler(self.scheduler)
        if not isinstance(self.cache, bool):
            raise PerfkitError(f"cache must be True or False, got {self.cache!r}")
        check_cache_entries(self.cache_size)
        t = self.game_timeout_s
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not t > 0):
            raise PerfkitError(f"game timeout must be a number of seconds > 0 (or None: no limit), got {t!r}")
        if self.groups != 1 and self.plays_as != "greenlet":
            raise PerfkitError("groups apply to an engine's games as greenlets (--scheduler greenlet, no --game-timeout)")

    @property
    def plays_as(self) -> str:
        """The scheduler the games really run under: greenlets cannot be preempted, so one hung game
        would hold every game and the timeout could not tell which; a game timeout plays in threads."""
        return "threads" if self.game_timeout_s is not None else self.scheduler


@dataclass(frozen=True)
class CrossGame(CrossGameOptions):
    """Cross-game batching (the seed's phase 2), played with its options (`CrossGameOptions`)."""

    _stats: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    name = "crossgame"
    serves: ClassVar[tuple[str, ...]] = (ANY_SEARCH, USER_ENGINE)

    def play(self, game_ids: Iterable[int], engine: Agent) -> Iterator[GameRecord]:
        self._stats.clear()
        engine = for_strategy(engine, self.name, workers=self.workers)
        if self.workers and isinstance(engine.evaluate, Seats):
            raise PerfkitError("two networks at one board (Seats) play in-process only: use workers=0")
        if self.workers:
            return play_with_workers(
                game_ids, engine=engine, workers=self.workers, concurrency=self.concurrency,
                max_batch=self.max_batch, max_wait_s=self.max_wait_s, on_stats=self._stats.update,
            )
        return play_crossgame(
            game_ids, engine=engine, concurrency=self.concurrency, max_batch=self.max_batch,
            groups=self.groups, inflight=self.inflight,
        )

    def settings(self) -> dict[str, Any]:
        return self.to_dict()

    def play_engine(self, games: EngineGames) -> dict[str, Any]:
        """A user's engine: its games in flight as greenlets or one thread each (or in worker
        processes), through one batch server (whose forward is the cache where there is one:
        it answers wholly cached requests as they arrive); returns the server's stats."""
        from perfkit.batching.greenlets import GreenletServer  # torch: not in the light search workers

        in_flight = min(self.concurrency, games.games)
        server = BatchServer(
            games.forward, obs_shape=games.obs_shape, max_batch=self.max_batch or in_flight, max_wait_s=self.max_wait_s,
            owner_of=games.owner_of, lookup=games.lookup,
        )
        stats: dict[str, Any] = {"scheduler": games.scheduler}
        if games.scheduler == "greenlet" and not self.workers:
            hub = GreenletServer(server.forward, obs_shape=games.obs_shape, max_batch=server.max_batch,
                                 owner_of=server.owner_of, lookup=server.lookup, groups=self.groups)
            # The hub and its greenlets in one thread of their own, so a hung game meets the game
            # timeout and a real Ctrl-C lands in the waiting thread, not in a game.
            games.run([lambda: hub.run([lambda: games.play_all(hub.predict)] * in_flight)])
            return {**stats, **hub.stats()}

        def client() -> None:
            with server.client() as predict:
                games.play_all(predict)

        with server:
            if self.workers:
                stats["processes"] = games.in_workers(server)
            else:
                games.run([client] * in_flight)
        return {**stats, **server.stats()}

    def engine_settings(self, games: EngineGames) -> dict[str, Any]:
        """What a user's engine run says it played with (its manifest's strategy settings)."""
        in_flight = min(self.concurrency, games.games)
        return {
            "concurrency": in_flight, "max_batch": self.max_batch or in_flight,
            # greenlets in this process fire only when full or all wait: no max wait applies
            "max_wait_s": self.max_wait_s if self.workers or games.scheduler == "threads" else None,
            "workers": self.workers, "scheduler": games.scheduler,
            **({"groups": self.groups} if self.groups > 1 else {}),
        }

    def stats(self) -> dict[str, Any]:
        """What the last `play` measured beyond the calls (with workers: batching, idle time,
        request counts); empty in-process."""
        return dict(self._stats)
