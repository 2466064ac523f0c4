"""The roofline (perfkit.analysis.roofline): FLOPs counted from the model, the peak and mfu."""

from __future__ import annotations

import pytest
import torch

from perfkit.analysis.roofline import flops_per_board, matmul_peak, roofline_fields
from perfkit.model.fold import fold_batchnorm
from perfkit.model.net import build_model


def conv_flops(c_in: int, c_out: int, k: int, cells: int) -> int:
    return 2 * c_in * c_out * k * k * cells


def test_flops_per_board_is_counted_layer_by_layer():
    model = build_model("tiny")  # board 5, 2 blocks, 16 channels
    cells, c, blocks = 25, 16, 2
    expected = (
        conv_flops(3, c, 3, cells) + 2 * blocks * conv_flops(c, c, 3, cells)  # stem and trunk
        + conv_flops(c, 2, 1, cells) + 2 * (2 * cells) * cells  # policy head: 1x1 conv, linear
        + conv_flops(c, 1, 1, cells) + 2 * cells * c + 2 * c * 1  # value head: 1x1 conv, two linears
    )
    assert flops_per_board(model, model.obs_shape) == expected
    assert flops_per_board(fold_batchnorm(model)[0], model.obs_shape) == expected  # folding is free
    assert flops_per_board(model, model.obs_shape, batch=3) == expected


def test_the_small_preset_is_12_mflop_per_board():
    model = build_model("small")
    assert flops_per_board(model, model.obs_shape) == pytest.approx(12.1e6, rel=0.01)


def test_matmul_peak_and_mfu():
    peak = matmul_peak(torch.device("cpu"), torch.float32, size=64, repeats=3)
    assert peak["peak_flop_per_s"] == pytest.approx(2 * 64**3 / peak["matmul_s"])
    fields = roofline_fields(1e6, 2_000.0, 4e9)
    assert fields["achieved_flop_per_s"] == 2e9 and fields["mfu"] == 0.5
    assert roofline_fields(1e6, None, 4e9)["mfu"] is None
    assert roofline_fields(1e6, 10.0, None)["mfu"] is None


def test_curve_reports_the_roofline(tmp_path, capsys):
    import json

    from perfkit.cli import main

    out = tmp_path / "curve.json"
    code = main(["curve", "--preset", "tiny", "--device", "cpu", "--threads", "1", "--max-batch", "4",
                 "--repeats", "2", "--time-budget", "5", "-o", str(out), "--json", "--no-progress"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    roofline = data["roofline"]
    assert roofline["flops_per_board"] == flops_per_board(build_model("tiny"), (3, 5, 5))
    assert roofline["achieved_flop_per_s"] == pytest.approx(roofline["flops_per_board"] * data["peak_boards_per_s"])
    assert 0 < roofline["mfu"] == pytest.approx(roofline["achieved_flop_per_s"] / roofline["peak_flop_per_s"])
