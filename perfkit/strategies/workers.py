"""Worker processes feeding one device-owning batch server (`crossgame` with `workers` ≥ 1).

Once calls are big, the games' CPU side (search bookkeeping, move generation, win
detection) is what the device waits for (SPEC §2). Here W worker processes each run their
own group of games (a `GameSlots`, `ceil(concurrency / W)` games in lockstep); this process
is the batch server: it owns the evaluator (the device), gathers the workers' search levels
and answers them in shared calls.

Transport, per worker:
- one shared-memory block (an anonymous memfd, mapped by both sides) holding the request
  rows (stones int8 [R, N*N], to_move, want-policy/value flags) and their answers (logits
  and values float64, and each row's `share`: 1 / the size of the call it went in, so the
  worker attributes calls to its games exactly as the in-process path does);
- one socket pair for small pickled messages: requests (sequence number, rows, level,
  send time), answers (the sequence number), game ids on demand, finished games, the
  worker's final counts. A worker that dies closes its socket, so the server sees it at once.

Dynamic batching (like Triton's or Ray Serve's batch settings): pending requests queue in
arrival order; a call fires when the pending rows reach `max_batch`, when the oldest
request has waited `max_wait_s`, or when every live worker is waiting (nothing more can
come). A call takes whole requests, oldest first, up to `max_batch` rows; a request larger
than `max_batch` is split into several calls. Each call records its queue wait (the oldest
row's) through the evaluator; batch fill, worker idle time and the request counts of both
sides are returned as stats, and the counts are checked: no request lost or duplicated.

Workers are started by the one launcher (`perfkit.batching.processes.launch`): fresh
interpreters, light ones here (no torch imported). A game depends only on (seed, game id),
so the games are identical to every other strategy's, whatever the workers and batching
(SPEC §1.4).
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from perfkit.batching.processes import CRASH_ENV, SharedRows, WorkerProcess, crash_hook, launch, stop
from perfkit.batching.queue import RowQueue
from perfkit.game import game_spec
from perfkit.strategies.base import Agent, GameSlots, Tally, drive, take_from
from perfkit.types import EvalRequest, Evaluation, GameRecord, PerfkitError, SearchConfig

DEFAULT_MAX_WAIT_S = 0.002
POLL_S = 0.25  # how often an idle server checks that its workers are alive
_POLICY, _VALUE = 1, 2  # row flags


def request_rows(capacity: int, config: SearchConfig) -> int:
    """The most rows one search level of `capacity` games can ask for (level 1 or the leaves)."""
    return capacity * max(config.value_topk, math.prod(config.widths))


def shared_rows(fd: int | None, rows: int, game: Any) -> SharedRows:
    """One worker's shared memory: its request rows (compact boards, side to move, flags:
    _POLICY | _VALUE) and their answers; a new block where `fd` is None (the server's side)."""
    inputs = [("stones", game.compact_dtype, (game.compact_width,)), ("to_move", np.int8, ()), ("flags", np.uint8, ())]
    if fd is None:
        return SharedRows.create(rows=rows, inputs=inputs, actions=game.actions)
    return SharedRows(fd, rows=rows, inputs=inputs, actions=game.actions)


# ----------------------------------------------------------------------------- the worker


class _Client:
    """A worker's side of the transport: its search levels go to the server, answers come back."""

    def __init__(self, conn: Connection, buf: SharedRows, *, crash: tuple[int, bool] | None) -> None:
        self.conn, self.buf, self.crash = conn, buf, crash
        self.sent = self.answered = self.rows = 0
        self.idle_s = 0.0  # blocked waiting for answers or game ids
        self.exhausted = False

    def _receive(self, kind: str) -> tuple[Any, ...]:
        t0 = time.perf_counter()
        msg = self.conn.recv()
        self.idle_s += time.perf_counter() - t0
        if msg[0] == "stop":
            raise SystemExit(0)
        if msg[0] != kind:
            raise RuntimeError(f"expected a {kind!r} message from the server, got {msg[0]!r}")
        return tuple(msg)

    def source(self, k: int) -> list[int]:
        """Up to k game ids not yet played, from the server's shared source."""
        if self.exhausted or k <= 0:
            return []
        self.conn.send(("ids", k))
        ids: list[int] = list(self._receive("ids")[1])
        self.exhausted = len(ids) < k
        return ids

    def evaluate(self, req: EvalRequest, tally: Tally) -> Evaluation:
        """One search level through the server; its calls are attributed to the roots in `tally`."""
        k, buf = len(req), self.buf
        if k > buf.rows:
            raise RuntimeError(f"a search level of {k} positions exceeds the {buf.rows} rows of shared memory")
        if self.crash is not None and self.sent == self.crash[0]:  # the test hook
            if self.crash[1]:
                raise RuntimeError(f"test hook: failing before request {self.sent + 1}")
            os._exit(3)  # die without a word, as a crash would
        buf.stones[:k] = req.stones
        buf.to_move[:k] = req.to_move
        buf.flags[:k] = req.want_policy * _POLICY + req.want_value * _VALUE
        self.sent += 1
        self.rows += k
        self.conn.send(("req", self.sent, k, req.level, time.perf_counter()))
        seq = self._receive("ans")[1]
        if seq != self.sent:
            raise RuntimeError(f"answer {seq} received for request {self.sent}")
        self.answered += 1
        logits, values = buf.logits[:k].copy(), buf.values[:k].copy()
        np.add.at(tally.calls, req.owner, buf.share[:k])
        np.add.at(tally.boards, req.owner, 1)
        return Evaluation(logits, values)


def _no_network(*args: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
    raise RuntimeError("a worker has no network: its evaluations go to the batch server")


def worker_main(cfg: dict[str, Any]) -> int:
    """A worker process: play games from the server's source until there are none left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle; it stops us
    conn = Connection(cfg["conn_fd"])
    buf = None
    try:
        from perfkit.game import get_game

        game = get_game(cfg["game"], board=cfg["board"])
        buf = shared_rows(cfg["shm_fd"], cfg["rows"], game)
        client = _Client(conn, buf, crash=cfg.get("crash"))
        engine = Agent(evaluate=_no_network, game=game, config=SearchConfig(**cfg["config"]), seed=cfg["seed"])
        slots = GameSlots(engine, client.source, cfg["capacity"])
        games, t0 = 0, time.perf_counter()
        while (steps := slots.begin()) is not None:
            results = drive(steps, lambda req: client.evaluate(req, slots.tally))
            finished = slots.end(results)
            if finished:
                games += len(finished)
                conn.send(("games", finished))
        conn.send(("done", {
            "sent": client.sent, "answers_received": client.answered, "rows_sent": client.rows,
            "games": games, "idle_s": client.idle_s, "wall_s": time.perf_counter() - t0,
            "imports_torch": "torch" in sys.modules,
        }))
        return 0
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return 0  # the server went away (it stopped the run); nothing to report to
    except Exception:
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass
        return 1
    finally:
        if buf is not None:
            buf.close()
        conn.close()


# ----------------------------------------------------------------------------- the server


@dataclass
class _Worker:
    """The server's view of one worker process."""

    process: WorkerProcess
    received: int = 0  # requests received
    answered: int = 0  # requests answered
    rows: int = 0  # rows received
    waiting: bool = False  # a request of this worker is not answered yet
    done: dict[str, Any] | None = None  # the worker's own counts, once it has finished
    error: str | None = None  # a traceback the worker sent before exiting

    @property
    def index(self) -> int:
        return self.process.index

    @property
    def conn(self) -> Connection:
        return self.process.conn

    @property
    def buf(self) -> SharedRows:
        return self.process.rows


@dataclass
class _Level:
    """A worker's search level waiting for (the rest of) its calls (a `Pending` of the batching core)."""

    worker: _Worker
    seq: int
    rows: int
    level: int
    answered: int = 0  # rows whose answers are in the worker's shared memory

    def answer(self, lo: int, hi: int, logits: np.ndarray, values: np.ndarray, call_rows: int) -> bool:
        buf = self.worker.buf
        buf.logits[lo:hi], buf.values[lo:hi], buf.share[lo:hi] = logits, values, 1.0 / call_rows
        self.answered += hi - lo
        return self.answered == self.rows


@dataclass
class _Counts:
    calls: int = 0
    rows: int = 0
    fired: dict[str, int] = field(default_factory=lambda: {"full": 0, "max_wait": 0, "all_waiting": 0})


class _Server:
    """The device process's side: the workers, their search levels queued, the calls that answer them."""

    def __init__(self, engine: Agent, *, source: Callable[[int], list[int]], max_batch: int | None,
                 max_wait_s: float) -> None:
        self.engine, self.source, self.max_wait_s = engine, source, max_wait_s
        self.pool: list[_Worker] = []
        self.pending = RowQueue(max_batch)
        self.counts = _Counts()
        self.games_done = 0

    def start(self, workers: int, *, capacity: int) -> None:
        """Start the workers, `capacity` games each."""
        assert isinstance(self.engine.config, SearchConfig)  # mcts keeps its trees in-process (search.config_for refuses it)
        rows = request_rows(capacity, self.engine.config)
        cfg = {"rows": rows, "game": game_spec(self.engine.game), "board": self.engine.game.describe().get("board", 0),
               "config": self.engine.config.to_dict(), "seed": int(self.engine.seed), "capacity": capacity}
        for i in range(workers):
            block = shared_rows(None, rows, self.engine.game)
            self.pool.append(_Worker(launch(
                i, entry="perfkit.strategies.workers:worker_main", cfg={**cfg, "crash": crash_hook(i)}, rows=block,
                light=True,
            )))

    def fail(self, w: _Worker) -> PerfkitError:
        """What the run says when worker `w` failed or died."""
        if w.error:
            last = w.error.strip().splitlines()[-1]
            return PerfkitError(f"worker {w.index} failed: {last}; {self.games_done} games completed")
        return PerfkitError(
            f"worker {w.index} died ({w.process.exit_line()}) after {w.received} requests; the run is stopped, "
            f"{self.games_done} games completed"
        )

    def receive(self, w: _Worker, finished: list[GameRecord]) -> None:
        """Handle every message waiting on `w`'s connection."""
        while True:
            try:
                msg = w.conn.recv()
            except (EOFError, OSError):
                raise self.fail(w) from None
            kind = msg[0]
            if kind == "req":
                _, seq, k, level, sent_s = msg
                if seq != w.received + 1 or w.waiting:
                    raise PerfkitError(f"worker {w.index}: request {seq} out of order after {w.received}")
                w.received, w.rows, w.waiting = w.received + 1, w.rows + k, True
                self.pending.push(_Level(w, seq, k, level), k, min(sent_s, time.perf_counter()))
            elif kind == "ids":
                w.conn.send(("ids", self.source(msg[1])))
            elif kind == "games":
                finished.extend(msg[1])
            elif kind == "done":
                w.done = msg[1]
                return
            elif kind == "error":
                w.error = msg[1]
                raise self.fail(w)
            if not w.conn.poll():
                return

    def one_call(self) -> None:
        """One call from the oldest pending rows (up to `max_batch`; a level may be split)."""
        call = self.pending.take()
        flags = call.gather(lambda p: p.worker.buf.flags)
        levels = {p.level for p, _ in call.parts()}
        logits, values = self.engine.evaluate(
            call.gather(lambda p: p.worker.buf.stones), call.gather(lambda p: p.worker.buf.to_move),
            n_policy=int(np.count_nonzero(flags & _POLICY)), n_value=int(np.count_nonzero(flags & _VALUE)),
            level=levels.pop() if len(levels) == 1 else -1, queue_wait_s=time.perf_counter() - call.oldest_s,
        )
        self.counts.calls += 1
        self.counts.rows += len(call)
        for p in call.scatter(logits, values):  # whole levels answered
            p.worker.answered += 1
            p.worker.waiting = False
            p.worker.conn.send(("ans", p.seq))

    def live(self) -> list[_Worker]:
        return [w for w in self.pool if w.done is None]

    def step(self) -> list[GameRecord]:
        """Wait for messages (at most until the oldest request's max wait), handle them, fire
        the calls that are due; returns the games that ended."""
        live = self.live()
        timeout = POLL_S
        if (oldest := self.pending.oldest_s) is not None:
            timeout = max(0.0, oldest + self.max_wait_s - time.perf_counter())
        by_conn = {w.conn: w for w in live}
        ready = wait(list(by_conn), timeout)
        finished: list[GameRecord] = []
        for conn in ready:
            self.receive(by_conn[conn], finished)  # type: ignore[index]  # wait() returns what it was given
        if not ready:
            for w in live:
                if w.process.proc.poll() is not None:
                    raise self.fail(w)
        live = self.live()
        while reason := self.pending.fire_reason(
            now=time.perf_counter(), max_wait_s=self.max_wait_s, all_waiting=all(w.waiting for w in live)
        ):
            self.counts.fired[reason] += 1
            self.one_call()
        self.games_done += len(finished)
        return finished


def play_with_workers(
    game_ids: Iterable[int],
    *,
    engine: Agent,
    workers: int,
    concurrency: int,
    max_batch: int | None,
    max_wait_s: float = DEFAULT_MAX_WAIT_S,
    on_stats: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[GameRecord]:
    """Play `game_ids` in `workers` processes, this one serving their evaluations; yields games as they end.

    `engine.evaluate` runs here only; the workers get the board size, search config and seed.
    At the end `on_stats` receives the run's batching stats (see `_stats`). Raises
    PerfkitError if a worker dies or fails, after stopping the others.
    """
    if workers < 1:
        raise PerfkitError(f"workers must be >= 1, got {workers}")
    if isinstance(game_ids, Sized):  # fewer games than slots: share them out, don't let worker 0 take all
        concurrency = max(1, min(concurrency, len(game_ids)))
    capacity = math.ceil(concurrency / workers)
    server = _Server(engine, source=take_from(game_ids), max_batch=max_batch, max_wait_s=max_wait_s)
    try:
        server.start(workers, capacity=capacity)
        while server.live():
            yield from server.step()
        stats = _stats(server.pool, server.counts, max_batch=max_batch, max_wait_s=max_wait_s, capacity=capacity)
        if on_stats is not None:
            on_stats(stats)
    finally:
        stop([w.process for w in server.pool])


def _stats(pool: list[_Worker], counts: _Counts, *, max_batch: int | None, max_wait_s: float, capacity: int) -> dict[str, Any]:
    """The run's batching stats; PerfkitError if a request was lost or duplicated on the way."""
    per_worker: list[dict[str, Any]] = []
    for w in pool:
        d = w.done or {}
        row = {
            "worker": w.index, "requests_sent": d.get("sent"), "requests_received": w.received,
            "requests_answered": w.answered, "answers_received": d.get("answers_received"),
            "rows_sent": d.get("rows_sent"), "rows_received": w.rows, "games": d.get("games"),
            "idle_s": d.get("idle_s"), "wall_s": d.get("wall_s"), "imports_torch": d.get("imports_torch"),
        }
        if not (row["requests_sent"] == w.received == w.answered == row["answers_received"]
                and row["rows_sent"] == w.rows):
            raise PerfkitError(f"worker {w.index}: requests lost or duplicated: {row}")
        per_worker.append(row)
    idle = sum(r["idle_s"] for r in per_worker)
    wall = sum(r["wall_s"] for r in per_worker)
    mean_batch = counts.rows / counts.calls if counts.calls else None
    if counts.rows != sum(r["rows_received"] for r in per_worker):
        raise PerfkitError(f"{counts.rows} rows evaluated for {sum(r['rows_received'] for r in per_worker)} received")
    return {
        "workers": len(pool),
        "games_per_worker": capacity,
        "max_batch": max_batch,
        "max_wait_s": max_wait_s,
        "calls": counts.calls,
        "rows": counts.rows,
        "batch_fill": mean_batch / max_batch if mean_batch is not None and max_batch else None,
        "fired": dict(counts.fired),
        "requests_sent": sum(r["requests_sent"] for r in per_worker),
        "requests_received": sum(r["requests_received"] for r in per_worker),
        "requests_answered": sum(r["requests_answered"] for r in per_worker),
        "answers_received": sum(r["answers_received"] for r in per_worker),
        "worker_idle_s": idle,
        "worker_wall_s": wall,
        "worker_idle_share": idle / wall if wall > 0 else None,
        "per_worker": per_worker,
    }


__all__ = ["CRASH_ENV", "DEFAULT_MAX_WAIT_S", "play_with_workers", "request_rows", "worker_main"]
