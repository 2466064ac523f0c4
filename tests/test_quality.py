"""Opt-in approximate paths (perfkit.model.approximate) and their quality (perfkit.analysis.quality).

The agreement is computed against an independently evaluated float64 reference: the same network
scores 100%, a deliberately perturbed one scores lower. Small position counts keep this fast.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from perfkit.analysis.quality import agreement, best_moves, game_positions
from perfkit.game.hex import HexGame
from perfkit.measure.bench import BenchSettings, bench
from perfkit.model.approximate import Bucketed, bucket, check_precision_supported, compile_network
from perfkit.model.evaluator import Evaluator
from perfkit.model.net import build_model
from perfkit.types import PerfkitError, SearchConfig

GAME = HexGame(5)


def evaluator(model, precision="float64"):
    return Evaluator(copy.deepcopy(model), game=GAME, device="cpu", precision=precision)


def perturbed(model, scale: float, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    noisy = copy.deepcopy(model)
    with torch.no_grad():
        for p in noisy.parameters():
            p.add_(scale * p.detach().abs().mean() * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return noisy


@pytest.fixture(scope="module")
def model():
    return build_model("tiny", seed=0).eval()


@pytest.fixture(scope="module")
def positions(model):
    return game_positions(GAME, evaluator(model), search=SearchConfig(), seed=0, positions=120, concurrency=8)


def test_positions_are_the_positions_of_real_games(positions):
    assert len(positions) == 120 and positions.games >= 120 // 25
    assert positions.stones[0].sum() == 0 and positions.to_move[0] == 1  # a game's first position: the empty board
    stones_played = (positions.stones != 0).sum(axis=1)
    assert positions.legal.any(axis=1).all()  # no terminal position
    assert (positions.legal.sum(axis=1) == 25 - stones_played).all()
    assert ((stones_played % 2 == 0) == (positions.to_move == 1)).all()  # player 1 moves on an even ply


def test_the_same_network_agrees_fully_and_a_perturbed_one_scores_lower(model, positions):
    reference = evaluator(model)
    same = agreement(evaluator(model), reference, positions)
    assert same["move_agreement"] == 1.0 and same["value_mae"] < 1e-12 and same["positions"] == 120
    bf16 = agreement(evaluator(model, "bfloat16"), reference, positions)
    worse = agreement(evaluator(perturbed(model, 0.5)), reference, positions)
    assert worse["move_agreement"] < bf16["move_agreement"] <= 1.0
    assert worse["value_mae"] > bf16["value_mae"] > 0
    assert worse["moves_differing"] == round((1 - worse["move_agreement"]) * 120)


def test_best_moves_are_legal_and_break_ties_low():
    logits = np.array([[5.0, 5.0, 9.0], [1.0, 1.0, 0.0]])
    legal = np.array([[True, True, False], [True, True, True]])
    assert best_moves(logits, legal).tolist() == [0, 0]


def test_bucketed_compile_pads_to_powers_of_two_and_keeps_the_outputs(model):
    m = copy.deepcopy(model).float()
    wrapped = Bucketed(m, backend="eager")
    x = torch.randint(0, 2, (9, 3, 5, 5)).float()
    with torch.inference_mode():
        for b in (1, 2, 3, 5, 7, 8, 9):
            logits, values = wrapped(x[:b])
            want_l, want_v = m(x[:b])
            assert logits.shape == want_l.shape and torch.allclose(logits, want_l, atol=1e-5)
            assert torch.allclose(values, want_v, atol=1e-5)
    assert sorted(wrapped.compile_s) == [1, 2, 4, 8, 16]  # one compile per bucket, not per size
    assert [bucket(b) for b in (1, 2, 3, 27, 64, 65)] == [1, 2, 4, 32, 64, 128]


def test_compile_that_cannot_work_is_one_line(model):
    with pytest.raises(PerfkitError, match="torch.compile cannot work here") as err:
        compile_network(copy.deepcopy(model), (3, 5, 5), device=torch.device("cpu"), dtype=torch.float32,
                        backend="no-such-backend")
    assert "\n" not in str(err.value)


class NoBfloat16(torch.nn.Module):
    """A network whose kernels do not exist in bfloat16 on this device (as on some CPUs)."""

    def forward(self, planes):
        if planes.dtype == torch.bfloat16:
            raise RuntimeError('"slow_conv2d_cpu" not implemented for \'BFloat16\'\nmore lines')
        return planes.flatten(1), planes.sum((1, 2, 3))


def test_a_precision_the_device_lacks_is_one_line():
    check_precision_supported(torch.device("cpu"), torch.float32, NoBfloat16(), (3, 5, 5))
    with pytest.raises(PerfkitError, match="bfloat16 is not supported on cpu") as err:
        check_precision_supported(torch.device("cpu"), torch.bfloat16, NoBfloat16(), (3, 5, 5))
    assert "\n" not in str(err.value) and "--precision float32" in str(err.value)


def test_bench_stores_and_shows_the_quality_of_an_approximate_path(tmp_path):
    from perfkit.instrument.run import load_run
    from perfkit.report.console import render_bench
    from perfkit.report.html import render_html

    settings = BenchSettings(preset="tiny", games=1, device="cpu", threads=1, precision="bfloat16", compile=True,
                             compile_backend="eager", quality_positions=40, h2h_games=2)
    run = bench(["permove"], settings, out=tmp_path, progress=False)[0]
    q = run.manifest["quality"]
    assert q["path"] == "bfloat16+compile" and q["positions"] == 40 and 0 < q["move_agreement"] <= 1
    h = q["head_to_head"]
    assert h["games"] == 2 and h["wins"] + h["draws"] + h["losses"] == 2 and h["interval"] == "Wilson score"
    assert h["ci_low"] <= h["win_rate"] <= h["ci_high"] and (s := run.summary)["h2h_win_rate"] == h["win_rate"]
    assert (s["h2h_games"], s["h2h_ci_low"], s["h2h_ci_high"]) == (2, h["ci_low"], h["ci_high"]) and s["quality_s"] > 0
    assert q["value_mae"] > 0 and q["speedup"] > 0 and q["speed_batch"] == 32
    s = run.summary
    assert (s["approximate"], s["quality_positions"], s["move_agreement"]) == ("bfloat16+compile", 40, q["move_agreement"])
    assert s["compile_s"] > 0 and s["compile_in_run_s"] == 0.0  # every bucket compiled before the clock
    assert set(run.manifest["compile"]["buckets_s"]) >= {"1", "2", "4", "8", "16", "32"}
    saved = load_run(run.path)
    assert saved.manifest["quality"] == json.loads(json.dumps(q))
    assert "approximate path bfloat16+compile: move agreement" in render_bench([run])
    assert "s compiling before the run" in render_bench([run])
    assert "approximate path bfloat16+compile: move agreement" in render_html([saved])
    assert "head-to-head bfloat16+compile vs the float64 reference: win rate" in render_bench([run])
    assert "head-to-head bfloat16+compile vs the float64 reference: win rate" in render_html([saved])


def test_bench_cli_with_bfloat16_shows_the_head_to_head_and_stores_it(tmp_path, capsys):
    from perfkit.cli import main
    from perfkit.instrument.run import load_run

    out = tmp_path / "runs"
    code = main(["bench", "--strategy", "crossgame", "--preset", "tiny", "--games", "1", "--threads", "1",
                 "--device", "cpu", "--precision", "bfloat16", "--quality-positions", "20", "--h2h-games", "4",
                 "--no-progress", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    line = next(x for x in stdout.splitlines() if x.startswith("head-to-head bfloat16 vs the float64 reference"))
    assert "over 4 games in 2 colour-swapped pairs" in line and "95% CI" in line and "Wilson" in line
    (run_dir,) = [p for p in out.iterdir() if p.is_dir() and p.name != "curves"]
    h = load_run(run_dir).manifest["quality"]["head_to_head"]
    assert h["games"] == 4 and h["pairs"] == 2 and len(h["scores"]) == 4


def test_the_exact_path_has_no_quality_report(tmp_path):
    run = bench(["permove"], BenchSettings(preset="tiny", games=1, device="cpu", threads=1), out=None, progress=False)[0]
    assert run.manifest["quality"] is None and run.summary["approximate"] is None
    assert run.summary["compile_s"] is None and run.summary["move_agreement"] is None
    assert run.summary["h2h_win_rate"] is None and run.summary["h2h_games"] is None


@pytest.mark.parametrize("argv, mention", [
    (["--precision", "float8"], "unknown precision 'float8'"),
    (["--quality-positions", "0"], "quality-positions"),
    (["--quality-positions", "x"], "quality-positions"),
    (["--autocast", "float16", "--precision", "float64"], "drop --precision float64"),  # issue 12's fast paths
    (["--autocast", "float8"], "--autocast"),
    (["--compile", "--cuda-graphs"], "choose one"),
    (["--autocast", "bfloat16", "--device", "sim"], "autocast-bfloat16 on a simulated device"),
    (["--precision", "bfloat16", "--device", "sim"], "bfloat16 on a simulated device"),
    (["--h2h-games", "3"], "h2h-games"),
    (["--h2h-games", "0"], "h2h-games"),
    (["--h2h-games", "-2"], "h2h-games"),
    (["--h2h-games", "x"], "h2h-games"),
])
def test_bad_approximate_input_is_one_line_and_writes_nothing(tmp_path, capsys, argv, mention):
    from perfkit.cli import main

    out = tmp_path / "runs"
    try:
        code = main(["bench", "--preset", "tiny", "--games", "1", "--threads", "1", "--no-progress",
                     "--out", str(out), *argv])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code not in (0, None) and len(err.strip().splitlines()) == 1 and mention in err
    assert "Traceback" not in err and not out.exists()
