"""The one batching core: requests wait in arrival order, a call gathers their rows, and
its answers are scattered back to them.

Every batcher in perfkit is this queue and `Call` plus a loop that decides when to fire: the
in-process `crossgame` (search levels of groups of games), the worker-process server
(search levels sent by worker processes) and the thread server (batch-of-one requests of
unmodified engines, one game per thread). The policy is the same everywhere:

- a call takes rows oldest first up to `max_batch`; a request is split across calls where
  it does not fit, so calls are full whenever enough rows wait;
- a call fires when the waiting rows reach `max_batch` ("full"), when every client that can
  still send is waiting ("all_waiting": nothing more can come), or when the oldest request
  has waited `max_wait_s` ("max_wait"), like Triton's dynamic batching or KataGo's NN server;
- a call's input is each slice's rows, concatenated oldest first (`Call.gather`), and its
  answer goes back slice by slice in the same order (`Call.scatter`): whoever fires, the
  rows and their order are the same.
"""

from __future__ import annotations

import math
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

FIRE_REASONS = ("full", "all_waiting", "max_wait")


@dataclass(eq=False)
class Waiting:
    """A request in the queue: `rows` rows, of which `sent` have gone into calls."""

    item: Any  # what the batcher needs to gather the rows and scatter the answers
    rows: int
    since_s: float  # perf_counter when it joined the queue
    sent: int = 0


class Pending(Protocol):
    """A request in the queue, as `Call.scatter` answers it."""

    def answer(self, lo: int, hi: int, logits: np.ndarray, values: np.ndarray, call_rows: int) -> bool:
        """Rows lo:hi's answers (logits [hi-lo, A], values [hi-lo]) from a call of `call_rows`
        rows; True once every row of the request is answered."""
        ...


Rows = slice | np.ndarray  # a request's rows: a slice, or row indices


def gather(parts: Sequence[tuple[Any, Rows]], column: Callable[[Any], np.ndarray]) -> np.ndarray:
    """`column(item)[rows]` of every part, concatenated in order: one call's input (a new array)."""
    return np.concatenate([column(item)[rows] for item, rows in parts])


@dataclass
class Call:
    """The rows of one network call: (request, lo, hi) slices of waiting requests, oldest first."""

    slices: list[tuple[Waiting, int, int]]

    def __len__(self) -> int:
        return sum(hi - lo for _, lo, hi in self.slices)

    @property
    def oldest_s(self) -> float:
        """When the oldest request in the call joined the queue (perf_counter)."""
        return min(w.since_s for w, _, _ in self.slices)

    def parts(self) -> list[tuple[Any, slice]]:
        """(request, its rows) of every slice, in the call's order."""
        return [(w.item, slice(lo, hi)) for w, lo, hi in self.slices]

    def gather(self, column: Callable[[Any], np.ndarray]) -> np.ndarray:
        """One input of the call: `column(request)`'s rows of every slice, concatenated in order."""
        return gather(self.parts(), column)

    def scatter(self, logits: np.ndarray, values: np.ndarray, *, call_rows: int | None = None) -> list[Any]:
        """Each slice's rows of the answer (logits [B, A], values [B]) to its request, in the
        call's order; returns the requests now wholly answered. `call_rows`: the size of the
        network call the rows were in (default B; 0: none, an exact cache answered them all)."""
        done, offset, size = [], 0, len(self) if call_rows is None else call_rows
        for w, lo, hi in self.slices:
            end = offset + hi - lo
            if w.item.answer(lo, hi, logits[offset:end], values[offset:end], size):
                done.append(w.item)
            offset = end
        return done


class RowQueue:
    """Requests waiting for calls, in arrival order.

    Args:
        max_batch: most rows in one call (None: no limit).
    """

    def __init__(self, max_batch: int | None = None) -> None:
        self.limit = max_batch or math.inf
        self._queue: deque[Waiting] = deque()
        self.unsent = 0  # rows waiting, over all requests

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, item: Any, rows: int, since_s: float) -> Waiting:
        w = Waiting(item, rows, since_s)
        self._queue.append(w)
        self.unsent += rows
        return w

    @property
    def oldest_s(self) -> float | None:
        """When the oldest waiting request arrived (None: nothing waits)."""
        return self._queue[0].since_s if self._queue else None

    def fire_reason(self, *, now: float, max_wait_s: float, all_waiting: bool) -> str | None:
        """Why a call should fire now, or None to keep waiting for more rows."""
        if not self._queue:
            return None
        if self.unsent >= self.limit:
            return "full"
        if all_waiting:
            return "all_waiting"
        if now - self._queue[0].since_s >= max_wait_s:
            return "max_wait"
        return None

    def take(self) -> Call:
        """The rows of one call, oldest first up to `max_batch`."""
        taken, size = [], 0
        while self._queue and size < self.limit:
            w = self._queue[0]
            hi = int(min(w.rows, w.sent + (self.limit - size)))
            taken.append((w, w.sent, hi))
            size += hi - w.sent
            w.sent = hi
            if hi == w.rows:
                self._queue.popleft()
        self.unsent -= size
        return Call(taken)


# The interpreter's switch interval while a device thread runs calls beside a busy search thread: the
# device thread wins the GIL back after each forward (and for the numpy around it) and would wait up to
# the default 5 ms, about one call's forward. At 0.5 ms its calls made 1.2-1.7x as many boards/s
# (data/results/2026-12-02-mcts-overlap/switch_interval.py).
DEVICE_SWITCH_S = 0.0005


@contextmanager
def quick_gil_handoff(device_thread: bool = True) -> Iterator[None]:
    """The switch interval at most `DEVICE_SWITCH_S` while a device thread runs (nothing without one),
    restored afterwards."""
    before = sys.getswitchinterval()
    if device_thread:
        sys.setswitchinterval(min(before, DEVICE_SWITCH_S))
    try:
        yield
    finally:
        sys.setswitchinterval(before)
