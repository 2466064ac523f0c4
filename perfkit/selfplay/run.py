"""The self-play driver: play the games DIR is missing, stream them to shards, report progress.

Stopping: SIGINT or SIGTERM stops taking games, writes the finished ones to a shard, marks
progress.json "interrupted" and raises `Interrupted` (the CLI exits 130 or 143); the games in
flight are dropped and replayed, identically, by the next session. SIGKILL at any moment loses
at most the games finished since the last shard (`shard_games`, `flush_s`) and leaves no damaged
file. A network call that keeps failing stops the run the same way with `ForwardFailed`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import numpy as np
from tqdm import tqdm

from perfkit.analysis.summary import DAY_S, PROJECTION_GAMES
from perfkit.instrument.environment import peak_rss_mb
from perfkit.model.resilient import ForwardFailed
from perfkit.selfplay.backends import Backend, RayBackend, make_backend
from perfkit.selfplay.ledger import Ledger, MissingIds
from perfkit.selfplay.settings import SelfplaySettings
from perfkit.selfplay.store import DiskFull, SelfplayDir, digest_dir, log_to_stderr
from perfkit.selfplay.worker import WrapEvaluate
from perfkit.strategies import make_strategy
from perfkit.types import GameRecord, PerfkitError

PROGRESS_EVERY_S = 2.0  # progress.json is rewritten at most this often (and at every shard)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# What signal.signal returns: a function, SIG_DFL/SIG_IGN (ints), or None for a handler not set from Python.
Handler = Callable[[int, FrameType | None], Any] | int | None


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped the run after its finished games were written."""

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message or signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # 130 for SIGINT, 143 for SIGTERM, as a shell reports them


class StopSignals:
    """SIGINT/SIGTERM raise `Interrupted`, except inside `critical()`, which they wait for.

    Only the main thread can own signal handlers; elsewhere this does nothing.
    """

    def __init__(self) -> None:
        self.pending: int | None = None
        self.depth = 0
        self.closing = False  # cleaning up: further signals are ignored
        self.previous: dict[signal.Signals, Handler] = {}  # the handlers ours replaced, restored on exit

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            self.previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.depth or self.closing:
            self.pending = self.pending or signum
            return
        raise Interrupted(signum)

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """A section a signal must not cut in two (a shard write and its bookkeeping)."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.pending is not None and not self.closing:
            raise Interrupted(self.pending)


class RateEstimator:
    """Games/s after warm-up, for the live days estimate.

    A session's first games finish in one burst after the first calls' start-up costs: with G
    games in flight none ends for a whole game's time, then G end together. A rate counted from
    the session's start reads slow until the run has lasted many game times, i.e. for much of a
    short run. So the first `warmup_games` (one per game in flight) are warm-up, and the rate
    counts the games after them over the time since the last of them ended.
    """

    def __init__(self, *, warmup_games: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.warmup_games = max(1, warmup_games)
        self.clock = clock
        self.t0 = clock()
        self.games = 0
        self.warm_s: float | None = None  # clock when the last warm-up game ended

    def game_done(self) -> None:
        self.games += 1
        if self.warm_s is None and self.games >= self.warmup_games:
            self.warm_s = self.clock()

    def rate(self) -> float | None:
        """Games/s since warm-up ended; None until a game has finished after it."""
        if self.warm_s is None:
            return None
        elapsed = self.clock() - self.warm_s
        after = self.games - self.warmup_games
        return after / elapsed if after and elapsed > 0 else None

    def session_rate(self) -> float | None:
        """Games/s since the session started, warm-up included; None before the first game."""
        elapsed = self.clock() - self.t0
        return self.games / elapsed if self.games and elapsed > 0 else None

    def final_rate(self) -> float | None:
        """The rate after warm-up or, for a session too short to have one, the session's whole rate."""
        rate = self.rate()
        return rate if rate is not None else self.session_rate()

    def basis(self, *, final: bool = False) -> str:
        """Which games `rate()` (or, with `final`, `final_rate()`) counts, one line."""
        w = self.warmup_games
        if self.rate() is not None:
            return f"games after the first {w} of this session (warm-up: one per game in flight)"
        if final and self.games:
            return f"the whole session, warm-up included: it ended before a game finished after the first {w}"
        if self.warm_s is None:
            return f"warming up: {self.games} of the first {w} games (one per game in flight) done"
        return f"warm-up over ({w} games); no game finished since"


