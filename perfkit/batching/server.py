"""The thread batch server: unmodified sequential searches, one game per thread, one network.

Each game's thread calls `predict(obs)`, which looks like a batch-of-one evaluator; the
server gathers the requests of every live game into one forward call and hands each
caller its row — the design of KataGo's NN server threads and OpenSpiel's C++
`VPNetEvaluator`. When to fire is the batching core's (`RowQueue`): at `max_batch` rows,
when every live client is waiting, or when the oldest request has waited `max_wait_s`.

A forward that raises is retried request by request, so an error reaches only the caller
whose input caused it; the other games go on.

With an exact cache (`perfkit.batching.cache.ObservationCache`) the cache is the forward
(each call's rows are one lookup: only the misses reach the network) and its `lookup`
answers a request whose rows are all cached as it arrives, without waiting for a call.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perfkit.batching.queue import FIRE_REASONS, RowQueue, Waiting

DEFAULT_MAX_WAIT_S = 0.002

# (planes [B, *obs_shape], *, owners, queue_wait_s) -> (logits [B, A], values [B])
Forward = Callable[..., tuple[np.ndarray, np.ndarray]]


@dataclass(eq=False)
class _Request:
    obs: np.ndarray  # [K, *obs_shape]
    owner: Any  # whom the rows' calls are attributed to (a trace's move mark)
    done: threading.Event = field(default_factory=threading.Event)
    answered: int = 0
    logits: np.ndarray | None = None  # [K, A]
    values: np.ndarray | None = None  # [K]
    shares: np.ndarray | None = None  # [K]: 1 / the size of the call each row went in
    error: BaseException | None = None

    def answer(self, lo: int, hi: int, logits: np.ndarray, values: np.ndarray, call_rows: int) -> None:
        if self.logits is None or self.values is None or self.shares is None:
            self.logits = np.empty((len(self.obs), logits.shape[1]))
            self.values = np.empty(len(self.obs))
            self.shares = np.empty(len(self.obs))
        self.logits[lo:hi], self.values[lo:hi] = logits, values
        self.shares[lo:hi] = 1.0 / call_rows
        self.answered += hi - lo
        if self.answered == len(self.obs):
            self.done.set()

    def fail(self, exc: BaseException) -> None:
        self.error = exc
        self.done.set()


class BatchServer:
    """Gathers the batch-of-one requests of many threads into shared forward calls.

    Args:
        forward: evaluates a batch; receives `owners` (one per row) and `queue_wait_s`
            keywords, as `Tracer.evaluate` does.
        max_batch: most rows per call (None: no limit).
        max_wait_s: the longest the oldest request waits for a fuller call.
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
        max_batch: int | None = None,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
        owner_of: Callable[[], Any] | None = None,
        lookup: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray] | None] | None = None,
    ) -> None:
        self.forward, self.lookup = forward, lookup
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.owner_of = owner_of or (lambda: None)
        self.queue = RowQueue(max_batch)
        self.cond = threading.Condition()
        self.live = 0  # clients that may still send a request
        self.waiting = 0  # requests in the queue, not yet wholly taken by a call
        self.calls = self.rows = self.requests = 0
        self.answered_on_arrival = 0  # requests `lookup` answered: never queued
        self.fired = dict.fromkeys(FIRE_REASONS, 0)
        self._closed = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ clients

    def start(self) -> BatchServer:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="perfkit-batch-server", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Serve what is queued, then stop the server thread."""
        with self.cond:
            self._closed = True
            self.cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> BatchServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

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
        logits, values = self.predict_batch(np.asarray(obs)[None])
        return logits[0], float(values[0])

    def predict_batch(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """K positions `[K, *obs_shape]` of one client -> (logits [K, A], values [K])."""
        return self.predict_rows(obs)[:2]

    def predict_rows(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As `predict_batch`, plus each row's share of the call it went in (1 / its size)."""
        req = _Request(np.asarray(obs), self.owner_of())
        if self.lookup is not None:
            hit = self.lookup(req.obs, [req.owner] * len(req.obs))
            if hit is not None:
                with self.cond:
                    self.requests += 1
                    self.answered_on_arrival += 1
                return hit
        with self.cond:
            if self._closed:
                raise RuntimeError("the batch server is closed")
            self.queue.push(req, len(req.obs), time.perf_counter())
            self.waiting += 1
            self.requests += 1
            self.cond.notify()
        req.done.wait()
        if req.error is not None:
            raise req.error
        assert req.logits is not None and req.values is not None and req.shares is not None  # answered
        return req.logits, req.values, req.shares

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
                    self.cond.wait(None if oldest is None else max(0.0, oldest + self.max_wait_s - now))
                taken = self.queue.take()
                self.waiting -= sum(1 for w, _, hi in taken if hi == w.rows)
                self.fired[reason] += 1
            self._call(taken)

    def _call(self, taken: list[tuple[Waiting, int, int]]) -> None:
        planes = np.concatenate([w.item.obs[lo:hi] for w, lo, hi in taken])
        owners = [w.item.owner for w, lo, hi in taken for _ in range(hi - lo)]
        wait_s = time.perf_counter() - min(w.since_s for w, _, _ in taken)
        self.calls += 1
        self.rows += len(planes)
        try:
            logits, values = self.forward(planes, owners=owners, queue_wait_s=wait_s)
        except Exception as exc:
            if len(taken) == 1:
                taken[0][0].item.fail(exc)
                return
            for one in taken:  # find whose input fails: each request alone
                self._call([one])
            return
        offset = 0
        for w, lo, hi in taken:
            w.item.answer(lo, hi, logits[offset : offset + hi - lo], values[offset : offset + hi - lo], len(planes))
            offset += hi - lo

    def stats(self) -> dict:
        """How the server batched: calls, rows, requests and why each call fired."""
        return {
            "calls": self.calls, "rows": self.rows, "requests": self.requests,
            "answered_on_arrival": self.answered_on_arrival,
            "max_batch": self.max_batch, "max_wait_s": self.max_wait_s,
            "batch_fill": self.rows / self.calls / self.max_batch if self.calls and self.max_batch else None,
            "fired": dict(self.fired),
        }
