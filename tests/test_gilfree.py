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
