"""The CPU: the model runs on the host's cores; there is no transfer ("n/a", never invented)."""

from __future__ import annotations

import time

import numpy as np
import torch

from perfkit.devices.base import Device, RunnerOutput
from perfkit.devices.gilfree import without_gil
from perfkit.devices.nvml import GpuReader
from perfkit.devices.threads import usable_cores
from perfkit.types import Game


class CpuDevice(Device):
    kind = "cpu"
    spec = "cpu"

    @property
    def torch_device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def name(self) -> str:
        return "cpu"

    def runner(self, model: torch.nn.Module, game: Game, dtype: torch.dtype) -> CpuRunner:
        return CpuRunner(model, game, dtype)

    def gpu_reader(self) -> tuple[GpuReader | None, str | None]:
        return None, "unavailable: the run uses the CPU, not an NVIDIA GPU"


class CpuRunner:
    """Encode, forward, float64 numpy out; encode and forward timed with perf_counter.

    A traced forward releases the GIL, so separate calls may run at once on separate cores
    (`concurrent_calls`): crossgame's `--inflight 2` then keeps two single-threaded forwards
    going, with no barrier between their threads (one call over two intra-op threads waits at
    every operator for the slower thread, and stalls when the search takes that core).
    """

    def __init__(self, model: torch.nn.Module, game: Game, dtype: torch.dtype) -> None:
        self.model, self.game, self.dtype = model, game, dtype
        blank = np.zeros((4, game.compact_width), game.compact_dtype), np.ones(4, np.int8)
        self.network = without_gil(model, self.encode(*blank))  # bit-identical; runs beside busy threads

    @property
    def concurrent_calls(self) -> int:
        """Calls that may run at once: one per core the intra-op threads leave; 1 for an eager
        forward (it holds the GIL between operators, so two calls would take turns)."""
        return max(1, usable_cores() // torch.get_num_threads()) if self.network.traced else 1

    @torch.inference_mode()
    def forward(self, stones: np.ndarray, to_move: np.ndarray) -> RunnerOutput:
        t0 = time.perf_counter()
        planes = self.encode(stones, to_move)
        t1 = time.perf_counter()
        logits, values = self.network(planes)
        out = logits.reshape(len(to_move), -1).to(torch.float64).numpy(), values.reshape(-1).to(torch.float64).numpy()
        t2 = time.perf_counter()
        return RunnerOutput(*out, t1 - t0, None, t2 - t1, None)

    def encode(self, stones: np.ndarray, to_move: np.ndarray) -> torch.Tensor:
        planes: torch.Tensor = self.game.encode(torch.from_numpy(stones), torch.from_numpy(to_move), self.dtype)
        return planes
