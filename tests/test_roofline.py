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
    peak = matmul_peak(torch.device("cpu"), torch.float32, sizes=(32, 64), repeats=3)
    assert peak["matmul_size"] in (32, 64)
    assert peak["peak_flop_per_s"] == pytest.approx(2 * peak["matmul_size"] ** 3 / peak["matmul_s"])
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


def test_curve_compile_measures_the_compiled_network_in_its_own_file(tmp_path, capsys, monkeypatch):
    """`curve --compile`: buckets compiled before the sweep (in the note), ...-compiled.json, the network's own FLOPs.
    The "eager" backend only traces (no C compiler needed), as in the bench --compile tests."""
    import importlib
    import json

    from perfkit.cli import main

    module = importlib.import_module("perfkit.measure.bench")
    real = module.compile_network
    monkeypatch.setattr(module, "compile_network", lambda *a, **k: real(*a, **{**k, "backend": "eager"}))
    code = main(["curve", "--preset", "tiny", "--device", "cpu", "--threads", "1", "--max-batch", "8", "--compile",
                 "--repeats", "2", "--time-budget", "5", "--out", str(tmp_path), "--json", "--no-progress"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["path"].endswith("cpu-tiny-float32-compiled.json") and (tmp_path / "cpu-tiny-float32-compiled.json").exists()
    assert "torch.compile'd network" in data["note"] and "compiling up to batch 8" in data["note"]
    assert [p["batch"] for p in data["points"]] == [1, 2, 4, 8]
    assert data["roofline"]["flops_per_board"] == flops_per_board(build_model("tiny"), (3, 5, 5))


def test_curve_file_stores_the_roofline(tmp_path):
    from perfkit.analysis.curve import Curve, CurvePoint, load_curve

    curve = Curve(
        device="cpu", device_name="cpu", preset="tiny", network={"board": 5, "blocks": 2, "channels": 16},
        precision="float32", points=[CurvePoint(1, (1e-4,))], roofline={"flops_per_board": 5e5, "peak_flop_per_s": 1e11},
    )
    assert load_curve(curve.save(tmp_path / "c.json")).roofline == curve.roofline


def test_bench_mfu_from_a_fake_curve_file(tmp_path, capsys):
    """mfu = boards/s x FLOPs per board / peak FLOP/s, all three from the run and the curve file."""
    from perfkit.analysis.curve import Curve, CurvePoint
    from perfkit.measure.bench import BenchSettings, bench
    from perfkit.report.console import render_bench

    settings = BenchSettings(preset="tiny", games=1, device="cpu", threads=1)
    runs = bench(["permove"], settings, out=tmp_path / "runs", progress=False)
    assert runs[0].summary["mfu"] is None and "no curve for tiny" in runs[0].summary["mfu_status"]

    curves = tmp_path / "runs" / "curves"
    points = [CurvePoint(1, (1e-4,)), CurvePoint(1000, (1e-3,))]
    old = Curve(device="cpu", device_name="cpu", preset="tiny", network={"board": 5, "blocks": 2, "channels": 16},
                precision="float32", points=points)
    old.save(curves / "cpu-tiny-float32.json")
    s = bench(["permove"], settings, out=tmp_path / "runs", progress=False)[0].summary
    assert s["mfu"] is None and "has no roofline" in s["mfu_status"]  # a curve from before the roofline

    fake = Curve(device="cpu", device_name="cpu", preset="tiny", network={"board": 5, "blocks": 2, "channels": 16},
                 precision="float32", points=points,
                 roofline={"flops_per_board": 3e6, "peak_flop_per_s": 2e12, "matmul_size": 2048})
    fake.save(curves / "cpu-tiny-float32.json")
    runs = bench(["permove"], settings, out=tmp_path / "runs", progress=False)
    s = runs[0].summary
    assert s["mfu"] == pytest.approx(s["boards_per_s"] * 3e6 / 2e12)
    assert "2,000.0 GFLOP/s" in s["mfu_status"]
    assert runs[0].manifest["summary"]["mfu"] == s["mfu"]  # saved with the run
    from perfkit.analysis.roofline import mfu_fields

    assert "above 1" in mfu_fields(1e6, fake)["mfu_status"] and "above 1" not in mfu_fields(1e3, fake)["mfu_status"]
    table = render_bench(runs, verbose=True)
    assert "mfu" in table and f"{s['mfu']:.1%}" in table


def test_perfkit_curve_saves_its_roofline_in_the_curve_file(tmp_path):
    from perfkit.analysis.curve import load_curve
    from perfkit.cli import main

    out = tmp_path / "curve.json"
    assert main(["curve", "--preset", "tiny", "--device", "cpu", "--threads", "1", "--max-batch", "2",
                 "--repeats", "2", "--time-budget", "3", "-o", str(out), "--no-progress"]) == 0
    roof = load_curve(out).roofline
    assert roof["flops_per_board"] == flops_per_board(build_model("tiny"), (3, 5, 5)) and roof["peak_flop_per_s"] > 0
