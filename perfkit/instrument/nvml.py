"""GPU utilisation, memory, power and SM clock sampled by a background thread through NVML.

Where there is no NVIDIA driver, library or GPU the sampler says so ("unavailable: <reason>")
and produces no samples: never zeros pretending to be measurements.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pandas as pd

# The reader is the device's (perfkit.devices.nvml); its names stay importable from here.
from perfkit.devices.nvml import GpuReader, NvmlReader, Unavailable, open_reader, visible_device

GPU_COLUMNS = ["t_s", "util_pct", "mem_used_mb", "power_w", "sm_clock_mhz"]
DEFAULT_INTERVAL_S = 0.1  # 10 Hz


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

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def table(self) -> pd.DataFrame:
        """The samples, one row each (float columns, empty when nothing was sampled)."""
        table: pd.DataFrame = pd.DataFrame(self.samples, columns=GPU_COLUMNS, dtype=float)
        return table


__all__ = [
    "DEFAULT_INTERVAL_S", "GPU_COLUMNS", "GpuReader", "GpuSampler", "NvmlReader", "Unavailable", "open_reader",
    "visible_device",
]
