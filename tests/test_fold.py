"""The cheaper exact network (perfkit.model.fold): BatchNorm folded, the memory format measured.

A folded network is the same function: float64 outputs equal the unfolded ones to 1e-12, and
float64 games are identical with and without `--no-fold`.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from perfkit.measure.bench import BenchSettings, bench
from perfkit.model.fold import ChannelsLast, fold_batchnorm, prepare_network
from perfkit.model.net import build_game_model, build_model
from perfkit.types import PerfkitError


def planes(batch: int, shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (batch, *shape), generator=g).to(torch.float64)


@pytest.mark.parametrize("model", [build_model("small", seed=3), build_game_model((2, 6, 7), 7, preset="tiny", seed=1)],
                         ids=["hex-small", "six-by-seven"])
def test_folded_outputs_equal_the_unfolded_ones_in_float64(model):
    reference = model.to(torch.float64).eval()
    folded, count = fold_batchnorm(model, dtype=torch.float64)
    assert count == 2 * model.blocks + 3  # stem, two per block, both heads
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = planes(33, model.obs_shape)
    with torch.inference_mode():
        (l0, v0), (l1, v1) = reference(x), folded(x)
    assert torch.allclose(l0, l1, rtol=0, atol=1e-12) and torch.allclose(v0, v1, rtol=0, atol=1e-12)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched


@pytest.mark.parametrize("memory_format", ["contiguous", "channels_last", "auto"])
def test_prepared_network_is_the_same_function(memory_format):
    model = build_model("tiny", seed=2)
    reference = model.to(torch.float64).eval()
    net, info = prepare_network(model, (3, 5, 5), device=torch.device("cpu"), dtype=torch.float64,
                                memory_format=memory_format)
    assert info["folded_batchnorms"] == 7
    assert info["memory_format"] in ("contiguous", "channels_last")
    assert isinstance(net, ChannelsLast) == (info["memory_format"] == "channels_last")
    x = planes(17, (3, 5, 5), seed=5)
    with torch.inference_mode():
        (l0, v0), (l1, v1) = reference(x), net(x)
    assert torch.allclose(l0, l1, rtol=0, atol=1e-12) and torch.allclose(v0, v1, rtol=0, atol=1e-12)


def test_a_network_without_batchnorm_is_left_as_it_is():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    folded, count = fold_batchnorm(model)
    assert count == 0
    x = planes(2, (3, 5, 5)).float()
    assert torch.equal(model(x), folded(x))


def test_an_unknown_memory_format_is_a_perfkit_error():
    with pytest.raises(PerfkitError, match="memory format"):
        prepare_network(build_model("tiny"), (3, 5, 5), device=torch.device("cpu"), dtype=torch.float32,
                        memory_format="nhwc")


def test_float64_games_identical_folded_and_unfolded():
    runs = {
        fold: bench(["crossgame"], BenchSettings(preset="tiny", games=4, precision="float64", device="cpu", threads=1,
                                                 cache=False, fold=fold), out=None, progress=False)[0]
        for fold in (True, False)
    }
    assert runs[True].summary["game_digest"] == runs[False].summary["game_digest"]
    assert runs[True].manifest["network_prepared"]["folded_batchnorms"] == 7
    assert runs[False].manifest["network_prepared"] is None
    with pytest.raises(PerfkitError, match="fold"):
        BenchSettings(fold="yes")
