"""A cheaper exact network: Conv–BatchNorm folding and the memory format, chosen at load.

In eval mode a BatchNorm after a convolution is an affine map per channel, so it folds into
the convolution's weights and bias (`torch.nn.utils.fusion.fuse_conv_bn_eval`): one pass
over the activations fewer per layer, the same function. The folding is computed in float64
whatever the precision the network then runs in, so a float64 network's outputs equal the
unfolded ones to rounding (1e-12, tested) and float64 games are identical.

The memory format (channels-last or the default) is chosen by timing both on the device
(`choose_memory_format`): channels-last is faster for some convolutions on some CPUs and
slower elsewhere, so it is measured, never assumed.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from perfkit.devices import get_device

MEMORY_FORMATS = ("contiguous", "channels_last")


def _folded(conv: nn.Module | None, bn: nn.Module | None) -> nn.Conv2d | None:
    """`conv` with `bn` folded into it, or None when they are not a Conv2d and its BatchNorm2d."""
    if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats:
        return fuse_conv_bn_eval(conv, bn)
    return None


def fold_batchnorm(model: nn.Module, *, dtype: torch.dtype | None = None) -> tuple[nn.Module, int]:
    """A copy of `model` (eval mode) with each BatchNorm2d that follows a Conv2d folded into it.

    Pairs are found as adjacent items of an `nn.Sequential` and as attributes `convK`/`bnK`
    of one module (perfkit's residual blocks); a folded BatchNorm becomes `nn.Identity`.
    The fold is computed in float64; the copy has `dtype` (None: the model's).
    Returns (the folded copy, how many BatchNorms were folded).
    """
    if dtype is None:
        dtype = next((p.dtype for p in model.parameters()), torch.float32)
    folded = copy.deepcopy(model).eval().to(torch.float64)
    count = 0
    for module in list(folded.modules()):
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            for a, b in zip(names, names[1:], strict=False):
                fused = _folded(module._modules[a], module._modules[b])
                if fused is not None:
                    module._modules[a] = fused
                    module._modules[b] = nn.Identity()
                    count += 1
        for name, child in list(module._modules.items()):
            fused = _folded(child, module._modules.get("bn" + name[4:])) if name.startswith("conv") else None
            if fused is not None:
                setattr(module, name, fused)
                setattr(module, "bn" + name[4:], nn.Identity())
                count += 1
    return folded.to(dtype).eval(), count


class ChannelsLast(nn.Module):
    """`model` with its weights and input in channels-last memory format (same outputs)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.inner = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stub lacks memory_format; Module.to takes it

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, values = self.inner(planes.contiguous(memory_format=torch.channels_last))
        return logits, values


def in_format(model: nn.Module, memory_format: str) -> nn.Module:
    """`model` as is (`contiguous`) or wrapped to run channels-last."""
    return ChannelsLast(model) if memory_format == "channels_last" else model


def time_forward(model: nn.Module, planes: torch.Tensor, *, repeats: int = 5) -> float:
    """Median seconds of `model(planes)` over `repeats` after one untimed call."""
    device = get_device(planes.device)
    with torch.inference_mode():
        model(planes)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(planes)
            device.synchronize()
            times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def choose_memory_format(
    model: nn.Module, obs_shape: tuple[int, ...], *, device: torch.device, dtype: torch.dtype, batch: int = 64,
    repeats: int = 3,
) -> tuple[str, dict[str, float]]:
    """The faster memory format for `model` at `batch` boards on `device`, and each one's time (s)."""
    planes = torch.rand((batch, *obs_shape), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    planes = planes.round().to(device=device, dtype=dtype)
    times: dict[str, float] = {}
    for fmt in MEMORY_FORMATS:
        candidate = in_format(copy.deepcopy(model).to(device=device, dtype=dtype).eval(), fmt)
        times[fmt] = time_forward(candidate, planes, repeats=repeats)
    return min(times, key=times.__getitem__), times


def prepare_network(
    model: nn.Module, obs_shape: tuple[int, ...], *, device: torch.device, dtype: torch.dtype,
    memory_format: str = "auto",
) -> tuple[nn.Module, dict[str, Any]]:
    """The exact fast network: BatchNorm folded, in the memory format measured fastest (`auto`)
    or the one given. Returns (the network, what was done: folded count, format, timings)."""
    folded, count = fold_batchnorm(model, dtype=dtype)
    times = None
    if memory_format == "auto":
        memory_format, times = choose_memory_format(folded, obs_shape, device=device, dtype=dtype)
    elif memory_format not in MEMORY_FORMATS:
        from perfkit.types import PerfkitError

        raise PerfkitError(f"unknown memory format {memory_format!r}; use auto, {' or '.join(MEMORY_FORMATS)}")
    info = {"folded_batchnorms": count, "memory_format": memory_format, "memory_format_s": times}
    return in_format(folded, memory_format), info
