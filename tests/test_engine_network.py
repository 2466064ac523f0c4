"""An engine that brings its own network, and the Amdahl line of an engine run.

- an engine's `network` (a torch module of shapes perfkit's ResNet never has, or a plain
  batch callable) is the network bench calls: its calls are recorded, the manifest and the
  console name it, the games are the same across strategies;
- an engine network whose shapes do not fit the engine is one line before any game, in the
  API and on the command line, with nothing written;
- the CPU side's cap (Amdahl) is computed from the run's own figures and printed.
"""

from __future__ import annotations

import textwrap

import pytest

from perfkit.analysis.bottleneck import cpu_side_cap, cpu_side_line
from perfkit.analysis.metrics import ENGINE_METRICS
from perfkit.measure.engine import bench_engine
from perfkit.report.console import render_bench
from perfkit.search.engines.run import EngineOptions
from perfkit.types import PerfkitError

ENGINE_FILE = textwrap.dedent('''
    import numpy as np
    import torch

    class Net(torch.nn.Module):
        """Its own shapes: 2 planes of 3x3 in, 9 logits and a value out."""

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.body = torch.nn.Linear(18, 10)

        def forward(self, x):
            out = self.body(x.flatten(1))
            return out[:, :9], torch.tanh(out[:, 9])

    def plain(x):  # a batch callable, no module
        return x.flatten(1)[:, :9] * 2.0, x.flatten(1).sum(1) * 0.01

    class Engine:
        obs_shape, actions = (2, 3, 3), 9

        def __init__(self, network):
            self.network = network

        def play_game(self, game_id, predict, tracer):
            board, player = np.zeros(9, int), 1
            board[game_id % 9] = 2  # games differ
            for _ in range(int((board == 0).sum())):
                with tracer.move(player=player) as move:
                    logits, value = predict(np.stack([board == 1, board == 2]).reshape(2, 3, 3).astype(np.float32))
                    legal = np.flatnonzero(board == 0)
                    move.action = a = int(legal[np.argmax(np.asarray(logits)[legal])])
                board[a], player = player, 3 - player
            return 0

    def engine(game="tictac", simulations=1, seed=0):
        return Engine(Net())

    def function(game="tictac", simulations=1, seed=0):
        return Engine(plain)

    def wrong(game="tictac", simulations=1, seed=0):
        return Engine(torch.nn.Linear(5, 2))  # takes 5 features: not this engine's planes
''')


@pytest.fixture
def engine_file(tmp_path):
    path = tmp_path / "own_net.py"
    path.write_text(ENGINE_FILE)
    return path


def bench(spec: str, out, strategies=("naive", "crossgame")):
    return bench_engine(
        spec, list(strategies), game="tictac", simulations=1, options=EngineOptions(games=4, concurrency=4, cache=False, scheduler="greenlet"),
        preset="tiny", precision="float64", device="cpu", threads=1, out=out, progress=False,
    )


def test_an_engines_own_network_is_the_one_bench_calls(engine_file, tmp_path):
    naive, crossgame = bench(f"{engine_file}:engine", tmp_path / "runs")
    assert naive.summary["game_digest"] == crossgame.summary["game_digest"]
    for run in (naive, crossgame):
        net = run.manifest["network"]
        assert net["own"] and net["name"] == "Net" and net["parameters"] == 18 * 10 + 10
        assert net["obs_shape"] == [2, 3, 3] and net["actions"] == 9
        assert run.summary["boards"] == run.summary["moves"] == 4 * 8  # one predict per move, every one sent
    assert crossgame.calls["batch"].max() == 4
    text = render_bench([naive, crossgame])
    assert "the engine's own network Net (board 3x3, 190 parameters)" in text
    assert "crossgame: your search's CPU side caps this run at" in text
    (plain,) = bench(f"{engine_file}:function", tmp_path / "plain", strategies=("crossgame",))
    assert plain.manifest["network"]["name"] == "plain" and plain.summary["boards"] == 32


