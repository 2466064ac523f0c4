"""GPU utilisation, memory, power and SM clock sampled by a background thread through NVML.

Where there is no NVIDIA driver, library or GPU the sampler says so ("unavailable: <reason>")
and produces no samples: never zeros pretending to be measurements.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

import pandas as pd

GPU_COLUMNS = ["t_s", "util_pct", "mem_used_mb", "power_w", "sm_clock_mhz"]
DEFAULT_INTERVAL_S = 0.1  # 10 Hz


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

    def __init__(self, index: int = 0, *, nvml=None, uuid: str | None = None, visible: str | None = None) -> None:
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

    def _handle(self, index: int, uuid: str | None, visible: str | None):
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


def open_reader(device_type: str, index: int | None, *, nvml=None) -> tuple[GpuReader | None, str | None]:
    """(reader, None) for a CUDA device NVML can read, else (None, "unavailable: <reason>")."""
    if device_type != "cuda":
        return None, "unavailable: the run uses the CPU, not an NVIDIA GPU"
    try:
        return NvmlReader(index or 0, nvml=nvml), None
    except Unavailable as exc:
        return None, f"unavailable: {exc}"


class GpuSampler:
    """Samples a GpuReader every `interval_s` on a daemon thread between start and stop.

    Samples are taken on a fixed grid (start + k·interval), so a slow read does not make
    the rate drift. NVML's own utilisation counter covers the last 1/6 to 1 s, so 10 Hz
    over-samples it; that is on purpose, to catch short idle gaps at its resolution.

    Args:
        reader: the GPU to read; None samples nothing (the run says why elsewhere).
        interval_s: seconds between samples (default 0.1: 10 Hz).
        clock: time stamps of the samples; injectable for tests.
    """

    def __init__(
        self,
        reader: GpuReader | None,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.reader, self.interval_s, self.clock = reader, interval_s, clock
        self.samples: list[tuple[float, float, float, float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def sample_once(self) -> None:
        if self.reader is not None:
            self.samples.append((self.clock(), *self.reader.read()))

    def _loop(self) -> None:
        start = time.monotonic()
        k = 0
        while True:  # sample first, so that even a very short run has one sample
            try:
                self.sample_once()
            except Exception as exc:  # noqa: BLE001 - a failing read ends sampling, not the run
                n = len(self.samples)
                self.error = (
                    f"partial: NVML read failed mid-run after {n} samples: {exc}" if n
                    else f"unavailable: NVML read failed: {exc}"
                )
                return
            k += 1
            # Next grid point still ahead (skips missed points instead of bursting to catch up).
            now = time.monotonic()
            k = max(k, int((now - start) / self.interval_s) + 1)
            if self._stop.wait(start + k * self.interval_s - now):
                return

    def start(self) -> GpuSampler:
        if self.reader is not None and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="perfkit-nvml", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> GpuSampler:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def table(self) -> pd.DataFrame:
        """The samples, one row each (float columns, empty when nothing was sampled)."""
        return pd.DataFrame(self.samples, columns=GPU_COLUMNS, dtype=float)
