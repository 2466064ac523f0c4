"""An NVIDIA GPU: double-buffered pinned transfers on their own streams, CUDA-event timing, NVML.

Never run on this project's machines yet (no GPU lent): the tests that need it skip with a reason.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from perfkit.devices.base import Device, Forward, RunnerOutput, Slots, TimedCall
from perfkit.devices.nvml import GpuReader, driver_version, open_reader
from perfkit.types import Game, PerfkitError


class EventClock:
    """Consecutive phases of the work queued on the current CUDA stream, timed by CUDA events.

    perfkit's one device-timing path (the runner's calls, a traced network's calls): a wall
    clock around asynchronous copies and kernels would time their queueing, not their work.
    """

    def __init__(self, phases: int) -> None:
        self._events = [torch.cuda.Event(enable_timing=True) for _ in range(phases + 1)]
        self._marked = 0

    def mark(self) -> None:
        """Here one phase ends and the next begins (the first mark starts the first phase)."""
        self._events[self._marked].record()
        self._marked += 1

    def seconds(self) -> list[float]:
        """Each phase's seconds, in order; waits for the last phase to finish."""
        self._events[-1].synchronize()
        return [a.elapsed_time(b) / 1e3 for a, b in zip(self._events, self._events[1:], strict=False)]


class CudaDevice(Device):
    kind = "cuda"
    offloads = True

    def __init__(self, index: int = 0) -> None:
        self.index = index
        self.spec = f"cuda:{index}"

    @classmethod
    def from_spec(cls, spec: str) -> CudaDevice:
        """`cuda` or `cuda:N`; PerfkitError if CUDA or that device is not there."""
        if not torch.cuda.is_available():
            raise PerfkitError(
                f"--device {spec} asked for, but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); use --device cpu, auto or sim"
            )
        index = int(spec[5:]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise PerfkitError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) visible")
        return cls(index)

    @property
    def torch_device(self) -> torch.device:
        return torch.device("cuda", self.index)

    @property
    def name(self) -> str:
        return torch.cuda.get_device_name(self.torch_device)

    def runner(self, model: torch.nn.Module, game: Game, dtype: torch.dtype) -> CudaRunner:
        return CudaRunner(model, game, dtype, self.torch_device)

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.torch_device)

    def timed_call(self, x: torch.Tensor, forward: Forward) -> TimedCall:
        """A pinned copy of `x` in, `forward`, the outputs copied back, each timed by CUDA events."""
        clock = EventClock(phases=3)  # h2d, forward, d2h
        x = x.pin_memory()
        clock.mark()
        x = x.to(self.torch_device, non_blocking=True)
        clock.mark()
        logits, values = forward(x)
        clock.mark()
        logits, values = logits.to("cpu"), values.to("cpu")
        clock.mark()
        h2d, fwd, d2h = clock.seconds()
        return logits, values, h2d, fwd, d2h

    def free_memory(self) -> None:
        torch.cuda.empty_cache()

    def unsupported(self, dtype: torch.dtype) -> str | None:
        if dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
            return f"not supported on {self.name}"
        return None

    def hardware(self) -> dict[str, Any]:
        props = torch.cuda.get_device_properties(self.torch_device)
        return {"cudnn": torch.backends.cudnn.version(), "gpu_memory_gib": props.total_memory / 2**30,
                "gpu_capability": f"{props.major}.{props.minor}", "driver": driver_version()}

    def profiler_activities(self) -> tuple[list[Any], str]:
        from torch.profiler import ProfilerActivity

        return [ProfilerActivity.CPU, ProfilerActivity.CUDA], "self_cuda_time_total"

    def gpu_reader(self) -> tuple[GpuReader | None, str | None]:
        return open_reader("cuda", self.index)


def _grow(buf: torch.Tensor, size: int) -> torch.Tensor:
    """A pinned buffer of at least `size` elements (doubling, so that growth is rare)."""
    if buf.numel() >= size:
        return buf
    return torch.empty(max(size, 2 * buf.numel()), dtype=buf.dtype).pin_memory()


class _Slot:
    """One call's worth of CUDA resources: a stream and pinned in/out buffers, reused call after call."""

    def __init__(self, device: torch.device, row_dtype: torch.dtype, out_dtype: torch.dtype) -> None:
        self.stream = torch.cuda.Stream(device)
        # The weights were copied on the default stream: the work stream must see them.
        self.stream.wait_stream(torch.cuda.current_stream(device))
        self.pinned_in = torch.empty(0, dtype=row_dtype).pin_memory()
        self.pinned_logits = torch.empty(0, dtype=out_dtype).pin_memory()
        self.pinned_values = torch.empty(0, dtype=out_dtype).pin_memory()


class CudaRunner:
    """One evaluator's CUDA path: double-buffered pinned transfers on their own streams.

    `slots` (default 2) sets of a stream and pinned in/out buffers (`perfkit.devices.Slots`):
    a call takes a free set, so with two calls in flight (crossgame `--inflight 2`, whose
    device pool then runs `concurrent_calls` threads) one call's host-to-device copy and
    encode overlap the other's forward pass and copy back, instead of waiting behind them.
    """

    def __init__(
        self, model: torch.nn.Module, game: Game, dtype: torch.dtype, device: torch.device, *, slots: int = 2
    ) -> None:
        self.model, self.game, self.dtype, self.device = model, game, dtype, device
        row_dtype = torch.from_numpy(np.empty(0, game.compact_dtype)).dtype  # int8 for Hex
        out_dtype = torch.float32 if dtype in (torch.bfloat16, torch.float16) else dtype  # numpy has no bfloat16
        self.slots = Slots([_Slot(device, row_dtype, out_dtype) for _ in range(slots)])
        self.concurrent_calls = slots

    @torch.inference_mode()
    def forward(self, stones: np.ndarray, to_move: np.ndarray) -> RunnerOutput:
        with self.slots.take() as slot:
            return self._forward(slot, stones, to_move)

    def _forward(self, slot: _Slot, stones: np.ndarray, to_move: np.ndarray) -> RunnerOutput:
        b, cells = stones.shape  # cells: the compact row's width
        actions = self.game.actions
        t0 = time.perf_counter()
        slot.pinned_in = _grow(slot.pinned_in, b * (cells + 1))
        host = slot.pinned_in[: b * (cells + 1)].view(b, cells + 1)
        host.numpy()[:, :cells] = stones
        host.numpy()[:, cells] = to_move
        slot.pinned_logits = _grow(slot.pinned_logits, b * actions)
        slot.pinned_values = _grow(slot.pinned_values, b)
        host_prep_s = time.perf_counter() - t0
        clock = EventClock(phases=4)  # h2d, encode, forward, d2h
        with torch.cuda.stream(slot.stream):
            clock.mark()
            dev = host.to(self.device, non_blocking=True)
            clock.mark()
            planes = self.game.encode(dev[:, :cells], dev[:, cells].to(torch.int8), self.dtype)
            clock.mark()
            logits, values = self.model(planes)
            clock.mark()
            out_logits = slot.pinned_logits[: b * actions].view(b, actions)
            out_values = slot.pinned_values[:b]
            out_logits.copy_(logits.reshape(b, actions), non_blocking=True)
            out_values.copy_(values.reshape(b), non_blocking=True)
            clock.mark()
        h2d, enc, fwd, d2h = clock.seconds()
        return RunnerOutput(
            out_logits.numpy().astype(np.float64), out_values.numpy().astype(np.float64),
            host_prep_s + enc, h2d, fwd, d2h,
        )
