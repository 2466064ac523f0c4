"""The network's forward as one traced graph (perfkit.devices.gilfree): used only where exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from perfkit.devices.cpu import CpuRunner
from perfkit.devices.gilfree import without_gil
from perfkit.game.connect_four import ConnectFour
from perfkit.model import build_game_model


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_perfkit_network_is_traced_and_bit_identical(dtype: torch.dtype) -> None:
    model = build_game_model((3, 6, 7), 7, preset="tiny").to(dtype)
    graph = without_gil(model, torch.zeros(4, 3, 6, 7, dtype=dtype))
    assert graph.traced and graph.eager_reason is None
    x = torch.randn(33, 3, 6, 7, dtype=dtype)
    with torch.inference_mode():
        for a, b in zip(model(x), graph(x), strict=True):
            assert torch.equal(a, b)


class ParityBranch(nn.Module):
    """Control flow on the batch size: a trace bakes in one branch."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x.flatten(1)
        return (flat * 2, flat.sum(1)) if x.shape[0] % 2 else (flat, flat.sum(1))


class DictOut(nn.Module):
    def forward(self, x: torch.Tensor) -> object:
        return {"logits": x.flatten(1)}


def test_a_forward_that_a_trace_would_change_runs_eagerly() -> None:
    graph = without_gil(ParityBranch(), torch.zeros(4, 3, 2, 2))
    assert not graph.traced and "differ" in (graph.eager_reason or "")
    x = torch.ones(3, 3, 2, 2)
    assert torch.equal(graph(x)[0], ParityBranch()(x)[0])  # the module's own answer


def test_untraceable_and_opted_out_modules_run_eagerly() -> None:
    assert not without_gil(DictOut(), torch.zeros(2, 1)).traced
    opted_out = ParityBranch()
    opted_out.traceable = False  # type: ignore[assignment]
    assert without_gil(opted_out, torch.zeros(2, 1)).eager_reason == "it says it is not traceable"


def test_cpu_runner_forwards_through_the_trace() -> None:
    game = ConnectFour()
    runner = CpuRunner(
        build_game_model(game.obs_shape, game.actions, preset="tiny").double(), game, torch.float64
    )
    assert runner.network.traced
    stones = np.zeros((2, game.compact_width), game.compact_dtype)
    logits, values, *_ = runner.forward(stones, np.ones(2, np.int8))
    assert logits.shape == (2, game.actions) and values.shape == (2,)


def test_cpu_runner_takes_one_call_per_free_core_when_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Concurrent calls (crossgame --inflight 2): one per core the intra-op threads leave; an eager
    forward holds the GIL, so it takes one call at a time."""
    import perfkit.devices.cpu as cpu

    game = ConnectFour()
    runner = CpuRunner(build_game_model(game.obs_shape, game.actions, preset="tiny"), game, torch.float32)
    before = torch.get_num_threads()
    monkeypatch.setattr(cpu, "usable_cores", lambda: 4)
    try:
        torch.set_num_threads(1)
        assert runner.concurrent_calls == 4
        torch.set_num_threads(2)
        assert runner.concurrent_calls == 2
        eager = CpuRunner(ParityBranch(), game, torch.float32)
        assert not eager.network.traced and eager.concurrent_calls == 1
    finally:
        torch.set_num_threads(before)


def test_forward_share_counts_overlapping_forwards_once() -> None:
    import pandas as pd

    from perfkit.instrument.summary import forward_seconds

    serial = pd.DataFrame({"start_s": [0.0, 1.0], "end_s": [1.0, 2.0], "forward_s": [0.5, 0.75]})
    assert forward_seconds(serial) == 1.25  # one call at a time: the forwards summed, as measured
    both = pd.DataFrame({"start_s": [0.0, 0.5, 3.0], "end_s": [2.0, 2.5, 4.0], "forward_s": [1.5, 1.5, 0.5]})
    # forwards [0.5, 2.0] and [1.0, 2.5] overlap: 2.0 s of wall with a forward, then [3.5, 4.0]
    assert forward_seconds(both) == pytest.approx(2.5)
    assert forward_seconds(pd.DataFrame({"start_s": [], "end_s": [], "forward_s": []})) == 0.0


def test_forwards_at_once_says_how_many_forwards_overlapped() -> None:
    import pandas as pd

    from perfkit.instrument.summary import summarize

    def calls(start: list[float], end: list[float], forward: list[float]) -> pd.DataFrame:
        k = len(start)
        return pd.DataFrame({"start_s": start, "end_s": end, "forward_s": forward, "batch": [4] * k, "encode_s": [0.0] * k,
                             "h2d_s": [None] * k, "d2h_s": [None] * k})

    empty = pd.DataFrame({"game": [], "ply": []})
    serial = summarize(calls=calls([0.0, 1.0], [1.0, 2.0], [1.0, 1.0]), moves=empty, games=empty, wall_s=2.0, wall_start=0.0)
    assert serial["forwards_at_once"] == 1.0
    # two forwards over the same second, then one alone: 3 s of forwards in 2 s with a forward
    both = summarize(calls=calls([0.0, 0.0, 1.0], [1.0, 1.0, 2.0], [1.0, 1.0, 1.0]), moves=empty, games=empty, wall_s=2.0,
                     wall_start=0.0)
    assert both["forwards_at_once"] == pytest.approx(1.5) and both["forward_share"] == pytest.approx(1.0)
