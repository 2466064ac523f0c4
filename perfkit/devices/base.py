"""The interface every device implements (see `perfkit.devices`)."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

if TYPE_CHECKING:
    import numpy as np
    import torch

    from perfkit.devices.nvml import GpuReader
    from perfkit.types import Game


class RunnerOutput(NamedTuple):
    """One call's outputs and the times of its phases (None: the phase does not exist here)."""

    logits: np.ndarray  # [B, A] float64
    values: np.ndarray  # [B] float64
    encode_s: float
    h2d_s: float | None
    forward_s: float
    d2h_s: float | None


# A traced network's call: planes [B, ...] on the device -> (logits [B, A], values [B]).
Forward = Callable[["torch.Tensor"], tuple["torch.Tensor", "torch.Tensor"]]
# (logits [B, A], values [B] on the host, h2d_s, forward_s, d2h_s); None: no such phase here.
TimedCall = tuple["torch.Tensor", "torch.Tensor", "float | None", float, "float | None"]

T = TypeVar("T")


class Slots(Generic[T]):
    """A fixed set of reusable resources, each lent to one caller at a time (double buffering with two).

    `take()` blocks until one is free and gives it back when the caller's block ends, also on
    an error. CUDA's runner keeps a stream and pinned buffers per slot.
    """

    def __init__(self, items: Sequence[T]) -> None:
        if not items:
            raise ValueError("Slots needs at least one item")
        self._free: queue.SimpleQueue[T] = queue.SimpleQueue()
        for item in items:
            self._free.put(item)
        self.size = len(items)

    @contextmanager
    def take(self) -> Iterator[T]:
        item = self._free.get()
        try:
            yield item
        finally:
            self._free.put(item)


class Runner(Protocol):
    """Runs one evaluator's calls on a device (holds its buffers and streams)."""

    def forward(self, stones: np.ndarray, to_move: np.ndarray) -> RunnerOutput:
        """Outputs for compact rows stones [B, D] and to_move [B] int8, with phase times."""
        ...


class Device:
    """A backend: name, tensor placement, a timed call path, memory, NVML, manifest fields."""

    kind: str = "?"  # "cpu", "cuda", "sim"
    simulated: bool = False  # True: its times are modelled, not measured
    offloads: bool = False  # True: the network does not run on the host's cores (threads: one)
    spec: str = "?"  # what the run records as its device: "cpu", "cuda:0", "sim", "sim:FILE"

    @property
    def torch_device(self) -> torch.device:
        """Where the model's tensors live."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        """In words, for the console and curve file names: "cpu", "NVIDIA H100 80GB HBM3"."""
        raise NotImplementedError

    def runner(self, model: torch.nn.Module, game: Game, dtype: torch.dtype) -> Runner:
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait until queued work is done (before a clock is read)."""

    def timed_call(self, x: torch.Tensor, forward: Forward) -> TimedCall:
        """`forward(x)` for a network perfkit traces, with its phases timed by this device's clock.

        Here the network runs where `x` is: no transfer (None, never an invented figure).
        """
        t0 = time.perf_counter()
        logits, values = forward(x)
        return logits, values, None, time.perf_counter() - t0, None

    def free_memory(self) -> None:
        """Return cached memory after an out-of-memory error, so that smaller batches fit."""

    def unsupported(self, dtype: torch.dtype) -> str | None:
        """Why this device cannot run `dtype`, known before trying ("not supported on ..."); None: it may."""
        return None

    def hardware(self) -> dict[str, Any]:
        """The hardware beyond the manifest's fields, for a results page: memory, capability, driver ({}: none)."""
        return {}

    def profiler_activities(self) -> tuple[list[Any], str]:
        """torch.profiler's activities on this device, and the column a per-operator table sorts by."""
        from torch.profiler import ProfilerActivity

        return [ProfilerActivity.CPU], "self_cpu_time_total"

    def gpu_reader(self) -> tuple[GpuReader | None, str | None]:
        """(NVML reader, None), or (None, "unavailable: <reason>")."""
        return None, f"unavailable: the run uses {self.name}, not an NVIDIA GPU"

    def environment(self) -> dict[str, Any]:
        """The manifest's device fields."""
        return {"device": self.spec, "device_name": self.name, "simulated": self.simulated}

    def __str__(self) -> str:
        return self.spec
