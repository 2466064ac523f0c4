"""Opt-in approximate networks: reduced precision, autocast and torch.compile, each checked before a run.

None is exact: a bfloat16/float16 network rounds differently from float32, autocast runs
the convolutions in half precision on float32 weights, and a compiled network may reorder
its arithmetic. So each is opt-in (`--precision bfloat16|float16`, `--autocast
float16|bfloat16`, `--compile`; CUDA graphs are `perfkit.devices.graphs`) and its price is
measured against the float64 reference by `perfkit.analysis.quality` before a user trusts it.

torch.compile specialises on the input's shape: called at every batch size self-play makes,
it would recompile for each. `Bucketed` pads each batch with blank boards up to the next power
of two, so a run compiles at most log2(largest call) + 1 times, and it times each bucket's
first call (tracing, compiling and one call) so that the compile time is reported apart from
the steady state.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

from perfkit.devices import get_device
from perfkit.types import PerfkitError

APPROXIMATE_PRECISIONS = ("bfloat16", "float16")
AUTOCAST_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def check_precision_supported(device: torch.device, dtype: torch.dtype, model: nn.Module, obs_shape: tuple[int, ...]) -> None:
    """PerfkitError (one line) unless `model` runs in `dtype` on `device`; float32/float64 always do.

    A reduced precision is probed with one forward pass of a copy of the network on 2 blank
    boards: that is what fails where the device has no kernels for it.
    """
    if dtype in (torch.float32, torch.float64):
        return
    name = str(dtype).removeprefix("torch.")
    why = get_device(device).unsupported(dtype)
    if why:
        raise PerfkitError(f"{name} is {why}; use --precision float32")
    import copy

    try:
        probe = copy.deepcopy(model).to(device=device, dtype=dtype).eval()
        with torch.inference_mode():
            probe(torch.zeros((2, *obs_shape), device=device, dtype=dtype))
    except (RuntimeError, NotImplementedError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise PerfkitError(f"{name} is not supported on {device.type} here ({first}); use --precision float32") from None


class Autocast(nn.Module):
    """`model` (float32 weights) run under `torch.autocast` in `dtype`: the mixed precision of GPU
    inference, where matmuls and convolutions run in half precision and reductions stay float32.
    Outputs come back as float32."""

    def __init__(self, model: nn.Module, device_type: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.inner, self.device_type, self.dtype = model, device_type, dtype

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """planes [B, *obs_shape] float32 -> logits [B, A] float32, values [B] float32."""
        # cache_enabled=False: required inside a CUDA graph capture (--cuda-graphs), and each call
        # enters autocast anew, so its weight-cast cache would not outlive a call anyway.
        with torch.autocast(self.device_type, dtype=self.dtype, cache_enabled=False):
            logits, values = self.inner(planes)
        return logits.float(), values.float()


def autocast_network(model: nn.Module, obs_shape: tuple[int, ...], *, device: torch.device, precision: str, name: str) -> Autocast:
    """`model` under autocast in `name` (float16 or bfloat16), probed now on 2 blank boards.

    PerfkitError (one line) for another name, for a run whose precision is not float32 (autocast
    takes float32 weights), or where this device has no autocast kernels for it.
    """
    if name not in AUTOCAST_DTYPES:
        raise PerfkitError(f"unknown --autocast {name!r}; use {' or '.join(AUTOCAST_DTYPES)}")
    if precision != "float32":
        raise PerfkitError(f"--autocast {name} runs a float32 network in mixed precision; drop --precision {precision}")
    why = get_device(device).unsupported(AUTOCAST_DTYPES[name])
    if why:
        raise PerfkitError(f"autocast {name} is {why}; use float16")
    wrapped = Autocast(model.to(device=device, dtype=torch.float32).eval(), device.type, AUTOCAST_DTYPES[name])
    try:
        with torch.inference_mode():
            wrapped(torch.zeros((2, *obs_shape), device=device))
    except (RuntimeError, NotImplementedError, TypeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise PerfkitError(f"autocast {name} is not supported on {device.type} here ({first}); drop --autocast") from None
    return wrapped


def bucket(batch: int) -> int:
    """The power of two a batch of `batch` boards is padded to (1, 2, 4, ...)."""
    return 1 << max(0, int(batch) - 1).bit_length()


class Bucketed(nn.Module):
    """`torch.compile(model)` called only at power-of-two batch sizes; same outputs per board.

    `compile_s[size]` is the wall time of the first call at `size` (tracing + compiling + one call).
    """

    traceable = False  # perfkit.devices.gilfree: torch.compile makes its own graphs

    def __init__(
        self, model: nn.Module, *, backend: str = "inductor", clock: Callable[[], float] = time.perf_counter
    ) -> None:
        super().__init__()
        self.inner = model
        self.backend = backend
        self.clock = clock
        self.compile_s: dict[int, float] = {}
        self.compiled = torch.compile(model, dynamic=False, backend=backend)

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """planes [B, *obs_shape] -> logits [B, A], values [B], computed at batch bucket(B)."""
        b = planes.shape[0]
        size = bucket(b)
        if size != b:
            # Blank boards fill the bucket; their rows are cut off the outputs below.
            planes = torch.cat([planes, planes.new_zeros((size - b, *planes.shape[1:]))])
        if size in self.compile_s:
            logits, values = self.compiled(planes)
        else:
            t0 = self.clock()
            logits, values = self.compiled(planes)
            get_device(planes.device).synchronize()  # a GPU runs asynchronously: wait, or the clock reads launch time
            self.compile_s[size] = self.clock() - t0
        return logits[:b], values[:b]


def compile_network(
    model: nn.Module, obs_shape: tuple[int, ...], *, device: torch.device, dtype: torch.dtype, backend: str = "inductor"
) -> Bucketed:
    """`model` compiled with batch buckets, checked by compiling batch 1 now.

    PerfkitError (one line) where torch.compile cannot work here (no C compiler, an
    unsupported platform or Python), rather than a traceback in the middle of a run.
    """
    import torch._dynamo.config as dynamo_config

    # Each power of two is one compiled graph: allow them all (2^0 .. 2^20) before dynamo falls back to eager.
    for knob in ("recompile_limit", "cache_size_limit"):
        if getattr(dynamo_config, knob, 64) < 32:
            setattr(dynamo_config, knob, 32)
    try:
        wrapped = Bucketed(model.to(device=device, dtype=dtype).eval(), backend=backend)
        with torch.inference_mode():
            wrapped(torch.zeros((1, *obs_shape), device=device, dtype=dtype))
    except Exception as exc:  # inductor raises many kinds (BackendCompilerFailed, CalledProcessError, ...)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise PerfkitError(f"torch.compile cannot work here ({type(exc).__name__}: {first}); drop --compile") from None
    return wrapped


def precompile(model: nn.Module, obs_shape: tuple[int, ...], *, up_to: int, device: torch.device, dtype: torch.dtype) -> float:
    """Compile every bucket up to `up_to` boards now (outside the timed run); returns the seconds it took."""
    if not isinstance(model, Bucketed):
        return 0.0
    spent = 0.0
    with torch.inference_mode():
        for size in (2**k for k in range(bucket(up_to).bit_length())):
            if size not in model.compile_s:
                model(torch.zeros((size, *obs_shape), device=device, dtype=dtype))
                spent += model.compile_s[size]
    return spent


def find_bucketed(model: nn.Module) -> Bucketed | None:
    """The `Bucketed` wrapper inside `model` (as is or under a wrapper), None if not compiled."""
    return next((m for m in model.modules() if isinstance(m, Bucketed)), None)
