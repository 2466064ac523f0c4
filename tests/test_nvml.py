"""The NVML sampler with injected readers, and the honest "unavailable" path (never zeros)."""

from __future__ import annotations

import threading
import types

import pytest

from perfkit.instrument.nvml import (
    DEFAULT_INTERVAL_S,
    GPU_COLUMNS,
    GpuSampler,
    NvmlReader,
    Unavailable,
    open_reader,
    visible_device,
)
from perfkit.measure.bench import BenchSettings, Workload, run_strategy


class FakeNvml(types.SimpleNamespace):
    """The parts of pynvml the reader uses; records which handle it was asked for."""

    class NVMLError(Exception):
        pass

    NVML_CLOCK_SM = 1

    def __init__(self, *, init_error: str | None = None) -> None:
        super().__init__(asked=[])
        self.init_error = init_error

    def nvmlInit(self):
        if self.init_error:
            raise self.NVMLError(self.init_error)

    def nvmlDeviceGetHandleByUUID(self, uuid):
        self.asked.append(("uuid", uuid))
        return f"handle:{uuid}"

    def nvmlDeviceGetHandleByIndex(self, index):
        self.asked.append(("index", index))
        if index > 7:
            raise self.NVMLError("Invalid Argument")
        return f"handle:{index}"

    def nvmlDeviceGetName(self, handle):
        return b"Fake GPU"

    def nvmlDeviceGetUtilizationRates(self, handle):
        return types.SimpleNamespace(gpu=42, memory=10)

    def nvmlDeviceGetMemoryInfo(self, handle):
        return types.SimpleNamespace(used=3 * 2**30, total=80 * 2**30)

    def nvmlDeviceGetPowerUsage(self, handle):
        return 150_500  # mW

    def nvmlDeviceGetClockInfo(self, handle, clock):
        assert clock == self.NVML_CLOCK_SM
        return 1410


class FakeReader:
    """Readings 0, 1, 2, ... in every column; sets `enough` after `n` reads; fails after `fail_after`."""

    def __init__(self, n: int = 5, fail_after: int | None = None) -> None:
        self.reads, self.n, self.fail_after = 0, n, fail_after
        self.enough = threading.Event()

    def read(self):
        if self.fail_after is not None and self.reads >= self.fail_after:
            self.enough.set()
            raise RuntimeError("GPU is lost")
        value = float(self.reads)
        self.reads += 1
        if self.reads >= self.n:
            self.enough.set()
        return value, value, value, value


class TickClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 0.5
        return self.t


def test_reader_reads_and_converts_units():
    nvml = FakeNvml()
    reader = NvmlReader(0, nvml=nvml, uuid="GPU-1234")
    assert nvml.asked == [("uuid", "GPU-1234")]
    assert reader.name == "Fake GPU"
    assert reader.read() == (42.0, 3072.0, 150.5, 1410.0)  # %, MB, W, MHz


def test_reader_adds_the_gpu_prefix_to_a_bare_uuid():
    nvml = FakeNvml()
    NvmlReader(0, nvml=nvml, uuid="1234-abcd")
    assert nvml.asked == [("uuid", "GPU-1234-abcd")]


def test_reader_respects_cuda_visible_devices():
    """torch's cuda:1 with CUDA_VISIBLE_DEVICES=2,3 is NVML's device 3."""
    nvml = FakeNvml()
    NvmlReader(1, nvml=nvml, uuid="", visible="2,3")
    assert nvml.asked == [("index", 3)]
    nvml = FakeNvml()
    NvmlReader(0, nvml=nvml, uuid="", visible="GPU-aaaa,GPU-bbbb")
    assert nvml.asked == [("uuid", "GPU-aaaa")]


def test_visible_device_mapping():
    assert visible_device(0, None) == 0
    assert visible_device(2, "") == 2
    assert visible_device(1, "2, 3") == 3
    assert visible_device(0, "MIG-xyz") == "MIG-xyz"
    with pytest.raises(Unavailable, match="not among CUDA_VISIBLE_DEVICES"):
        visible_device(2, "0,1")