def games_in_flight(settings: SelfplaySettings, backend: Backend) -> int:
    """Games that start together, so the first wave that ends together (see RateEstimator)."""
    if isinstance(backend, RayBackend):
        return max(1, backend.workers) * settings.chunk  # an actor returns its chunk's games at once
    return int(make_strategy(settings.strategy, settings.workload.crossgame_options()).settings()["concurrency"])


class Progress:
    """Live progress: a tqdm bar on stderr and the same numbers in DIR/progress.json."""

    def __init__(
        self, store: SelfplayDir, settings: SelfplaySettings, *, stored: int, bar: bool,
        clock: Callable[[], float] = time.monotonic, warmup_games: int = 1,
    ) -> None:
        self.store = store
        self.settings = settings
        self.total = settings.games
        self.stored = stored  # games in shards
        self.session = 0  # games finished by this session (stored or buffered)
        self.clock = clock
        self.t0 = clock()
        # a session that plays fewer games than are in flight is all warm-up: its rate is the whole session's
        self.estimator = RateEstimator(warmup_games=min(warmup_games, max(1, self.total - stored)), clock=clock)
        self.last_write = -np.inf
        self.buffered = 0  # finished games waiting for the next shard
        self.backend_stats: dict[str, Any] = {}  # the backend's name, workers and failure counts
        self.reason: str | None = None  # why the run stopped, one line (None while running or finished)
        self.bar = tqdm(
            total=self.total, initial=stored, unit="game", desc="selfplay", file=sys.stderr,
            disable=not bar, dynamic_ncols=True, smoothing=0.1,
        )

    def rates(self, *, final: bool = False) -> dict[str, Any]:
        """The session's time and rate; the rate (and so eta and days) leaves out warm-up (RateEstimator).

        `final` (the run is over): a session too short to get past warm-up reports its whole rate.
        """
        elapsed = self.clock() - self.t0
        rate = self.estimator.final_rate() if final else self.estimator.rate()
        remaining = max(0, self.total - self.stored - self.buffered)
        eta = remaining / rate if rate else (0.0 if remaining == 0 else None)
        return {
            "session_elapsed_s": elapsed,
            "games_per_s": rate,
            "warmup_games": self.estimator.warmup_games,
            "rate_basis": self.estimator.basis(final=final),
            "eta_s": eta,
            "eta_days": None if eta is None else eta / DAY_S,
            "projected_days_500k": PROJECTION_GAMES / rate / DAY_S if rate else None,
        }

    def game_done(self, buffered: int) -> None:
        self.session += 1
        self.estimator.game_done()
        self.buffered = buffered
        self.bar.update(1)
        if self.clock() - self.last_write >= PROGRESS_EVERY_S:
            self.write("running")

    def shard_written(self, games: int) -> None:
        self.stored += games
        self.buffered = 0

    def write(self, state: str, *, last: bool = False) -> dict[str, Any]:
        """Snapshot to progress.json; `last` (how the run ended) is written even on a full disk if it can be."""
        r = self.rates(final=state != "running")
        if r["games_per_s"]:
            self.bar.set_postfix(
                games_s=f"{r['games_per_s']:.2f}", days_500k=f"{r['projected_days_500k']:.1f}", refresh=False
            )
        else:
            warm = r["warmup_games"]
            self.bar.set_postfix(warm_up=f"{min(self.session, warm)}/{warm} games", refresh=False)
        snapshot = {
            "state": state,  # running, finished, interrupted, disk_full, failed
            "stopped": self.reason,
            "pid": os.getpid(),
            "games_requested": self.total,
            "games_stored": self.stored,
            "games_done": self.stored + self.buffered,
            "session_games": self.session,
            **r,
            **self.backend_stats,
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "peak_rss_mb": peak_rss_mb(),
        }
        self.store.write_progress(snapshot, last=last)
        self.last_write = self.clock()
        return snapshot

    def close(self) -> None:
        self.bar.close()


