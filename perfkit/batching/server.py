"""The thread batch server: unmodified sequential searches, one game per thread, one network.

Each game's thread calls `predict(obs)`, which looks like a batch-of-one evaluator; the
server gathers the requests of every live game into one forward call and hands each
caller its row — the design of KataGo's NN server threads and OpenSpiel's C++
`VPNetEvaluator`. When to fire is the batching core's (`RowQueue`): at `max_batch` rows,
when every live client is waiting, or when the oldest request has waited `max_wait_s`.

One bad request never stops the server nor holds another game back:

- each request is checked as it arrives, in the caller's thread (`check_observations`:
  numbers, finite, the expected shape); a bad one fails its caller only, with a PerfkitError;
- the gather, the forward and the scatter of a call are one protected step: a forward that
  raises (anything, `SystemExit` and `KeyboardInterrupt` included) or answers too few rows,
  non-numbers or non-finite values is retried request by request, so the error reaches only
  the callers whose input causes it, as a PerfkitError; the server thread goes on serving.

With an exact cache (`perfkit.batching.cache.ObservationCache`) the cache is the forward
(each call's rows are one lookup: only the misses reach the network) and its `lookup`
answers a request whose rows are all cached as it arrives, without waiting for a call.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from perfkit.batching.queue import FIRE_REASONS, Call, RowQueue
from perfkit.types import PerfkitError, check_answers, check_observations

DEFAULT_MAX_WAIT_S = 0.002
SCHEDULERS = ("greenlet", "threads")  # how an engine's games take turns: `GreenletServer`, or this server's threads
# Measured (data/results/2026-12-02-engine/, 64 Connect Four games, 50 simulations, 3 alternating
# rounds, load 4-6 on 2 shared cores): with the forward traced (no GIL between operators) greenlets
# made more moves/s than threads for both engines (MCTSBot 130.9 vs 94.5, the example 107.3 vs 73.9),
# every call carrying every live game (threads: 52-54 %). Before the trace threads won on 2 cores
# (data/results/2026-12-02-greenlet/). Threads stay for engines that release the GIL or call
# predict from threads of their own: --scheduler threads.
DEFAULT_SCHEDULER = "greenlet"


def check_scheduler(name: object) -> str:
    """`name` if it is a scheduler, else a PerfkitError saying which there are."""
    if name not in SCHEDULERS:
        raise PerfkitError(f"unknown scheduler {name!r}; choose one of: {', '.join(SCHEDULERS)}")
    return str(name)


# (planes [B, *obs_shape], *, owners, queue_wait_s) -> (logits [B, A], values [B])
Forward = Callable[..., tuple[np.ndarray, np.ndarray]]


def _failure(exc: BaseException) -> PerfkitError:
    """What the callers of a failed call are told: a PerfkitError, the cause chained."""
    if isinstance(exc, PerfkitError):
        return exc
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    error = PerfkitError(f"the network call failed: {type(exc).__name__}{': ' + text if text else ''}")
    error.__cause__ = exc
    return error


class Done(Protocol):
    """When a request is wholly answered (or failed): `threading.Event`, or a plain flag where no
    thread waits on it (`perfkit.batching.greenlets`: the hub resumes the task it answered)."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


@dataclass(eq=False)
class _Request:
    obs: np.ndarray  # [K, *obs_shape]
    owner: Any  # whom the rows' calls are attributed to (a trace's move mark)
    done: Done = field(default_factory=threading.Event)
    answered: int = 0
    logits: np.ndarray | None = None  # [K, A]
    values: np.ndarray | None = None  # [K]
    shares: np.ndarray | None = None  # [K]: 1 / the size of the call each row went in
    error: BaseException | None = None

    def answer(self, lo: int, hi: int, logits: np.ndarray, values: np.ndarray, call_rows: int) -> bool:
        """Rows lo:hi answered (see `Pending`); an answer that does not fit fails this request only."""
        if self.done.is_set():  # failed by an earlier part of it: the rest is not wanted
            return False
        share = 1.0 / call_rows if call_rows else 0.0  # 0: the cache answered the call, no network call
        if lo == 0 and hi == len(self.obs) and self.logits is None:  # the whole request in one call (the usual case)
            # Its rows of the call's answer, not a copy: every request holds rows of its own.
            self.logits, self.values, self.shares = logits, values, np.full(hi, share)
            self.answered = hi
            self.done.set()
            return True
        try:
            if self.logits is None or self.values is None or self.shares is None:
                self.logits = np.empty((len(self.obs), logits.shape[1]))
                self.values = np.empty(len(self.obs))
                self.shares = np.empty(len(self.obs))
            self.logits[lo:hi], self.values[lo:hi] = logits, values
        except BaseException as exc:  # a part answered wider than another part of it
            self.fail(exc)
            return False
        self.shares[lo:hi] = share
        self.answered += hi - lo
        if self.answered == len(self.obs):
            self.done.set()
        return self.done.is_set()

    def fail(self, exc: BaseException) -> None:
        if not self.done.is_set():
            self.error = _failure(exc)
            self.done.set()