def test_no_driver_is_unavailable_with_the_reason():
    reader, status = open_reader("cuda", 0, nvml=FakeNvml(init_error="Driver Not Loaded"))
    assert reader is None
    assert status == "unavailable: NVML could not start: Driver Not Loaded (no NVIDIA driver?)"


def test_no_such_device_is_unavailable():
    nvml = FakeNvml()
    with pytest.raises(Unavailable, match=r"^NVML has no device for cuda:9: Invalid Argument$"):
        NvmlReader(9, nvml=nvml, uuid="", visible="")


def test_cpu_runs_say_there_is_no_gpu():
    assert open_reader("cpu", None) == (None, "unavailable: the run uses the CPU, not an NVIDIA GPU")


def test_the_real_library_on_this_machine_is_read_or_says_why():
    """With the real nvidia-ml-py: a reader on a GPU machine, else a one-line reason."""
    reader, status = open_reader("cuda", 0)
    if reader is not None:
        pytest.skip("NVML works here (a GPU machine)")
    assert status.startswith("unavailable: ") and "\n" not in status


def test_sampler_samples_an_injected_reader_on_a_thread():
    reader = FakeReader(n=5)
    sampler = GpuSampler(reader, interval_s=0.001, clock=TickClock())
    with sampler:
        assert reader.enough.wait(timeout=30)
    table = sampler.table()
    assert list(table.columns) == GPU_COLUMNS
    assert len(table) >= 5 and sampler.error is None
    n = len(table)
    assert table["t_s"].tolist() == [0.5 * (i + 1) for i in range(n)]  # stamped by the injected clock
    assert table["util_pct"].tolist() == [float(i) for i in range(n)]
    assert all(table.dtypes == "float64")


def test_sampler_default_rate_is_10_hz():
    assert DEFAULT_INTERVAL_S == 0.1
    assert GpuSampler(None).interval_s == 0.1
    with pytest.raises(ValueError):
        GpuSampler(None, interval_s=0)


def test_sampler_takes_a_sample_even_in_a_very_short_run():
    reader = FakeReader(n=1)
    with GpuSampler(reader, interval_s=60.0):
        pass
    assert reader.reads == 1


def test_sampler_keeps_samples_and_says_partial_when_the_reader_fails():
    reader = FakeReader(n=100, fail_after=3)
    sampler = GpuSampler(reader, interval_s=0.001)
    with sampler:
        assert reader.enough.wait(timeout=30)
    assert len(sampler.table()) == 3
    assert sampler.error == "partial: NVML read failed mid-run after 3 samples: GPU is lost"


def test_sampler_without_a_reader_samples_nothing():
    sampler = GpuSampler(None)
    with sampler:
        pass
    assert sampler._thread is None
    table = sampler.table()
    assert table.empty and list(table.columns) == GPU_COLUMNS


@pytest.fixture(scope="module")
def workload():
    return Workload.prepare(BenchSettings(preset="tiny", games=1, device="cpu"))


def test_a_cpu_run_summarises_gpu_use_as_null_with_the_reason(workload):
    run = run_strategy("permove", workload, progress=False)
    assert run.summary["gpu_util_mean"] is None  # not 0.0
    assert run.summary["gpu_status"] == "unavailable: the run uses the CPU, not an NVIDIA GPU"
    assert run.gpu.empty


class ConstantReader:
    def read(self):
        return 50.0, 1024.0, 200.0, 1500.0


def test_a_run_with_an_injected_reader_summarises_its_samples(workload):
    run = run_strategy("permove", workload, progress=False, gpu_reader=ConstantReader())
    assert run.summary["gpu_status"] == "measured"
    assert len(run.gpu) >= 1
    assert run.summary["gpu_util_mean"] == 50.0
    assert run.gpu["power_w"].eq(200.0).all()