def selfplay(
    settings: SelfplaySettings,
    out: str | os.PathLike[str],
    *,
    progress: bool = True,
    wrap_evaluate: WrapEvaluate | None = None,
    log: Callable[[str], None] = log_to_stderr,
    on_ray_result: Callable[[RayBackend], None] | None = None,
) -> dict[str, Any]:
    """Bring DIR `out` to `settings.games` games, playing only those it lacks; returns a summary.

    Resumable: run it again with the same settings after any stop. Raises `Interrupted` on
    SIGINT/SIGTERM and PerfkitError (`ForwardFailed` for the network, `DiskFull` for the disk)
    on failure, always after writing every finished game it can. A new DIR is claimed only
    once the network is loaded on its device: a failed start leaves nothing behind.

    Args:
        settings: the run (see SelfplaySettings).
        out: the self-play directory; created if missing.
        progress: show the tqdm bar on stderr (progress.json is always written).
        wrap_evaluate: applied to the network's evaluate (instrumentation, fault injection).
        log: warnings and notes, one line each.
        on_ray_result: Ray backend only; see RayBackend.
    """
    _check_arguments(settings, out)
    store = SelfplayDir.open(out, identity=settings.identity(), created_with=settings.produced_by(), log=log)
    backend: Backend | None = None
    report: Progress | None = None
    # One try/finally around everything after the claim of DIR: every way out (done, SIGINT,
    # disk full, a failing network) releases the backend, the lock and the bar.
    try:
        n = settings.games
        _refuse_shrinking(store, n, out)
        done = store.ledger.copy()  # stored + finished this session: guards against writing a game twice
        todo = done.missing(n)  # lazy: costs the ledger's ranges, not N
        meta = settings.produced_by()
        backend = make_backend(settings, wrap_evaluate=wrap_evaluate, log=log, on_result=on_ray_result)
        if todo:
            backend.start()  # before our signal handlers: ray.init installs its own
            meta["devices"] = sorted(set(backend.devices))
        _claim(store)
        report = Progress(
            store, settings, stored=done.count, bar=progress, warmup_games=games_in_flight(settings, backend)
        )
        report.backend_stats = {"backend": backend.name, "workers": backend.workers, **backend.stats}
        shards = ShardBuffer(store, report, backend, meta=meta, settings=settings)
        _play_and_store(backend, todo, done=done, shards=shards, report=report, out=out, n=n)
        report.backend_stats.update(backend.stats)
        final = report.write("finished")
        report.close()
        return _summary(store, settings, report, final, out=out, n=n)
    finally:
        if report is not None:
            report.close()
        if backend is not None:
            backend.close()
        store.close()


def _check_arguments(settings: object, out: object) -> None:
    if not isinstance(settings, SelfplaySettings):
        raise PerfkitError(f"selfplay needs a SelfplaySettings, got {type(settings).__name__}")
    if not isinstance(out, (str, os.PathLike)):
        raise PerfkitError(f"selfplay needs an output directory path (str or Path), got {type(out).__name__}")


def _refuse_shrinking(store: SelfplayDir, n: int, out: str | os.PathLike[str]) -> None:
    """Game ids are 0..N-1: a DIR holding an id >= n was asked for more games than n."""
    if store.ledger.max_id() >= n:
        raise PerfkitError(
            f"{out} already holds games up to id {store.ledger.max_id()}: --games can grow on resume "
            f"but not shrink; pass --games {store.ledger.max_id() + 1} or more"
        )


def _claim(store: SelfplayDir) -> None:
    """Make DIR this run's: called once the network is on its device, so a failed start writes nothing."""
    try:
        store.claim()
    except PerfkitError as exc:
        fix = "free space or choose another --out" if isinstance(exc, DiskFull) else "choose another --out"
        raise type(exc)(f"{exc}; nothing was written; {fix}, then run the same command again") from None


