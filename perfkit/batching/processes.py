"""Worker processes feeding one device-owning batch server over shared memory.

One Python process is capped by the GIL: an engine's search is Python, so beyond a few
games in flight the device waits for the CPU side. Here W worker processes each run their
games in threads, and the batching stays one core at two levels:

- inside a worker, its games' batch-of-one calls go to a local `BatchServer` whose forward
  (`remote_forward`) writes the gathered rows into shared memory and asks the device process;
- in the device process, one proxy thread per worker (`serve_worker`) is a client of the
  device's `BatchServer`: a worker's request waits there with the other workers' until the
  call fires (max batch, every live worker waiting, or max wait), and each row's answer and
  its share of the call (1 / call size, for the worker's per-move accounting) go back
  through the same shared memory.

Messages are small tuples on a pipe: ("req", k) worker -> server, ("ans",) or ("err",
text) back, ("game", record) and ("done", failures) when games end. A worker that dies
closes its pipe, so the server sees it at once.
"""

from __future__ import annotations

import math
import mmap
import os
import tempfile
from multiprocessing.connection import Connection

import numpy as np

from perfkit.batching.server import BatchServer
from perfkit.types import PerfkitError


class SharedBlock:
    """Named numpy arrays in one shared-memory block, backed by a file descriptor.

    The server creates it (`create`: an anonymous memfd) and passes the descriptor to the
    worker it starts (`subprocess` `pass_fds`), which maps the same block with the same
    layout. No names, nothing to clean up in /dev/shm: the memory goes with the last fd.
    """

    def __init__(self, fd: int, layout: list[tuple[str, type, tuple[int, ...]]]) -> None:
        self.fd, self.names = fd, [name for name, _, _ in layout]
        offsets, size = [], 0
        for _, dtype, shape in layout:
            offsets.append(size)
            size += -(-math.prod(shape) * np.dtype(dtype).itemsize // 64) * 64
        self.size = max(size, 64)
        if os.fstat(fd).st_size < self.size:
            os.ftruncate(fd, self.size)
        self.map = mmap.mmap(fd, self.size)
        for (name, dtype, shape), offset in zip(layout, offsets, strict=True):
            setattr(self, name, np.frombuffer(self.map, dtype, math.prod(shape), offset).reshape(shape))

    @staticmethod
    def new_fd() -> int:
        if hasattr(os, "memfd_create"):
            return os.memfd_create("perfkit-worker", 0)
        with tempfile.TemporaryFile(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as f:
            return os.dup(f.fileno())  # POSIX without memfd: an already-unlinked temporary file

    def close(self) -> None:
        for name in self.names:
            self.__dict__.pop(name, None)
        try:
            self.map.close()
        except BufferError:  # a view is still referenced somewhere; the GC unmaps it later
            pass
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class SharedRows(SharedBlock):
    """One engine worker's request rows and their answers."""

    obs: np.ndarray  # [R, *obs_shape] float32
    logits: np.ndarray  # [R, A] float64
    values: np.ndarray  # [R] float64
    share: np.ndarray  # [R] float64: 1 / the size of the call the row went in

    def __init__(self, fd: int, *, rows: int, obs_shape: tuple[int, ...], actions: int) -> None:
        super().__init__(fd, [
            ("obs", np.float32, (rows, *obs_shape)), ("logits", np.float64, (rows, actions)),
            ("values", np.float64, (rows,)), ("share", np.float64, (rows,)),
        ])


def remote_forward(conn: Connection, rows: SharedRows, *, attribute, send_lock, crash_after: int | None = None):
    """A worker's forward: the local server's gathered rows, evaluated by the device process.

    `attribute(owners, shares)` counts the rows for their moves; `crash_after` is a test
    hook: die without a word before request `crash_after + 1`, as a crash would.
    """
    sent = 0

    def forward(planes: np.ndarray, *, owners, queue_wait_s=None):
        nonlocal sent
        if crash_after is not None and sent == crash_after:
            import os

            os._exit(3)
        k = len(planes)
        rows.obs[:k] = planes
        with send_lock:
            conn.send(("req", k))
        sent += 1
        msg = conn.recv()
        if msg[0] == "err":
            raise PerfkitError(msg[1])  # the device server's one line, as it said it
        attribute(owners, rows.share[:k].copy())
        return rows.logits[:k].copy(), rows.values[:k].copy()

    return forward


def serve_worker(conn: Connection, rows: SharedRows, server: BatchServer, *, on_message) -> None:
    """The device process's proxy for one worker: its requests join the device server's calls.

    Returns when the worker says it is done; raises EOFError if it died. Messages other
    than requests go to `on_message`.
    """
    with server.client():
        while True:
            msg = conn.recv()
            if msg[0] != "req":
                if on_message(msg):
                    return
                continue
            k = msg[1]
            try:
                logits, values, shares = server.predict_rows(rows.obs[:k].copy())
            except Exception as exc:  # reaches the games of that request, in the worker
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                conn.send(("err", text))
                continue
            rows.logits[:k], rows.values[:k], rows.share[:k] = logits, values, shares
            conn.send(("ans",))
