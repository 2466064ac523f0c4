"""An NVIDIA GPU: reused pinned buffers, non-blocking copies on one stream, CUDA-event timing, NVML.

Never run on this project's machines yet (no GPU lent): the tests that need it skip with a reason.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from perfkit.devices.base import Device, RunnerOutput
from perfkit.types import PerfkitError


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

    def runner(self, model, game, dtype) -> CudaRunner:
        return CudaRunner(model, game, dtype, self.torch_device)

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.torch_device)

    def free_memory(self) -> None:
        torch.cuda.empty_cache()

    def gpu_reader(self):
        from perfkit.instrument.nvml import open_reader

        return open_reader("cuda", self.index)


def _grow(buf: torch.Tensor, size: int) -> torch.Tensor:
    """A pinned buffer of at least `size` elements (doubling, so that growth is rare)."""
    if buf.numel() >= size:
        return buf
    return torch.empty(max(size, 2 * buf.numel()), dtype=buf.dtype).pin_memory()


class CudaRunner:
    """One evaluator's CUDA path: its stream and its pinned in/out buffers, reused across calls."""

    def __init__(self, model: torch.nn.Module, game, dtype: torch.dtype, device: torch.device) -> None:
        self.model, self.game, self.dtype, self.device = model, game, dtype, device
        self.stream = torch.cuda.Stream(device)
        # The weights were copied on the default stream: the work stream must see them.
        self.stream.wait_stream(torch.cuda.current_stream(device))
        row_dtype = torch.from_numpy(np.empty(0, game.compact_dtype)).dtype  # int8 for Hex
        self._pinned_in = torch.empty(0, dtype=row_dtype).pin_memory()
        out_dtype = torch.float32 if dtype in (torch.bfloat16, torch.float16) else dtype  # numpy has no bfloat16
        self._pinned_logits = torch.empty(0, dtype=out_dtype).pin_memory()
        self._pinned_values = torch.empty(0, dtype=out_dtype).pin_memory()

    @torch.inference_mode()
    def forward(self, stones: np.ndarray, to_move: np.ndarray) -> RunnerOutput:
        b, cells = stones.shape  # cells: the compact row's width
        actions = self.game.actions
        t0 = time.perf_counter()
        self._pinned_in = _grow(self._pinned_in, b * (cells + 1))
        host = self._pinned_in[: b * (cells + 1)].view(b, cells + 1)
        host.numpy()[:, :cells] = stones
        host.numpy()[:, cells] = to_move
        self._pinned_logits = _grow(self._pinned_logits, b * actions)
        self._pinned_values = _grow(self._pinned_values, b)
        host_prep_s = time.perf_counter() - t0
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(5)]
        with torch.cuda.stream(self.stream):
            ev[0].record()
            dev = host.to(self.device, non_blocking=True)
            ev[1].record()
            planes = self.game.encode(dev[:, :cells], dev[:, cells].to(torch.int8), self.dtype)
            ev[2].record()
            logits, values = self.model(planes)
            ev[3].record()
            out_logits = self._pinned_logits[: b * actions].view(b, actions)
            out_values = self._pinned_values[:b]
            out_logits.copy_(logits.reshape(b, actions), non_blocking=True)
            out_values.copy_(values.reshape(b), non_blocking=True)
            ev[4].record()
        ev[4].synchronize()
        h2d, enc, fwd, d2h = (ev[i].elapsed_time(ev[i + 1]) / 1e3 for i in range(4))
        return RunnerOutput(
            out_logits.numpy().astype(np.float64), out_values.numpy().astype(np.float64),
            host_prep_s + enc, h2d, fwd, d2h,
        )
