"""One device-timing path (`Device.timed_call`, perfkit.devices): a traced network's call is
timed by its device's clock; on the CPU there is no transfer, so none is invented."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perfkit.devices import get_device
from perfkit.instrument.trace import Tracer


class Net(torch.nn.Module):
    """logits = the flattened planes' first 4 entries, value = their sum; counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        flat = x.reshape(len(x), -1) * self.scale
        return flat[:, :4], flat.sum(dim=1)


def test_the_cpu_times_the_forward_pass_and_reports_no_transfer():
    x = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    seen = []

    def forward(planes):
        seen.append(planes)
        return planes, planes.sum(1)

    logits, values, h2d, fwd, d2h = get_device("cpu").timed_call(x, forward)
    assert len(seen) == 1 and seen[0] is x, "the network runs once, on the tensor as given"
    assert torch.equal(logits, x) and torch.equal(values, x.sum(1))
    assert h2d is None and d2h is None and fwd >= 0


def test_a_traced_call_on_the_cpu_records_no_transfer():
    net = Net()
    tracer = Tracer(net, actions=4, precision="float64")
    logits, values = tracer.evaluate(np.ones((2, 1, 2, 2)))
    # float64 runs on a copy (the user's float32 module is left as it was): the copy made the call.
    assert tracer.module is not net and tracer.module.calls == 1 and net.calls == 0
    np.testing.assert_array_equal(logits, np.ones((2, 4)))
    np.testing.assert_array_equal(values, [4.0, 4.0])
    call = tracer.recorder.calls[-1]
    assert (call.h2d_s, call.d2h_s) == (None, None) and call.forward_s >= 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_traced_call_on_a_gpu_times_each_phase_with_cuda_events():
    net = Net()
    tracer = Tracer(net, actions=4, device="cuda", precision="float32")
    logits, values = tracer.evaluate(np.ones((2, 1, 2, 2), np.float32))
    assert net.calls == 1
    np.testing.assert_array_equal(logits, np.ones((2, 4)))
    np.testing.assert_array_equal(values, [4.0, 4.0])
    call = tracer.recorder.calls[-1]
    assert all(isinstance(t, float) and t >= 0 for t in (call.h2d_s, call.forward_s, call.d2h_s))