class ShardBuffer:
    """Finished games waiting for the next shard, written once there are `shard_games` of them
    or `flush_s` has passed since the last shard (so a kill loses at most that)."""

    def __init__(
        self, store: SelfplayDir, report: Progress, backend: Backend, *, meta: dict[str, Any],
        settings: SelfplaySettings,
    ) -> None:
        self.store = store
        self.report = report
        self.backend = backend
        self.meta = meta  # how this session produces games, stored in every shard
        self.settings = settings
        self.games: list[GameRecord] = []
        self.last_flush = time.monotonic()

    def add(self, game: GameRecord) -> None:
        self.games.append(game)
        self.report.game_done(len(self.games))

    def due(self) -> bool:
        return len(self.games) >= self.settings.shard_games or time.monotonic() - self.last_flush >= self.settings.flush_s

    def flush(self, *, write_progress: bool = True) -> None:
        """Write the buffered games as a shard (if any), then progress.json unless told not to."""
        if self.games:
            self.store.write_shard(self.games, self.meta)
            self.report.shard_written(len(self.games))
            self.games = []
        self.last_flush = time.monotonic()
        self.report.backend_stats.update(self.backend.stats)
        if write_progress:
            self.report.write("running")


def _play_and_store(
    backend: Backend, todo: MissingIds, *, done: Ledger, shards: ShardBuffer, report: Progress,
    out: str | os.PathLike[str], n: int,
) -> None:
    """Play the games `todo` and store them as they finish; on any stop, store what is finished
    and raise how it ended (`_stopped`)."""
    with StopSignals() as signals:
        try:
            report.write("running")  # the first write: a disk full on resume stops here
            for game in backend.play(todo) if todo else ():
                if not done.add(game.game):
                    continue  # never twice, whatever a backend delivers
                shards.add(game)
                if shards.due():
                    with signals.critical():
                        shards.flush()
        except BaseException as exc:
            signals.closing = True
            raise _stopped(exc, flush=shards.flush, report=report, out=out, n=n) from None
        shards.flush()


def _summary(
    store: SelfplayDir, settings: SelfplaySettings, report: Progress, final: dict[str, Any], *,
    out: str | os.PathLike[str], n: int,
) -> dict[str, Any]:
    """What `selfplay` returns (its keys: `perfkit.selfplay.keys.SELFPLAY_JSON_KEYS`)."""
    return {
        "out": str(out),
        "state": "finished",
        "games_requested": n,
        "games": sum(s.games for s in store.shard_list),
        "unique_games": store.ledger.count,
        "missing_games": n - store.ledger.count_below(n),
        "game_digest": digest_dir(store.shard_list),
        "shards": len(store.shard_list),
        "strategy": settings.strategy,
        "concurrency": settings.concurrency,
        "session_games": report.session,
        "wall_s": final["session_elapsed_s"],
        "games_per_s": final["games_per_s"],
        "projected_days_500k": final["projected_days_500k"],
        "warmup_games": final["warmup_games"],
        "rate_basis": final["rate_basis"],
        "peak_rss_mb": peak_rss_mb(),
        **report.backend_stats,
    }


def _stopped(
    exc: BaseException, *, flush: Callable[..., None], report: Progress, out: str | os.PathLike[str], n: int
) -> BaseException:
    """Store what is finished, record in progress.json how the run ended, and say it in one line."""
    if not isinstance(exc, DiskFull):  # a full disk takes no shard: those games are played again
        try:
            flush(write_progress=False)
        except PerfkitError as saving:
            exc = saving if not isinstance(exc, Interrupted) else exc
    where = f"{report.stored} of {n} games are stored in {out}"
    stop: BaseException
    if isinstance(exc, Interrupted):
        state, stop = "interrupted", Interrupted(
            exc.signum,
            f"interrupted by {signal.Signals(exc.signum).name}; {where}; run the same command again to resume",
        )
    elif isinstance(exc, DiskFull):
        state, stop = "disk_full", DiskFull(f"{exc}; {where}; free space and run the same command again to resume")
    elif isinstance(exc, ForwardFailed):
        state, stop = "failed", ForwardFailed(
            f"{exc}; {where}, every completed game kept; fix the cause (a smaller --max-batch "
            "or --concurrency, a free device) and run the same command again to resume"
        )
    elif isinstance(exc, PerfkitError):
        state, stop = "failed", PerfkitError(f"{exc}; {where}; run the same command again to resume")
    else:  # not ours (a bug): progress says so, and the traceback stays for the report
        text = str(exc).strip().splitlines()
        state, stop = "failed", exc
    report.reason = str(stop) if stop is not exc else f"{type(exc).__name__}: {text[0] if text else ''}"
    report.write(state, last=True)
    report.close()
    return stop
