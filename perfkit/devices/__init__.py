"""Devices behind one interface: the CPU, CUDA and the simulated accelerator (`sim`).

A `Device` owns what differs between backends: its name, where the model's tensors live,
how a call is timed and transferred (a `Runner` per evaluator), how memory is freed after
an out-of-memory error, and the NVML reader of its GPU. The Evaluator, the Tracer, the
bench and the curve ask it instead of testing `device.type == "cuda"`.

`get_device` turns what a user typed (`auto`, `cpu`, `cuda`, `cuda:N`, `sim`, `sim:CURVE`,
`sim:free`) into one; adding a backend is a module here and a line in `get_device`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perfkit.devices.base import Device, Runner, RunnerOutput
from perfkit.types import PerfkitError

if TYPE_CHECKING:
    import torch

DEVICE_HELP = "auto (default), cpu, cuda, cuda:N, or sim[:CURVE.json|free] (a simulated accelerator)"


def get_device(spec: str | torch.device | Device) -> Device:
    """The device called `spec`; PerfkitError (one line) if it is unknown or not here.

    Args:
        spec: a Device (returned as is), a torch device, or a name: auto, cpu, cuda, cuda:N,
            sim (the H100-shaped paper curve of the model's shape), sim:CURVE (a perfkit
            curve file), sim:free (a network that costs nothing: the CPU side alone).
    """
    if isinstance(spec, Device):
        return spec
    import torch

    from perfkit.devices.cpu import CpuDevice

    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise PerfkitError(f"device must be a name such as cpu or sim, got {spec!r}")
    if spec == "sim" or spec.startswith("sim:"):
        from perfkit.devices.sim import SimDevice

        return SimDevice.from_spec(spec)
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return CpuDevice()
    if spec == "cuda" or (spec.startswith("cuda:") and spec[5:].isdigit()):
        from perfkit.devices.cuda import CudaDevice

        return CudaDevice.from_spec(spec)
    raise PerfkitError(f"unknown device {spec!r}; use {DEVICE_HELP}")


__all__ = ["DEVICE_HELP", "Device", "Runner", "RunnerOutput", "get_device"]
