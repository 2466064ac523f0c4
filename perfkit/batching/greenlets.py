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

Groups (`groups=2`): one thread cannot search and run the forward at once. With the games split
into groups, a group's call fires when every live game *of that group* waits and goes to a
device thread (one worker), while this thread runs the next group's games; then it waits for
the oldest call's answers and resumes that group — the built-in crossgame's `inflight 2`
pipeline. The order in which games run and calls fire stays fixed (only the cache's state at a
lookup may differ, which in float64 changes no answer). The forward must run without the GIL
(`perfkit.devices.gilfree`) for the two to overlap; while a call is in flight the switch
interval is shortened so the device thread wins the GIL back promptly between its operators.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from greenlet import GreenletExit, getcurrent, greenlet

from perfkit.batching.queue import Call, RowQueue, quick_gil_handoff
from perfkit.batching.server import (
    DEFAULT_SCHEDULER,
    SCHEDULERS,
    BatchServer,
    Forward,
    _Request,
    check_scheduler,
)
from perfkit.types import PerfkitError


class _Answered:
    """A request's `done` here: `threading.Event`'s flag without the lock and condition an Event
    makes per request (and takes to set it): no task waits on it, the hub resumes the task whose
    request a call answered."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        self._set = True

    def wait(self, timeout: float | None = None) -> bool:
        return self._set


def _restore_grad(grad: bool) -> None:
    """torch's grad mode back to `grad`; set only when it differs (`set_grad_enabled` is an object
    made per call, and it is called at every switch)."""
    if torch.is_grad_enabled() != grad:
        torch.set_grad_enabled(grad)


class _Group:
    """Games that share calls: their ready tasks, their queued rows, how many are alive."""

    def __init__(self, max_batch: int | None) -> None:
        self.ready: deque[greenlet] = deque()  # tasks to run, in order
        self.queue = RowQueue(max_batch)
        self.live = 0


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
        groups: the tasks split into this many groups (task i in group i % groups), each
            group's calls its own; with 2 or more a call runs on a device thread while the
            other groups' games search (1: every call on this thread, between the searches).
    """

    def __init__(
        self,
        forward: Forward,
        *,
        obs_shape: Sequence[int] | None = None,
        max_batch: int | None = None,
        owner_of: Callable[[], Any] | None = None,
        lookup: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray] | None] | None = None,
        groups: int = 1,
    ) -> None:
        super().__init__(forward, obs_shape=obs_shape, max_batch=max_batch, max_wait_s=0.0, owner_of=owner_of, lookup=lookup)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
            raise PerfkitError(f"groups must be a whole number >= 1, got {groups!r}")
        self.groups = int(groups)
        self._hub: greenlet | None = None
        self._asker: dict[_Request, greenlet] = {}  # a queued request -> the task to resume with its answer
        self._group_of: dict[greenlet, _Group] = {}
        self._groups: list[_Group] = []
        self._flights: deque[tuple[Future[None] | None, Call, _Group]] = deque()  # calls out, oldest first
        self._device: ThreadPoolExecutor | None = None

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
        req = _Request(obs, self.owner_of(), done=_Answered())
        self.requests += 1
        if self.lookup is not None:
            hit = self.lookup(req.obs, [req.owner] * len(req.obs))
            if hit is not None:
                self.answered_on_arrival += 1
                return hit
        self._group_of[task].queue.push(req, len(req.obs), time.perf_counter())
        self.waiting += 1
        self._asker[req] = task
        grad = torch.is_grad_enabled()
        self._hub.switch()  # back when a call has answered every row
        _restore_grad(grad)
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
        self._groups = [_Group(self.max_batch) for _ in range(min(self.groups, max(1, len(started))))]
        for i, task in enumerate(started):
            group = self._group_of[task] = self._groups[i % len(self._groups)]
            group.ready.append(task)
            group.live += 1
        self.live = len(started)
        grad = torch.is_grad_enabled()
        if len(self._groups) > 1:
            self._device = ThreadPoolExecutor(max_workers=1, thread_name_prefix="perfkit-device")
        with quick_gil_handoff(self._device is not None):
            try:
                self._serve_tasks(grad)
            finally:
                self._stop(started, grad)

    def _stop(self, started: list[greenlet], grad: bool) -> None:
        """The run's end: calls in flight finished, tasks still alive ended, the thread as it was."""
        if self._device is not None:
            self._device.shutdown(wait=True, cancel_futures=True)
            self._device = None
        torch.set_grad_enabled(grad)
        for task in started:
            if not task.dead:
                try:
                    task.throw(GreenletExit)
                except GreenletExit:
                    pass
        self._hub, self._asker, self._group_of, self._groups = None, {}, {}, []
        self._flights.clear()

    def _serve_tasks(self, grad: bool) -> None:
        """Run a group whose tasks are ready (the first in order), fire its call when all its live
        games wait; when no group can run, wait for the oldest call in flight."""
        while True:
            group = next((g for g in self._groups if g.ready), None)
            if group is not None:
                self._run_ready(group, grad)
                if group.queue:
                    self._fire(group, "all_waiting")
            elif self._flights:
                self._land(*self._flights.popleft())
            else:
                return

    def _run_ready(self, group: _Group, grad: bool) -> None:
        while group.ready:
            task = group.ready.popleft()
            task.switch()  # back here when the task waits for a call, or has ended
            _restore_grad(grad)  # a task starts in the hub's grad mode, not the last task's
            if task.dead:
                self.live -= 1
                group.live -= 1
            if group.queue.unsent >= group.queue.limit:
                self._fire(group, "full")

    def _fire(self, group: _Group, reason: str) -> None:
        """The group's queued rows as one call: made here (one group), or sent to the device thread."""
        call = group.queue.take()
        self.waiting -= sum(1 for w, _, hi in call.slices if hi == w.rows)
        self.fired[reason] += 1
        self._count_fill(len(call), group.live)
        if self._device is None:
            self._call(call)
            self._land(None, call, group)
        else:
            self._flights.append((self._device.submit(self._call, call), call, group))

    def _land(self, flight: Future[None] | None, call: Call, group: _Group) -> None:
        """A call's answers are in: the tasks it wholly answered (or failed) go on."""
        if flight is not None:
            flight.result()
        for w, _, _ in call.slices:
            if w.item.done.is_set():
                task = self._asker.pop(w.item, None)
                if task is not None:
                    group.ready.append(task)

    def stats(self) -> dict[str, Any]:
        """As `BatchServer.stats`, plus the scheduler (no max wait here); with groups, `games_fill`
        and `live_per_call` are of the call's group (its rows ÷ its live games) and `groups` says how many."""
        return {**super().stats(), "scheduler": "greenlet", "max_wait_s": None,
                **({"groups": self.groups} if self.groups > 1 else {})}


__all__ = ["DEFAULT_SCHEDULER", "SCHEDULERS", "GreenletServer", "check_scheduler"]
