"""Instrumentation: the recorder (calls, moves, games), the NVML sampler, runs on disk."""

from perfkit.instrument.nvml import GpuSampler, NvmlReader, open_reader
from perfkit.instrument.recorder import Recorder
from perfkit.instrument.run import Run, load_run

__all__ = ["GpuSampler", "NvmlReader", "Recorder", "Run", "load_run", "open_reader"]
