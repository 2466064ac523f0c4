"""`crossgame` with `workers`: an engine's games in W processes, one device server.

The device process (`play_with_workers`) owns the network; each worker process
(`worker_main`) rebuilds the engine from its name, plays its share of the game ids as
greenlets or threads (the run's scheduler) through a local batch server whose calls go to
the device process over shared memory (`perfkit.batching.processes`, which also starts and
stops the workers, as it does perfkit's own search workers), and sends every finished game
back. A game depends only on (seed, game id), so which worker plays it changes nothing.

The exact evaluation cache (`ObservationCache`) sits in the device process only, in front
of the device's batch server, and not in each worker:

- one cache sees every game whichever worker plays it: an engine's own tables already catch
  its repeats within a game (OpenSpiel's evaluator, alpha-zero-general's `Ps`), so what is
  left to catch repeats *across* games (openings above all), which a worker-local cache
  would send once per worker;
- the device server is one thread that looks a call's rows up after the previous call has
  stored its answers, so the network sees each distinct observation once (up to the bound)
  whatever the workers, concurrency or timing: naive, crossgame and crossgame with workers
  send the same boards, and the counts are exact;
- one `--cache-size` bounds the run's memory, not W + 1 copies of it.

What a hit still costs is the row's trip through shared memory (a copy and a pipe message,
microseconds); it never reaches the network. A request whose rows are all cached is
answered as it arrives, without waiting for the device's next call; each row's share of
its lookup goes back with it, so the worker charges its moves as in-process games are.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from perfkit.batching.greenlets import GreenletServer
from perfkit.batching.processes import (
    CRASH_ENV,
    SharedRows,
    WorkerProcess,
    crash_hook,
    launch,
    remote_forward,
    serve_worker,
    stop,
)
from perfkit.batching.server import BatchServer
from perfkit.types import PerfkitError


@dataclass(frozen=True)
class WorkerConfig:
    index: int
    spec: str  # the engine, as make_engine takes it
    game: str
    simulations: int
    seed: int
    game_ids: list[int]
    threads: int  # games in flight in this worker
    max_wait_s: float
    conn_fd: int = -1  # set by the launcher: the worker's pipe
    shm_fd: int = -1  # set by the launcher: its shared rows
    crash_after: int | None = None
    game_timeout_s: float | None = None  # a game playing longer stops this worker, and the run
    scheduler: str = "threads"  # "greenlet": the worker's games as greenlets on its one thread


def shared_rows(fd: int | None, *, rows: int, obs_shape: tuple[int, ...], actions: int) -> SharedRows:
    """One worker's shared memory: its games' observations and their answers (a new block where
    `fd` is None: the device process's side)."""
    inputs = [("obs", "float32", tuple(obs_shape))]
    if fd is None:
        return SharedRows.create(rows=rows, inputs=inputs, actions=actions)
    return SharedRows(fd, rows=rows, inputs=inputs, actions=actions)


def main(cfg: dict[str, Any]) -> int:
    """The worker's entry point (`perfkit.batching.processes.launch`)."""
    return worker_main(WorkerConfig(**cfg))


def worker_main(cfg: WorkerConfig) -> int:
    """A worker process: play `cfg.game_ids`, `cfg.threads` at a time (greenlets or threads), evaluations remote."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the device process's to handle
    import torch

    torch.set_num_threads(1)
    from perfkit.instrument.trace import Tracer
    from perfkit.search.engines import make_engine
    from perfkit.search.engines.run import _Games, run_game_threads

    conn = Connection(cfg.conn_fd)
    engine = make_engine(cfg.spec, game=cfg.game, simulations=cfg.simulations, seed=cfg.seed)
    rows = shared_rows(cfg.shm_fd, rows=cfg.threads, obs_shape=engine.obs_shape, actions=engine.actions)
    marks = Tracer(None, name="worker", sample_gpu=False)  # the device process samples the GPU
    send_lock = threading.Lock()
    forward = remote_forward(conn, rows, attribute=marks.attribute, send_lock=send_lock, crash_after=cfg.crash_after)

    def send_game(game_id: int, why: str | None) -> None:
        if why is None:  # a finished game; a failed one goes back with "done"
            record = next(g for g in marks.recorder.games if g.game == game_id)
            with send_lock:
                conn.send(("game", record))

    games = _Games(engine, marks, cfg.game_ids, on_game=send_game)
    if cfg.scheduler == "greenlet":  # the games as greenlets in one thread (it meets --game-timeout)
        hub = GreenletServer(forward, obs_shape=engine.obs_shape, max_batch=cfg.threads, owner_of=marks.current_move)
        run_game_threads([lambda: hub.run([lambda: games.play_all(hub.predict)] * cfg.threads)], games,
                         cfg.game_timeout_s)
    else:
        server = BatchServer(
            forward, obs_shape=engine.obs_shape, max_batch=cfg.threads, max_wait_s=cfg.max_wait_s,
            owner_of=marks.current_move,
        )

        def play() -> None:
            with server.client() as predict:
                games.play_all(predict)

        with server:
            run_game_threads([play] * cfg.threads, games, cfg.game_timeout_s)
    with games.lock, send_lock:
        conn.send(("done", list(games.failures), games.timed_out))
    rows.close()
    return 0


def _absolute(spec: str) -> str:
    """A FILE.py:FACTORY engine with an absolute path (a worker may start elsewhere)."""
    where, sep, name = spec.rpartition(":")
    return f"{os.path.abspath(where)}{sep}{name}" if where.endswith(".py") else spec


class _Proxies:
    """The device process's side of an engine's worker processes: one proxy thread per worker,
    a client of the device's batch server; finished games go to the tracer as they come."""

    def __init__(self, server: BatchServer, tracer: Any, *, workers: int, failures: list[tuple[int, str]], on_game: Callable[..., None],
                 game_timeout_s: float | None, on_timeout: Callable[..., None] | None) -> None:
        self.server, self.tracer, self.failures, self.on_game = server, tracer, failures, on_game
        self.game_timeout_s, self.on_timeout = game_timeout_s, on_timeout
        self.workers: list[WorkerProcess] = []
        self.threads: list[threading.Thread] = []
        self.died: list[str] = []
        self.stopping = threading.Event()  # a game timed out: the workers are stopped on purpose
        self.done = [0] * workers  # games each worker finished

    def start(self, worker: WorkerProcess) -> None:
        self.workers.append(worker)
        t = threading.Thread(target=self.proxy, args=(worker,), name=f"perfkit-proxy-{worker.index}")
        t.start()
        self.threads.append(t)

    def stop_workers(self) -> None:
        for w in self.workers:  # no game is waited for in vain
            if w.proc.poll() is None:
                w.proc.terminate()

    def on_message(self, index: int, msg: tuple[Any, ...]) -> bool:
        """A worker's message other than a request; True once it is done."""
        if msg[0] == "game":
            self.tracer.recorder.on_game(msg[1])
            self.done[index] += 1
            self.on_game(msg[1].game, None)
            return False
        if msg[0] != "done":
            return False
        _, failed, timed_out = msg
        if timed_out is not None:
            failed = [f for f in failed if f[0] != timed_out]  # on_timeout names it
            self.stopping.set()
            if self.on_timeout is not None:
                self.on_timeout(timed_out, self.game_timeout_s)
            self.stop_workers()
        self.failures.extend(failed)
        for game_id, why in failed:
            self.on_game(game_id, why)
        return True

    def proxy(self, w: WorkerProcess) -> None:
        try:
            serve_worker(w.conn, w.rows, self.server, on_message=lambda msg: self.on_message(w.index, msg))
        except (EOFError, OSError):
            if self.stopping.is_set():  # stopped by the run, not dead
                return
            self.died.append(f"worker {w.index} died ({w.exit_line(timeout_s=5)}) after {self.done[w.index]} games")
            self.stop_workers()
        finally:
            w.conn.close()


def play_with_workers(
    engine: Any, *, spec: str, game: str, simulations: int, seed: int, games: int, concurrency: int, workers: int,
    server: BatchServer, tracer: Any, failures: list[tuple[int, str]], on_game: Callable[..., None], game_timeout_s: float | None = None,
    on_timeout: Callable[..., None] | None = None, scheduler: str = "threads",
) -> dict[str, Any]:
    """Play `games` games in `workers` processes through `server`; finished games go to `tracer`.

    A game playing longer than `game_timeout_s` stops its worker, which says so
    (`on_timeout(game_id, game_timeout_s)`), and the run: the other workers are stopped.

    Returns the per-worker counts. Raises PerfkitError if a worker dies (the others are stopped).
    """
    per_worker = math.ceil(min(concurrency, games) / workers)
    proxies = _Proxies(server, tracer, workers=workers, failures=failures, on_game=on_game, game_timeout_s=game_timeout_s,
                       on_timeout=on_timeout)
    try:
        for i in range(workers):
            ids = list(range(i, games, workers))
            if not ids:
                continue
            threads_here = min(per_worker, len(ids))
            hook = crash_hook(i)  # (after k requests, raise): an engine's worker only exits
            cfg = WorkerConfig(
                index=i, spec=_absolute(spec), game=game, simulations=simulations, seed=seed, game_ids=ids,
                threads=threads_here, max_wait_s=server.max_wait_s, crash_after=hook[0] if hook else None,
                game_timeout_s=game_timeout_s, scheduler=scheduler,
            )
            rows = shared_rows(None, rows=threads_here, obs_shape=engine.obs_shape, actions=engine.actions)
            proxies.start(launch(i, entry="perfkit.search.engines.workers:main", cfg=dataclasses.asdict(cfg), rows=rows))
        for t in proxies.threads:
            t.join()
    finally:
        stop(proxies.workers, close_conns=False)  # each proxy closes its own worker's pipe
    if proxies.died:
        raise PerfkitError(f"{proxies.died[0]}; the run is stopped, {sum(proxies.done)} games completed")
    return {"workers": len(proxies.workers), "games_per_worker": per_worker, "games_by_worker": proxies.done}


__all__ = ["CRASH_ENV", "play_with_workers"]
