"""CUDA graphs for a few batch-size buckets (`--cuda-graphs`), with a fallback that never stops a run.

On a GPU the network of a small batch costs less than launching its kernels one by one from
Python: a CUDA graph records the whole forward pass once and replays it with one launch.
A graph is fixed in shape, so perfkit captures one per *bucket* (a handful of batch sizes)
and pads each call with blank boards up to the smallest bucket that holds it:

- `choose_buckets(max_batch, count)`: `count` powers of two spread from 1 to the first power
  of two ≥ `max_batch` (e.g. 1, 8, 64, 512 for 512 and 4), so padding wastes at most a
  factor of the spacing, and capture memory stays small;
- `bucket_for(buckets, batch)`: the smallest bucket ≥ batch, None above the largest (that call
  runs eagerly, unpadded);
- `Graphed`: the network behind graphs. A bucket is captured at its first call; where capture
  fails (an op that cannot be captured, out of memory) the bucket is marked with the reason
  and its calls run eagerly from then on, so a run never stops for it. `fallbacks` says
  which buckets fell back and why, `captured` which run as graphs; both go in the manifest.

The capture itself (`capture_cuda`) needs CUDA; everything else here is plain Python,
tested on the CPU with an injected `capture`. Padding rows are blank boards; a conv net in
eval mode treats each row alone, so the real rows' outputs are unchanged by the padding up
to the kernels the batch size selects (an approximate path in float32: its quality is
measured like `--compile`'s).

Replays share one set of static input/output tensors per bucket, so `Graphed` serialises
them: under its lock a call copies its planes in, replays and clones the outputs, and the
next call's stream waits for that one's replay before it overwrites the inputs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from perfkit.types import PerfkitError

DEFAULT_BUCKETS = 4  # graphs captured at most: memory for a few static buffers, not one per size

Forward = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # planes [B, ...] -> logits, values
Capture = Callable[[nn.Module, int, torch.Tensor], Forward]  # (model, bucket, example planes) -> replay


def choose_buckets(max_batch: int, count: int = DEFAULT_BUCKETS) -> tuple[int, ...]:
    """`count` powers of two from 1 up to the first power of two ≥ `max_batch`, evenly spread in log2."""
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise PerfkitError(f"cuda graphs: the largest batch must be a whole number >= 1, got {max_batch!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise PerfkitError(f"cuda graphs: the number of buckets must be a whole number >= 1, got {count!r}")
    top = max(0, max_batch - 1).bit_length()  # 2**top >= max_batch
    if count == 1 or top == 0:
        return (1 << top,)
    exps = sorted({round(i * top / (count - 1)) for i in range(count)})
    return tuple(1 << e for e in exps)


def bucket_for(buckets: tuple[int, ...], batch: int) -> int | None:
    """The smallest bucket holding `batch` boards; None when it is larger than every bucket."""
    return next((b for b in buckets if b >= batch), None)


class Graphed(nn.Module):
    """`model` replayed from a CUDA graph per bucket; eager above the largest bucket or where capture failed.

    Args:
        model: maps planes [B, ...] to (logits [B, A], values [B]); in eval mode.
        buckets: batch sizes to capture (`choose_buckets`).
        capture: records `model` at a bucket size and returns its replay (default `capture_cuda`);
            injectable so that the bucket choice and the fallback are tested without CUDA.
    """

    def __init__(self, model: nn.Module, buckets: tuple[int, ...], *, capture: Capture | None = None) -> None:
        super().__init__()
        if not buckets or list(buckets) != sorted(set(buckets)):
            raise PerfkitError(f"cuda graphs: buckets must be distinct and ascending, got {buckets!r}")
        self.inner = model
        self.buckets = tuple(buckets)
        self.capture = capture_cuda if capture is None else capture
        self.replays: dict[int, Forward] = {}
        self.fallbacks: dict[int, str] = {}  # bucket -> why it runs eagerly
        self.calls = {"graph": 0, "eager": 0}
        self._lock = threading.Lock()

    @property
    def captured(self) -> tuple[int, ...]:
        return tuple(sorted(self.replays))

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = planes.shape[0]
        size = bucket_for(self.buckets, b)
        with self._lock:
            replay = self._replay(size, planes) if size is not None else None
            if replay is None or size is None:
                self.calls["eager"] += 1
                logits, values = self.inner(planes)
                return logits, values
            self.calls["graph"] += 1
            if size != b:
                planes = torch.cat([planes, planes.new_zeros((size - b, *planes.shape[1:]))])
            logits, values = replay(planes)
            return logits[:b], values[:b]

    def _replay(self, size: int, planes: torch.Tensor) -> Forward | None:
        """The bucket's replay, captured now if it is new; None where its capture failed."""
        if size in self.replays:
            return self.replays[size]
        if size in self.fallbacks:
            return None
        example = planes.new_zeros((size, *planes.shape[1:]))
        try:
            self.replays[size] = self.capture(self.inner, size, example)
        except Exception as exc:  # capture can fail in many ways; the run goes on eagerly
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            self.fallbacks[size] = f"{type(exc).__name__}: {first}"
            return None
        return self.replays[size]

    def capture_all(self, example: torch.Tensor) -> None:
        """Capture every bucket now, before a run's clock starts and while no other thread uses the
        device (`example`: planes of any batch size, for their shape, dtype and device)."""
        with self._lock, torch.inference_mode():
            for size in self.buckets:
                self._replay(size, example)

    def describe(self) -> dict[str, Any]:
        """What the manifest stores: buckets, which run as graphs, which fell back and why, calls."""
        return {
            "buckets": list(self.buckets), "captured": list(self.captured),
            "fallbacks": {str(k): v for k, v in sorted(self.fallbacks.items())}, "calls": dict(self.calls),
        }


