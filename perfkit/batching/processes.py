"""Worker processes feeding one device-owning process: the one launcher, its shared memory.

One Python process is capped by the GIL: a search is Python, so beyond a few games in
flight the device waits for the CPU side. Both of perfkit's worker layouts start their
workers here, the same way:

- `launch` starts a fresh interpreter (`subprocess`, never a fork: no torch or CUDA state is
  copied) running `_BOOT`, which imports the worker's entry point ("module:function") and
  calls it with its config; the worker's pipe and its `SharedRows` go as file descriptors.
  `light=True` loads `perfkit` without running `perfkit/__init__.py`, which imports torch:
  such a worker starts in ~0.5 s and ~40 MB instead of ~5 s and ~300 MB;
- `SharedRows` is one worker's request rows (its own columns: compact boards, planes ...) and
  their answers (logits, values, each row's share of the call it went in);
- `stop` stops them, politely then by force, and frees their memory; `crash_hook` is the one
  test hook that makes a worker die (or raise) before a given request.

perfkit's search (`perfkit.strategies.workers`): each worker runs a group of games in lockstep
and sends whole search levels to a server loop. A user's engine (`perfkit.search.engines.workers`):
each worker runs its games in threads or greenlets, and the batching is one core at two levels:

- inside a worker, its games' batch-of-one calls go to a local `BatchServer` whose forward
  (`remote_forward`) writes the gathered rows into shared memory and asks the device process;
- in the device process, one proxy thread per worker (`serve_worker`) is a client of the
  device's `BatchServer`: a worker's request waits there with the other workers' until the
  call fires (max batch, every live worker waiting, or max wait), and each row's answer and
  its share of the call (1 / call size, for the worker's per-move accounting) go back
  through the same shared memory.

Messages are small tuples on a pipe. A worker that dies closes its pipe, so the server sees
it at once.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from typing import Any

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
    """One worker's request rows and their answers.

    Args:
        rows: the most rows one request can carry.
        inputs: the request's columns, (name, dtype, shape of one row), each an attribute
            `[rows, *shape]`: `obs` planes for an engine, compact boards for perfkit's search.
        actions: the width of a policy row.
    """

    logits: np.ndarray  # [R, A] float64
    values: np.ndarray  # [R] float64
    share: np.ndarray  # [R] float64: 1 / the size of the call the row went in

    def __init__(self, fd: int, *, rows: int, inputs: Sequence[tuple[str, Any, tuple[int, ...]]], actions: int) -> None:
        self.rows = rows
        super().__init__(fd, [
            *((name, dtype, (rows, *shape)) for name, dtype, shape in inputs),
            ("logits", np.float64, (rows, actions)), ("values", np.float64, (rows,)), ("share", np.float64, (rows,)),
        ])

    @classmethod
    def create(cls, *, rows: int, inputs: Sequence[tuple[str, Any, tuple[int, ...]]], actions: int) -> SharedRows:
        """A new block (the server's side), to pass to the worker it starts."""
        return cls(cls.new_fd(), rows=rows, inputs=inputs, actions=actions)

    def __getattr__(self, name: str) -> np.ndarray:  # an input column, set by SharedBlock
        raise AttributeError(f"shared rows have no column {name!r}")


# Test hook: "I:K" makes worker I exit with code 3 (os._exit, no word said) when about to send
# request K+1; "I:K:raise" makes it raise an exception there instead (perfkit's search workers).
CRASH_ENV = "PERFKIT_TEST_WORKER_EXIT"
STOP_GRACE_S = 2.0  # how long a stopping worker may take before it is terminated
_THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def crash_hook(index: int) -> tuple[int, bool] | None:
    """(after k requests, raise instead of exit) for worker `index` from CRASH_ENV, if set."""
    text = os.environ.get(CRASH_ENV)
    if not text:
        return None
    worker, after, *how = text.split(":")
    return (int(after), how == ["raise"]) if int(worker) == index else None


# A worker runs this with `python -c`: the config as JSON, then its entry point.
_BOOT = """\
import importlib, json, sys, types
cfg = json.loads(sys.argv[1])
sys.path[:] = cfg.pop("sys_path")
package = cfg.pop("light_package")
if package:  # perfkit without running perfkit/__init__.py, which imports torch
    pkg = types.ModuleType("perfkit")
    pkg.__path__ = [package]
    sys.modules["perfkit"] = pkg
module, _, name = cfg.pop("entry").partition(":")
sys.exit(getattr(importlib.import_module(module), name)(cfg))
"""


@dataclass
class WorkerProcess:
    """A started worker: its process, the server's end of its pipe, its shared rows."""

    index: int
    proc: subprocess.Popen[bytes]
    conn: Connection
    rows: SharedRows

    def exit_line(self, timeout_s: float = 1.0) -> str:
        """How the process ended: "exit code 3", "killed by signal 9" (waits up to `timeout_s`)."""
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            code = None
        return f"exit code {code}" if code is None or code >= 0 else f"killed by signal {-code}"


def launch(index: int, *, entry: str, cfg: dict[str, Any], rows: SharedRows, light: bool = False) -> WorkerProcess:
    """Start worker `index`: `entry(cfg)` ("module:function") in a fresh interpreter.

    `cfg` gets `index`, `conn_fd` and `shm_fd` (the worker's pipe and `rows`, inherited). The
    worker's numpy and torch work is small: one thread each, not a pool per worker. On failure
    the pipe and `rows` are closed.
    """
    import perfkit

    server_end, worker_end = Pipe(duplex=True)
    cfg = {
        **cfg, "index": index, "conn_fd": worker_end.fileno(), "shm_fd": rows.fd, "entry": entry, "sys_path": sys.path,
        "light_package": os.path.dirname(perfkit.__file__) if light else None,
    }
    env = {**os.environ, **dict.fromkeys(_THREAD_ENV, "1")}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, json.dumps(cfg)], pass_fds=(worker_end.fileno(), rows.fd),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env,
        )
    except BaseException:
        server_end.close()
        rows.close()
        raise
    finally:
        worker_end.close()
    return WorkerProcess(index=index, proc=proc, conn=server_end, rows=rows)


