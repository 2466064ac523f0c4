"""An engine's network inside a run: its forward traced where exact, and measured against its curve.

- a Tracer runs a torch module's forward as one TorchScript graph (without the GIL) where the
  graph answers bit-identically, and says so in the run's manifest; a forward with Python side
  effects (a call counter), a callable, or `gil_free=False` runs eagerly, the reason recorded,
  and the user's counters count exactly what was called;
- `forward_vs_curve_fields` compares the run's calls near its mean batch with the curve at the
  same batches (medians), and says "unavailable: <why>" without a curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from perfkit.instrument.trace import Tracer
from perfkit.measure.engine_curve import forward_vs_curve_fields
from perfkit.model import build_game_model
from perfkit.types import Curve, CurvePoint


class Counting(torch.nn.Module):
    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net, self.counts = net, {"calls": 0}

    def forward(self, x: torch.Tensor):
        self.counts["calls"] += 1
        return self.net(x)


def planes(b: int) -> np.ndarray:
    return np.random.default_rng(b).random((b, 3, 6, 7))


def test_a_module_runs_as_a_traced_graph_bit_identical_to_it():
    net = build_game_model((3, 6, 7), 7, preset="tiny", seed=0).double().eval()
    tracer = Tracer(net, name="t", actions=7)
    assert tracer.prepare_forward((3, 6, 7)).startswith("traced: one TorchScript graph")
    for b in (1, 5, 33):
        logits, values = tracer.evaluate(planes(b))
        with torch.inference_mode():
            want = net(torch.from_numpy(planes(b)))
        assert np.array_equal(logits, want[0].numpy()) and np.array_equal(values, want[1].reshape(-1).numpy())
    run = tracer.run()
    assert run.manifest["network"]["forward"] == tracer.forward_path


def test_a_forward_with_side_effects_a_callable_and_an_opt_out_run_eagerly():
    net = build_game_model((3, 6, 7), 7, preset="tiny", seed=0).double().eval()
    counting = Counting(net)
    tracer = Tracer(counting, name="t", actions=7)
    for b in (2, 3):
        tracer.evaluate(planes(b))
    assert tracer.forward_path == "eager: its forward changes the module's own attributes (a trace would skip that)"
    assert counting.counts["calls"] == 2  # checked on a copy: the user's counter saw only the run's calls
    opted = Tracer(net, name="t", actions=7, gil_free=False)
    opted.evaluate(planes(2))
    assert opted.forward_path == "eager: gil_free=False"
    plain = Tracer(lambda x: (x.flatten(1)[:, :7], x.flatten(1).sum(1)), name="t", actions=7)
    plain.evaluate(planes(2))
    assert plain.forward_path == "eager: a callable, not a torch module"


def run_of(batches: list[int], forward_s: list[float]):
    calls = pd.DataFrame({"batch": batches, "forward_s": forward_s})
    return type("R", (), {"calls": calls, "manifest": {"network": {"forward": "traced: ..."}}})()


def test_the_forward_is_compared_with_the_curve_at_the_runs_mean_batch():
    # The curve: 1 ms + 0.1 ms a board. The run: calls of 10 at 2.2 ms (half the curve's speed),
    # one of 1 board that the OS preempted (50 ms): far from the mean batch, out of the median.
    curve = Curve(device="cpu", device_name="cpu", preset="Net", network={}, precision="float32", points=[
        CurvePoint(batch=b, call_s=(1e-3 + 1e-4 * b,), forward_s=(1e-3 + 1e-4 * b,)) for b in (1, 2, 4, 8, 16)])
    run = run_of([10] * 9 + [1], [2.2e-3] * 9 + [50e-3])
    fields = forward_vs_curve_fields(run, curve, "")
    assert fields["forward_boards_per_s"] == pytest.approx(10 / 2.2e-3)
    assert fields["curve_forward_boards_per_s"] == pytest.approx(10 / 2.0e-3)
    assert fields["forward_vs_curve"] == pytest.approx(2.0 / 2.2)
    assert fields["forward_vs_curve_all"] == pytest.approx((9 * 2.0e-3 + 1.1e-3) / (9 * 2.2e-3 + 50e-3))
    assert fields["forward_vs_curve_status"].startswith("measured against") and fields["forward_path"] == "traced: ..."
    none = forward_vs_curve_fields(run, None, "no curve for engine x; run perfkit curve --engine x")
    assert none["forward_vs_curve"] is None and none["forward_boards_per_s"] == pytest.approx(10 / 2.2e-3)
    assert none["forward_vs_curve_status"] == "unavailable: no curve for engine x; run perfkit curve --engine x"
    empty = forward_vs_curve_fields(run_of([], []), curve, "")
    assert empty["forward_vs_curve_status"] == "unavailable: the run made no timed network call"


def test_a_server_call_the_cache_answers_wholly_is_no_call():
    """Rows a batch server's call got wholly from the exact cache are 0 of a network call (a worker
    process charges its moves with these shares), so calls mean network calls there too."""
    from perfkit.batching.cache import ObservationCache
    from perfkit.batching.server import BatchServer

    sent = []

    def network(planes, *, owners=None, queue_wait_s=None, asked=None):
        sent.append(len(planes))
        return np.zeros((len(planes), 3)), planes.reshape(len(planes), -1)[:, 0].astype(float)

    cache = ObservationCache(network)
    obs = np.ones((2, 1, 1, 2), np.float32)  # two rows of one observation: one row sent
    with BatchServer(cache, obs_shape=(1, 1, 2)) as server, server.client():
        first = server.predict_rows(obs)[2]
        second = server.predict_rows(obs)[2]  # no lookup on arrival here: the call itself is answered by the cache
    assert sent == [1] and list(first) == [0.5, 0.5] and list(second) == [0.0, 0.0]


def test_a_hooked_module_is_not_traced_and_its_hooks_still_count():
    """Forward hooks are Python a trace would skip: such a module runs eagerly (and preparing the
    trace, a hook that records on the tracer itself does not deadlock or record twice)."""
    net = build_game_model((3, 6, 7), 7, preset="tiny", seed=0).double().eval()
    tracer = Tracer(net, name="t", actions=7)
    with tracer.hooked():
        logits, _ = tracer.evaluate(planes(2))
    assert tracer.forward_path == "eager: it has forward hooks (a trace would skip them)" and logits.shape == (2, 7)
