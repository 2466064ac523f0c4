"""Reading one NVIDIA GPU's counters through NVML: utilisation, memory, power, SM clock.

How to read a device is the device's business (`Device.gpu_reader`); sampling it through a
run is the instrument's (`perfkit.instrument.nvml.GpuSampler`). Where there is no NVIDIA
driver, library or GPU, opening a reader says why ("unavailable: <reason>").
"""

from __future__ import annotations

import os
from typing import Any, Protocol


class Unavailable(Exception):
    """NVML cannot be read; the message is the reason shown to the user."""


class GpuReader(Protocol):
    def read(self) -> tuple[float, float, float, float]:
        """(utilisation %, memory used MB, power W, SM clock MHz) now."""


def visible_device(index: int, visible: str | None) -> int | str:
    """What torch's `cuda:index` is in NVML's terms, given CUDA_VISIBLE_DEVICES.

    CUDA renumbers the visible devices from 0, NVML does not: with
    CUDA_VISIBLE_DEVICES=2,3 torch's cuda:1 is NVML's device 3. Entries may also be UUIDs
    ("GPU-…", "MIG-…"), returned as strings. Unset or empty: no renumbering.
    """
    if not visible:
        return index
    ids = [v.strip() for v in visible.split(",") if v.strip()]
    if index >= len(ids):
        raise Unavailable(f"cuda:{index} is not among CUDA_VISIBLE_DEVICES={visible!r}")
    entry = ids[index]
    return int(entry) if entry.isdigit() else entry


class NvmlReader:
    """Reads one GPU through nvidia-ml-py: the one torch calls `cuda:index`.

    Args:
        index: torch's CUDA device index.
        nvml: the pynvml module, or a fake with the same functions (tests); None imports it.
        uuid: the device's UUID as torch reports it; None asks torch (if it can).
        visible: CUDA_VISIBLE_DEVICES; None reads the environment.
    """

    def __init__(self, index: int = 0, *, nvml: Any = None, uuid: str | None = None, visible: str | None = None) -> None:
        if nvml is None:
            try:
                import pynvml
            except ImportError as exc:
                raise Unavailable(f"nvidia-ml-py is not installed ({exc}); pip install nvidia-ml-py") from None
            nvml = pynvml
        self.nvml = nvml
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            raise Unavailable(f"NVML could not start: {exc} (no NVIDIA driver?)") from None
        try:
            self.handle = self._handle(index, uuid, os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible)
            name = nvml.nvmlDeviceGetName(self.handle)
            self.name = name.decode() if isinstance(name, bytes) else str(name)
        except nvml.NVMLError as exc:
            raise Unavailable(f"NVML has no device for cuda:{index}: {exc}") from None

    def _handle(self, index: int, uuid: str | None, visible: str | None) -> Any:
        """The NVML handle of torch's cuda:index: by UUID when torch knows it, else by position."""
        if uuid is None:
            uuid = _torch_uuid(index)
        if uuid:
            return self.nvml.nvmlDeviceGetHandleByUUID(uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}")
        target = visible_device(index, visible)
        if isinstance(target, str):
            return self.nvml.nvmlDeviceGetHandleByUUID(target)
        return self.nvml.nvmlDeviceGetHandleByIndex(target)

    def read(self) -> tuple[float, float, float, float]:
        nv, h = self.nvml, self.handle
        util = nv.nvmlDeviceGetUtilizationRates(h).gpu
        mem = nv.nvmlDeviceGetMemoryInfo(h).used / 2**20
        power = nv.nvmlDeviceGetPowerUsage(h) / 1e3  # mW -> W
        clock = nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)
        return float(util), float(mem), float(power), float(clock)


def _torch_uuid(index: int) -> str | None:
    """torch's UUID of cuda:index (None where torch has no CUDA or does not report one)."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        return str(torch.cuda.get_device_properties(index).uuid) or None
    except Exception:  # noqa: BLE001 - older torch builds lack .uuid: fall back to the index
        return None


def open_reader(device_type: str, index: int | None, *, nvml: Any = None) -> tuple[GpuReader | None, str | None]:
    """(reader, None) for a CUDA device NVML can read, else (None, "unavailable: <reason>")."""
    if device_type != "cuda":
        return None, "unavailable: the run uses the CPU, not an NVIDIA GPU"
    try:
        return NvmlReader(index or 0, nvml=nvml), None
    except Unavailable as exc:
        return None, f"unavailable: {exc}"


def driver_version() -> str | None:
    """The NVIDIA driver's version, None where NVML cannot say."""
    try:
        import pynvml

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else str(version)
    except Exception:  # noqa: BLE001 - no NVML: the driver is left unknown, the run goes on
        return None
