"""`crossgame` with `workers`: an engine's games in W processes, one device server.

The device process (`play_with_workers`) owns the network; each worker process
(`worker_main`) rebuilds the engine from its name, plays its share of the game ids as
greenlets or threads (the run's scheduler) through a local batch server whose calls go to
the device process over shared memory (`perfkit.batching.processes`), and sends every
finished game back. A game depends
only on (seed, game id), so which worker plays it changes nothing.

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
import json
import math
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe

from perfkit.batching.greenlets import GreenletServer
from perfkit.batching.processes import SharedRows, remote_forward, serve_worker
from perfkit.batching.server import BatchServer
from perfkit.types import PerfkitError

# Test hook: "I:K" makes worker I exit with code 3 when about to send request K+1.
CRASH_ENV = "PERFKIT_TEST_ENGINE_WORKER_EXIT"


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
    conn_fd: int
    shm_fd: int
    crash_after: int | None = None
    game_timeout_s: float | None = None  # a game playing longer stops this worker, and the run
    scheduler: str = "threads"  # "greenlet": the worker's games as greenlets on its one thread


# A worker runs this with `python -c`: a fresh interpreter, no torch or CUDA state forked.
_BOOT = """\
import json, sys
cfg = json.loads(sys.argv[1])
sys.path[:] = cfg.pop("sys_path")
from perfkit.engines.workers import WorkerConfig, worker_main
sys.exit(worker_main(WorkerConfig(**cfg)))
"""


def worker_main(cfg: WorkerConfig) -> int:
    """A worker process: play `cfg.game_ids`, `cfg.threads` at a time (greenlets or threads), evaluations remote."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the device process's to handle
    import torch

    torch.set_num_threads(1)
    from perfkit.engines import make_engine
    from perfkit.engines.run import _Games, run_game_threads
    from perfkit.instrument.trace import Tracer

    conn = Connection(cfg.conn_fd)
    engine = make_engine(cfg.spec, game=cfg.game, simulations=cfg.simulations, seed=cfg.seed)
    rows = SharedRows(cfg.shm_fd, rows=cfg.threads, obs_shape=engine.obs_shape, actions=engine.actions)
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


def _crash_hook(index: int) -> int | None:
    text = os.environ.get(CRASH_ENV)
    if not text:
        return None
    worker, after = (int(x) for x in text.split(":"))
    return after if worker == index else None


def _absolute(spec: str) -> str:
    """A FILE.py:FACTORY engine with an absolute path (a worker may start elsewhere)."""
    where, sep, name = spec.rpartition(":")
    return f"{os.path.abspath(where)}{sep}{name}" if where.endswith(".py") else spec


def play_with_workers(
    engine, *, spec: str, game: str, simulations: int, seed: int, games: int, concurrency: int, workers: int,
    server: BatchServer, tracer, failures: list, on_game, game_timeout_s: float | None = None, on_timeout=None,
    scheduler: str = "threads",
) -> dict:
    """Play `games` games in `workers` processes through `server`; finished games go to `tracer`.

    A game playing longer than `game_timeout_s` stops its worker, which says so
    (`on_timeout(game_id, game_timeout_s)`), and the run: the other workers are stopped.

    Long on purpose: starting the workers, their proxies and the cleanup that must stop every
    process and free every shared block whatever failed, are one try/finally.

    Returns the per-worker counts. Raises PerfkitError if a worker dies (the others are stopped).
    """
    in_flight = min(concurrency, games)
    per_worker = math.ceil(in_flight / workers)
    procs: list[subprocess.Popen] = []
    threads: list[threading.Thread] = []
    blocks: list[SharedRows] = []
    died: list[str] = []
    stopping = threading.Event()  # a game timed out: the workers are stopped on purpose
    done = [0] * workers

    def stop_workers() -> None:
        for p in procs:  # no game is waited for in vain
            if p.poll() is None:
                p.terminate()

    def proxy(i: int, conn, rows: SharedRows, proc) -> None:
        def on_message(msg) -> bool:
            if msg[0] == "game":
                tracer.recorder.on_game(msg[1])
                done[i] += 1
                on_game(msg[1].game, None)
                return False
            if msg[0] == "done":
                _, failed, timed_out = msg
                if timed_out is not None:
                    failed = [f for f in failed if f[0] != timed_out]  # on_timeout names it
                    stopping.set()
                    if on_timeout is not None:
                        on_timeout(timed_out, game_timeout_s)
                    stop_workers()
                failures.extend(failed)
                for game_id, why in failed:
                    on_game(game_id, why)
                return True
            return False

        try:
            serve_worker(conn, rows, server, on_message=on_message)
        except (EOFError, OSError):
            if stopping.is_set():  # stopped by the run, not dead
                return
            try:
                code = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            how = f"exit code {code}" if code is None or code >= 0 else f"killed by signal {-code}"
            died.append(f"worker {i} died ({how}) after {done[i]} games")
            stop_workers()
        finally:
            conn.close()

    try:
        for i in range(workers):
            ids = tuple(range(i, games, workers))
            if not ids:
                continue
            threads_here = min(per_worker, len(ids))
            rows = SharedRows(SharedRows.new_fd(), rows=threads_here, obs_shape=engine.obs_shape, actions=engine.actions)
            blocks.append(rows)
            parent, child = Pipe(duplex=True)
            cfg = WorkerConfig(
                index=i, spec=_absolute(spec), game=game, simulations=simulations, seed=seed, game_ids=list(ids),
                threads=threads_here, max_wait_s=server.max_wait_s, conn_fd=child.fileno(), shm_fd=rows.fd,
                crash_after=_crash_hook(i), game_timeout_s=game_timeout_s, scheduler=scheduler,
            )
            env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-c", _BOOT, json.dumps({**dataclasses.asdict(cfg), "sys_path": sys.path})],
                    pass_fds=(child.fileno(), rows.fd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env,
                )
            finally:
                child.close()
            procs.append(proc)
            t = threading.Thread(target=proxy, args=(i, parent, rows, proc), name=f"perfkit-proxy-{i}")
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
    finally:
        for p in procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.terminate()
                p.wait()
        for rows in blocks:
            rows.close()
    if died:
        raise PerfkitError(f"{died[0]}; the run is stopped, {sum(done)} games completed")
    return {"workers": len(procs), "games_per_worker": per_worker, "games_by_worker": done}


__all__ = ["CRASH_ENV", "play_with_workers"]