def capture_cuda(model: nn.Module, size: int, example: torch.Tensor) -> Forward:
    """Record `model` at batch `size` in a CUDA graph; returns a replay taking planes [size, ...].

    The pattern of PyTorch's CUDA-graph notes: warm up on a side stream (cuDNN picks its
    kernels, the allocator settles), capture into the shared memory pool, then each replay
    copies the planes into the static input, replays on the caller's stream and clones the
    static outputs (so a later replay cannot overwrite what a caller still reads).
    """
    if example.device.type != "cuda":
        raise PerfkitError("cuda graphs need a CUDA device")
    static_in = example.clone()
    side = torch.cuda.Stream(example.device)
    side.wait_stream(torch.cuda.current_stream(example.device))
    with torch.inference_mode(), torch.cuda.stream(side):
        for _ in range(3):
            model(static_in)
    torch.cuda.current_stream(example.device).wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    # thread_local: another thread's CUDA work during this capture is not an error for it
    with torch.inference_mode(), torch.cuda.graph(graph, pool=_pool(example.device), capture_error_mode="thread_local"):
        static_logits, static_values = model(static_in)
    done = torch.cuda.Event()
    done.record()

    def replay(planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stream = torch.cuda.current_stream(planes.device)
        stream.wait_event(done)  # the previous replay has read the inputs and its outputs were cloned
        static_in.copy_(planes, non_blocking=True)
        graph.replay()
        out = static_logits.clone(), static_values.clone()
        done.record(stream)
        return out

    return replay


_pools: dict[torch.device, Any] = {}  # torch's pool handles


def _pool(device: torch.device) -> Any:
    """One memory pool per device, shared by every bucket's graph (their buffers are reused in turn)."""
    if device not in _pools:
        _pools[device] = torch.cuda.graph_pool_handle()
    return _pools[device]


def graph_network(
    model: nn.Module, *, device: torch.device, max_batch: int, count: int = DEFAULT_BUCKETS, spec: str | None = None
) -> Graphed:
    """`model` behind CUDA graphs for `count` buckets up to `max_batch`; PerfkitError (one line) off CUDA.

    `spec`: the device as the user named it (sim runs on the host's tensors), for the error.
    """
    if device.type != "cuda":
        raise PerfkitError(
            f"--cuda-graphs needs a CUDA device, and this run's device is {spec or device.type}; drop --cuda-graphs"
        )
    return Graphed(model, choose_buckets(max_batch, count))


def find_graphed(model: nn.Module) -> Graphed | None:
    """The `Graphed` wrapper inside `model`, None if it runs without graphs."""
    return next((m for m in model.modules() if isinstance(m, Graphed)), None)
