"""The greenlet scheduler: unmodified sequential searches as cooperative tasks on one thread.

Each game runs in a greenlet. Its `predict` queues the request and switches back to the
hub, which runs the next game until that one asks too. A call fires when the waiting rows
reach `max_batch` ("full") or when every live game waits ("all_waiting") — never on a
timer: with G games in flight each call carries the requests of all G (up to max_batch),
and everything happens in an order fixed by the order the games started, run after run.

Why not threads (`BatchServer`): under the GIL a game thread with Python work to do keeps
the interpreter from the other games and from the forward, so the thread server fires at
its max wait with half the games still searching, and between operators the forward's
thread waits up to the switch interval (5 ms) for the GIL. One thread that owns both the
searches and the forward has nothing to switch. Threads stay (`scheduler="threads"`) for
engines whose search releases the GIL (native code), which greenlets cannot overlap.

torch's grad mode is per thread: it is saved and restored around each switch, so an engine
that asks inside its own `torch.no_grad()` block does not leak it into the other games.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from greenlet import GreenletExit, getcurrent, greenlet

from perfkit.batching.server import (
    DEFAULT_SCHEDULER,
    SCHEDULERS,
    BatchServer,
    Forward,
    _Request,
    check_scheduler,
)
from perfkit.types import PerfkitError


class GreenletServer(BatchServer):
    """Plays tasks as greenlets on the calling thread, their requests batched into shared calls.

    The same forward, lookup, owners, error handling (a failing call retried request by
    request, so an error reaches only its caller) and stats as `BatchServer`; there is no
    server thread and no max wait: `run(tasks)` is the whole life of the server.

    Args:
        forward: evaluates a batch; receives `owners` and `queue_wait_s` keywords.
        max_batch: most rows per call (None: no limit).
        owner_of: called in the requesting greenlet; its result goes with the rows to `forward`.
        lookup: asked as a request arrives: an answer is returned at once, without a switch.
    """

    def __init__(
        self,
        forward: Forward,
        *,
        obs_shape: Sequence[int] | None = None,
        max_batch: int | None = None,
        owner_of: Callable[[], Any] | None = None,
        lookup: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray] | None] | None = None,
    ) -> None:
        super().__init__(forward, obs_shape=obs_shape, max_batch=max_batch, max_wait_s=0.0, owner_of=owner_of, lookup=lookup)
        self._hub: greenlet | None = None
        self._asker: dict[_Request, greenlet] = {}  # a queued request -> the task to resume with its answer
        self._ready: deque[greenlet] = deque()  # tasks to run, in order

    # No server thread: `run` serves.
    def start(self) -> GreenletServer:
        return self

    def close(self) -> None:
        self._closed = True

    def _ask(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A checked request `[K, *obs_shape]` of the calling task -> (logits [K, A], values [K], shares [K])."""
        task = getcurrent()
        if self._hub is None or task.parent is not self._hub:
            raise PerfkitError("a network call from outside the games run as greenlets (a thread of the engine's own?): "
                               "call predict from the game itself, or use --scheduler threads")
        req = _Request(obs, self.owner_of())
        self.requests += 1
        if self.lookup is not None:
            hit = self.lookup(req.obs, [req.owner] * len(req.obs))
            if hit is not None:
                self.answered_on_arrival += 1
                return hit
        self.queue.push(req, len(req.obs), time.perf_counter())
        self.waiting += 1
        self._asker[req] = task
        grad = torch.is_grad_enabled()
        self._hub.switch()  # back when a call has answered every row
        torch.set_grad_enabled(grad)
        if req.error is not None:
            raise req.error
        assert req.logits is not None and req.values is not None and req.shares is not None  # answered
        return req.logits, req.values, req.shares

    def run(self, tasks: Sequence[Callable[[], object]]) -> None:
        """Run `tasks` (each asking `predict`) to the end, as greenlets on this thread.

        An exception a task lets out (a game's own are the task's to catch) stops the others
        and is raised here.
        """
        if self._hub is not None:
            raise PerfkitError("this GreenletServer is already running: make one per run")
        self._hub = getcurrent()
        started = [greenlet(task) for task in tasks]
        self._ready.extend(started)
        self.live = len(started)
        grad = torch.is_grad_enabled()
        try:
            self._serve_tasks(grad)
        finally:
            torch.set_grad_enabled(grad)
            for task in started:
                if not task.dead:
                    try:
                        task.throw(GreenletExit)
                    except GreenletExit:
                        pass
            self._hub, self._asker = None, {}
            self._ready.clear()

    def _serve_tasks(self, grad: bool) -> None:
        while self._ready or self.queue:
            while self._ready:
                task = self._ready.popleft()
                task.switch()  # back here when the task waits for a call, or has ended
                torch.set_grad_enabled(grad)  # a task starts in the hub's grad mode, not the last task's
                if task.dead:
                    self.live -= 1
                if self.queue.unsent >= self.queue.limit:
                    self._fire("full")
            if self.queue:
                self._fire("all_waiting")

    def _fire(self, reason: str) -> None:
        call = self.queue.take()
        self.waiting -= sum(1 for w, _, hi in call.slices if hi == w.rows)
        self.fired[reason] += 1
        self._count_fill(len(call), self.live)
        self._call(call)
        for w, _, _ in call.slices:
            if w.item.done.is_set():  # wholly answered (or failed): its task goes on
                task = self._asker.pop(w.item, None)
                if task is not None:
                    self._ready.append(task)

    def stats(self) -> dict[str, Any]:
        """As `BatchServer.stats`, plus the scheduler (no max wait here)."""
        return {**super().stats(), "scheduler": "greenlet", "max_wait_s": None}


__all__ = ["DEFAULT_SCHEDULER", "SCHEDULERS", "GreenletServer", "check_scheduler"]