class BatchServer:
    """Gathers the batch-of-one requests of many threads into shared forward calls.

    Args:
        forward: evaluates a batch; receives `owners` (one per row) and `queue_wait_s`
            keywords, as `Tracer.evaluate` does.
        obs_shape: the shape of one observation; a request of another shape is refused as it
            arrives (None: any shape, and a call whose rows do not fit together is retried
            request by request).
        max_batch: most rows per call (None: no limit).
        max_wait_s: the longest the oldest request waits for a fuller call (inf: only a full
            call, or every live client waiting, fires).
        owner_of: called in the requesting thread; its result goes with the rows to
            `forward` (default: None).
        lookup: `(obs [K, *obs_shape], owners) -> (logits, values, shares) | None`, asked
            as a request arrives: an answer is returned at once, None queues the request
            (default: every request is queued).
    """

    def __init__(
        self,
        forward: Forward,
        *,
        obs_shape: Sequence[int] | None = None,
        max_batch: int | None = None,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        owner_of: Callable[[], Any] | None = None,
        lookup: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray] | None] | None = None,
    ) -> None:
        if not callable(forward):
            raise PerfkitError(f"BatchServer needs a forward callable, got {type(forward).__name__}")
        if max_batch is not None and (isinstance(max_batch, bool) or not isinstance(max_batch, (int, np.integer))
                                      or max_batch < 1):
            raise PerfkitError(f"max_batch must be a whole number >= 1 (or None: no limit), got {max_batch!r}")
        if isinstance(max_wait_s, bool) or not isinstance(max_wait_s, (int, float, np.floating, np.integer)) \
                or not max_wait_s >= 0:
            raise PerfkitError(f"max_wait_s must be a number of seconds >= 0, got {max_wait_s!r}")
        if obs_shape is not None:
            try:
                obs_shape = tuple(int(d) for d in obs_shape)
            except (TypeError, ValueError):
                raise PerfkitError(f"obs_shape must be a sequence of whole numbers, got {obs_shape!r}") from None
        self.forward, self.lookup, self.obs_shape = forward, lookup, obs_shape
        self.max_batch = None if max_batch is None else int(max_batch)
        self.max_wait_s = float(max_wait_s)
        self.owner_of = owner_of or (lambda: None)
        self.queue = RowQueue(self.max_batch)
        self.cond = threading.Condition()
        self.live = 0  # clients that may still send a request
        self.waiting = 0  # requests in the queue, not yet wholly taken by a call
        self.calls = self.rows = self.requests = 0
        self.answered_on_arrival = 0  # requests `lookup` answered: never queued
        self.fired = dict.fromkeys(FIRE_REASONS, 0)
        self.live_at_calls = 0  # sum over fired calls of the clients (games) live when each fired
        self.fill_sum = 0.0  # sum over fired calls of rows / min(clients live, max_batch)
        self._closed = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ clients

    def start(self) -> BatchServer:
        if self._closed:
            raise PerfkitError("this batch server is closed; a closed server does not start again: make a new one")
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="perfkit-batch-server", daemon=True)
            self._thread.start()
        return self

    def __enter__(self) -> BatchServer:
        """`with server:` starts it; leaving the block serves what is queued and stops it."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Serve what is queued, then stop the server thread."""
        with self.cond:
            self._closed = True
            self.cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    @contextlib.contextmanager
    def client(self) -> Iterator[Callable[[np.ndarray], tuple[np.ndarray, float]]]:
        """A live client (one game's thread) for the duration of the block; yields `predict`.

        The server waits for live clients only: one that has left can no longer hold a call back.
        """
        with self.cond:
            self.live += 1
        try:
            yield self.predict
        finally:
            with self.cond:
                self.live -= 1
                self.cond.notify()

    def predict(self, obs: np.ndarray) -> tuple[np.ndarray, float]:
        """One position `[*obs_shape]` -> (logits [A], value), through a shared call."""
        logits, values, _ = self._ask(check_observations(obs, self.obs_shape, batch=False)[None])
        return logits[0], float(values[0])

    def predict_batch(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """K positions `[K, *obs_shape]` of one client -> (logits [K, A], values [K])."""
        return self.predict_rows(obs)[:2]

    def predict_rows(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As `predict_batch`, plus each row's share of the call it went in (1 / its size).

        A bad request (see `check_observations`), or a call that fails, raises PerfkitError here
        and only here: the server and the other callers go on.
        """
        return self._ask(check_observations(obs, self.obs_shape))

    def _ask(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A checked request `[K, *obs_shape]`: answered on arrival by `lookup`, or queued for a call."""
        self._check_serving()
        req = _Request(obs, self.owner_of())
        if self.lookup is not None:
            hit = self.lookup(req.obs, [req.owner] * len(req.obs))
            if hit is not None:
                with self.cond:
                    self.requests += 1
                    self.answered_on_arrival += 1
                return hit
        with self.cond:
            self._check_serving()
            self.queue.push(req, len(req.obs), time.perf_counter())
            self.waiting += 1
            self.requests += 1
            self.cond.notify()
        while not req.done.wait(1.0):
            if self._thread is None or not self._thread.is_alive():  # cannot happen; never wait in vain
                raise PerfkitError("the batch server stopped before answering")
        if req.error is not None:
            raise req.error
        assert req.logits is not None and req.values is not None and req.shares is not None  # answered
        return req.logits, req.values, req.shares

    def _check_serving(self) -> None:
        if self._closed:
            raise PerfkitError("the batch server is closed; predict belongs inside `with server:` (or before close())")
        if self._thread is None:
            raise PerfkitError("the batch server is not started; use `with server:` or call server.start() first")

    # ------------------------------------------------------------------ the server thread

    def _serve(self) -> None:
        while True:
            with self.cond:
                while True:
                    now = time.perf_counter()
                    reason = self.queue.fire_reason(
                        now=now, max_wait_s=self.max_wait_s, all_waiting=self.waiting >= self.live
                    )
                    if reason is not None:
                        break
                    if self._closed and not self.queue:
                        return
                    oldest = self.queue.oldest_s
                    if oldest is None or math.isinf(self.max_wait_s):
                        self.cond.wait()
                    else:
                        self.cond.wait(max(0.0, oldest + self.max_wait_s - now))
                call = self.queue.take()
                self.waiting -= sum(1 for w, _, hi in call.slices if hi == w.rows)
                self.fired[reason] += 1
                self._count_fill(len(call), self.live)
            self._call(call)

    def _count_fill(self, rows: int, live: int) -> None:
        """A fired call of `rows` rows while `live` clients (games) could ask: how full it is
        of what could be in it (1.0: every live game's row, or max_batch rows)."""
        self.live_at_calls += live
        self.fill_sum += min(1.0, rows / max(1, min(live, self.max_batch or live)))

    def _call(self, call: Call) -> None:
        """Gather, forward and scatter one call; whatever fails, fails its callers, never this thread."""
        call = Call([t for t in call.slices if not t[0].item.done.is_set()])  # the rest of a request that failed
        if not call.slices:
            return
        try:
            planes = call.gather(lambda req: req.obs)
            owners = [w.item.owner for w, lo, hi in call.slices for _ in range(hi - lo)]
            wait_s = time.perf_counter() - call.oldest_s
            self.calls += 1
            self.rows += len(planes)
            made = getattr(self.forward, "calls", None)  # an exact cache's count of the network calls it made
            logits, values = check_answers(self.forward(planes, owners=owners, queue_wait_s=wait_s), len(planes))
            # A call an exact cache answered wholly made no network call: its rows are 0 of one (the moves'
            # calls then add up to the calls table, also where a worker process charges them from these shares).
            network = made is None or getattr(self.forward, "calls", None) != made
        except BaseException as exc:  # SystemExit or KeyboardInterrupt from the forward too
            if len(call.slices) == 1:
                call.slices[0][0].item.fail(exc)
                return
            for one in call.slices:  # find whose input fails: each request alone
                self._call(Call([one]))
            return
        call.scatter(logits, values, call_rows=None if network else 0)

    def stats(self) -> dict[str, Any]:
        """How the server batched: calls, rows, requests, why each call fired, and how full the
        calls were of the games live when they fired (`games_fill`: 1.0 when every call carried
        a row of every live game, or max_batch rows; a streaming tail of few games reads full)."""
        fired = sum(self.fired.values())
        return {
            "calls": self.calls, "rows": self.rows, "requests": self.requests,
            "answered_on_arrival": self.answered_on_arrival,
            "max_batch": self.max_batch, "max_wait_s": self.max_wait_s,
            "batch_fill": self.rows / self.calls / self.max_batch if self.calls and self.max_batch else None,
            "games_fill": self.fill_sum / fired if fired else None,
            "live_per_call": self.live_at_calls / fired if fired else None,
            "fired": dict(self.fired),
        }
