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


class Unavailable(Exception):
    """NVML cannot be read; the message is the reason shown to the user."""


class GpuReader(Protocol):
    def read(self) -> tuple[float, float, float, float]:
        """(utilisation %, memory used MB, power W, SM clock MHz) now."""


class NvmlReader:
    """Reads one GPU through nvidia-ml-py: the one torch calls `cuda:index`."""

    def __init__(self, index: int = 0) -> None:
        try:
            import pynvml
        except ImportError as exc:
            raise Unavailable(f"nvidia-ml-py is not installed ({exc})") from None
        self.nvml = pynvml
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise Unavailable(f"NVML could not start: {exc} (no NVIDIA driver?)") from None
        try:
            self.handle = self._handle(index)
            self.name = pynvml.nvmlDeviceGetName(self.handle)
        except pynvml.NVMLError as exc:
            raise Unavailable(f"NVML has no device for cuda:{index}: {exc}") from None

    def _handle(self, index: int):
        """The NVML handle of torch's cuda:index, honouring CUDA_VISIBLE_DEVICES via the UUID."""
        try:
            import torch

            uuid = str(torch.cuda.get_device_properties(index).uuid)
            return self.nvml.nvmlDeviceGetHandleByUUID(uuid if uuid.startswith("GPU-") else f"GPU-{uuid}")
        except Exception:  # noqa: BLE001 - fall back to the visible-devices list
            visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
            ids = [v.strip() for v in visible.split(",") if v.strip()]
            physical = int(ids[index]) if index < len(ids) and ids[index].isdigit() else index
            return self.nvml.nvmlDeviceGetHandleByIndex(physical)

    def read(self) -> tuple[float, float, float, float]:
        nv, h = self.nvml, self.handle
        util = nv.nvmlDeviceGetUtilizationRates(h).gpu
        mem = nv.nvmlDeviceGetMemoryInfo(h).used / 2**20
        power = nv.nvmlDeviceGetPowerUsage(h) / 1e3
        clock = nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)
        return float(util), float(mem), float(power), float(clock)


def open_reader(device_type: str, index: int | None) -> tuple[GpuReader | None, str | None]:
    """(reader, None) for a CUDA device NVML can read, else (None, "unavailable: <reason>")."""
    if device_type != "cuda":
        return None, "unavailable: the run uses the CPU, not an NVIDIA GPU"
    try:
        return NvmlReader(index or 0), None
    except Unavailable as exc:
        return None, f"unavailable: {exc}"


class GpuSampler:
    """Samples a GpuReader every `interval_s` on a daemon thread between start() and stop().

    NVML's own utilisation counter covers the last 1/6 to 1 s, so 10 Hz over-samples it;
    that is on purpose, to catch short idle gaps at its resolution.
    """

    def __init__(
        self, reader: GpuReader | None, *, interval_s: float = 0.1, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.reader, self.interval_s, self.clock = reader, interval_s, clock
        self.samples: list[tuple[float, float, float, float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def sample_once(self) -> None:
        if self.reader is not None:
            self.samples.append((self.clock(), *self.reader.read()))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception as exc:  # noqa: BLE001 - a failing read ends sampling, not the run
                self.error = f"unavailable: NVML read failed mid-run: {exc}"
                return
            self._stop.wait(self.interval_s)

    def __enter__(self) -> GpuSampler:
        if self.reader is not None:
            self._thread = threading.Thread(target=self._loop, name="perfkit-nvml", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.samples, columns=GPU_COLUMNS)