def test_an_engine_network_that_does_not_fit_is_one_line(engine_file, tmp_path, capsys):
    with pytest.raises(PerfkitError, match=r"its own network does not fit its observations \[2, 3, 3\] and 9 actions"):
        bench(f"{engine_file}:wrong", tmp_path / "runs")
    from perfkit.cli import main

    code = main(["bench", "--engine", f"{engine_file}:wrong", "--games", "2", "--no-progress", "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err
    assert code == 1 and "its own network does not fit" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() and not (tmp_path / "cli").exists()


def test_the_cpu_side_cap_is_amdahls_bound_of_the_run():
    summary = {"moves": 100, "wall_s": 10.0, "outside_network_share": 0.25, "moves_per_s": 10.0}
    fields = cpu_side_cap(summary)
    assert fields == {"cpu_side_cap_moves_per_s": 40.0, "network_wall_share": 0.75}
    assert cpu_side_line("crossgame", {**summary, **fields}) == (
        "crossgame: your search's CPU side caps this run at 40 moves/s here (it made 10); the network is 75% of wall"
    )
    assert cpu_side_cap({"moves": 0, "wall_s": 1.0, "outside_network_share": 0.5})["cpu_side_cap_moves_per_s"] is None


def test_an_engines_own_network_flows_through_curve_bench_and_report(engine_file, tmp_path, capsys):
    """Its curve (`perfkit curve --engine`), the efficiency of its runs against it, and the report."""
    from perfkit.analysis.curve import load_curve
    from perfkit.analysis.tables import whatif_bars
    from perfkit.cli import main

    spec, runs_dir = f"{engine_file}:engine", tmp_path / "runs"
    code = main(["curve", "--engine", spec, "--game", "tictac", "--device", "cpu", "--precision", "float64",
                 "--threads", "1", "--max-batch", "8", "--repeats", "1", "--warmup", "1", "--time-budget", "20",
                 "--no-progress", "--out", str(runs_dir / "curves")])
    out = capsys.readouterr().out
    assert code == 0 and "network Net" in out
    (curve_path,) = (runs_dir / "curves").glob("*.json")
    naive, crossgame = bench(spec, runs_dir)
    for run in (naive, crossgame):
        assert run.summary["efficiency"] is not None, run.summary["efficiency_status"]
        assert str(curve_path) in run.summary["efficiency_status"]
        # the in-run forward against the curve at the run's mean batch (a ratio measured, not asserted on)
        assert run.summary["forward_vs_curve"] > 0 and str(curve_path) in run.summary["forward_vs_curve_status"]
        assert run.summary["forward_path"].startswith("traced") and run.manifest["network"]["forward"].startswith("traced")
        assert {m.key for m in ENGINE_METRICS} <= set(run.summary)  # every documented engine key is there
    assert "crossgame: forward in the run" in render_bench([naive, crossgame])
    # another network's curve is not this one's limit: efficiency n/a, with the command that measures it
    (plain,) = bench(f"{engine_file}:function", runs_dir, strategies=("crossgame",))
    assert plain.summary["efficiency"] is None and "perfkit curve --engine" in plain.summary["efficiency_status"]
    assert plain.summary["forward_vs_curve"] is None and plain.summary["forward_boards_per_s"] > 0
    assert plain.summary["forward_vs_curve_status"].startswith("unavailable: no curve")
    assert "perfkit curve --engine" in plain.summary["forward_vs_curve_status"]
    assert plain.summary["forward_path"] == "eager: a callable, not a torch module"
    assert "forward in the run vs the curve: unavailable: no curve" in render_bench([plain])
    assert main(["report", str(runs_dir), "-o", str(tmp_path / "report.html"), "--curve", str(curve_path)]) == 0
    assert "Net" in (tmp_path / "report.html").read_text()
    bars = whatif_bars([naive, crossgame, plain], load_curve(curve_path))
    assert len(bars) == 2 and all("trace replayed" in b["label"] for b in bars)  # Net's runs, not plain's


def test_an_engine_network_that_does_not_fit_has_no_curve_either(engine_file, tmp_path, capsys):
    from perfkit.cli import main

    code = main(["curve", "--engine", f"{engine_file}:wrong", "--game", "tictac", "--device", "cpu", "--no-progress",
                 "--out", str(tmp_path / "curves")])
    err = capsys.readouterr().err
    assert code == 1 and "its own network does not fit" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "curves").exists()


def test_bench_and_profile_take_one_engine_run_settings_object():
    from perfkit.measure.engine import EngineRun

    what = EngineRun.of("openspiel-mcts", game="tic_tac_toe", simulations=3, options=None, threads=1)
    assert what == EngineRun("openspiel-mcts", game="tic_tac_toe", simulations=3, threads=1)
    assert EngineRun.of(what) is what and EngineRun.of(what, seed=2).seed == 2
    with pytest.raises(PerfkitError, match="^unknown engine run setting: gmae$"):
        bench_engine("openspiel-mcts", ["naive"], gmae="tic_tac_toe", out=None)