def stop(workers: Sequence[WorkerProcess], *, close_conns: bool = True) -> None:
    """Stop every worker (a "stop" message, then by force) and free its memory.

    `close_conns`: also close the server's ends of the pipes (a worker blocked on its pipe sees
    EOF and exits); False where another thread still reads them (it closes them itself).
    """
    for w in workers:
        if w.proc.poll() is None:
            try:
                w.conn.send(("stop",))
            except OSError:
                pass
        if close_conns:
            w.conn.close()
    deadline = time.monotonic() + STOP_GRACE_S
    for w in workers:
        try:
            w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.terminate()
    for w in workers:
        try:
            w.proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
        w.rows.close()


def remote_forward(
    conn: Connection, rows: SharedRows, *, attribute: Callable[[Any, np.ndarray], None], send_lock: AbstractContextManager[Any],
    crash_after: int | None = None,
) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """A worker's forward: the local server's gathered rows, evaluated by the device process.

    `attribute(owners, shares)` counts the rows for their moves; `crash_after` is a test
    hook: die without a word before request `crash_after + 1`, as a crash would.
    """
    sent = 0

    def forward(planes: np.ndarray, *, owners: Any, queue_wait_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        nonlocal sent
        if crash_after is not None and sent == crash_after:
            os._exit(3)  # die without a word, as a crash would
        k = len(planes)
        rows.obs[:k] = planes
        with send_lock:
            conn.send(("req", k))
        sent += 1
        msg = conn.recv()
        if msg[0] == "stop":  # the device process stops the run
            os._exit(0)
        if msg[0] == "err":
            raise PerfkitError(msg[1])  # the device server's one line, as it said it
        attribute(owners, rows.share[:k].copy())
        return rows.logits[:k].copy(), rows.values[:k].copy()

    return forward


def serve_worker(
    conn: Connection, rows: SharedRows, server: BatchServer, *, on_message: Callable[[tuple[Any, ...]], bool]
) -> None:
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
