"""Papercuts of a user's engine run: the Tracer leaves the user's module as it was; two runs of one
strategy are told apart in the same-games line, the labels and the charts' colours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from perfkit.analysis.tables import same_games, unique_labels
from perfkit.instrument.run import Run
from perfkit.instrument.trace import Tracer
from perfkit.report.charts import run_color


class TwoHeads(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Linear(12, 5)

    def forward(self, x):
        out = self.body(x.flatten(1))
        return out[:, :4], out[:, 4]


def test_tracer_precision_does_not_convert_the_users_module():
    net = TwoHeads()  # float32, training mode
    tracer = Tracer(net, actions=4, precision="float64")
    logits, values = tracer.evaluate(np.ones((3, 3, 2, 2), np.float32))
    assert logits.shape == (3, 4) and values.shape == (3,)
    assert next(net.parameters()).dtype == torch.float32 and net.training  # the user's module, as it was
    assert next(tracer.module.parameters()).dtype == torch.float64 and not tracer.module.training
    net(torch.zeros(1, 3, 2, 2))  # the user's own predict still works in float32
    with tracer.hooked():  # hooks go on the user's module, whose calls the engine makes
        net(torch.zeros(2, 3, 2, 2))
    assert tracer.recorder.calls[-1].batch == 2
    ready = TwoHeads().eval()
    assert Tracer(ready).module is ready  # nothing to change: no copy


def _run(scheduler: str, digest: str = "d1") -> Run:
    manifest = {"strategy": "crossgame", "strategy_settings": {"concurrency": 8, "scheduler": scheduler, "workers": 0},
                "settings": {"precision": "float64", "preset": "user", "games": 8, "engine": "x.py:engine"},
                "network": {}, "environment": {}, "summary": {"game_digest": digest, "games": 8}}
    return Run(manifest=manifest, calls=pd.DataFrame(), moves=pd.DataFrame(), games=pd.DataFrame(),
               gpu=pd.DataFrame())


def test_two_runs_of_one_strategy_are_told_apart():
    greenlet, threads = _run("greenlet"), _run("threads")
    assert unique_labels([greenlet, threads]) == ["crossgame G=8 greenlet", "crossgame G=8 threads"]
    assert unique_labels([_run("threads"), _run("threads")]) == ["crossgame G=8", "crossgame G=8 #2"]
    (verdict,) = same_games([greenlet, threads])
    assert verdict.labels == ("crossgame G=8 greenlet", "crossgame G=8 threads") and verdict.verdict == "same"
    assert run_color(greenlet) != run_color(threads)


ASKS_TWICE = '''
import numpy as np
import pytest


class Engine:
    """Asks every position twice: the second answer comes from the exact cache, not from a call."""

    obs_shape, actions = (1, 2, 2), 4

    def play_game(self, game_id, predict, tracer):
        for ply in range(3):
            with tracer.move(player=ply % 2 + 1) as move:
                obs = np.full((1, 2, 2), game_id * 10 + ply, np.float32)
                predict(obs)
                predict(obs)
                move.action = ply
        return 0


def engine(game="x", simulations=1, seed=0):
    return Engine()
'''


@pytest.mark.parametrize(("strategy", "scheduler"), [("naive", "threads"), ("crossgame", "greenlet"),
                                                     ("crossgame", "threads")])
def test_a_cache_hit_is_not_a_call_the_moves_calls_add_up(tmp_path, strategy, scheduler):
    from perfkit.measure.engine import bench_engine
    from perfkit.report.console import render_bench
    from perfkit.search.engines.run import EngineOptions

    path = tmp_path / "asks_twice.py"
    path.write_text(ASKS_TWICE)
    (run,) = bench_engine(
        f"{path}:engine", [strategy], game="x", options=EngineOptions(games=4, concurrency=4, scheduler=scheduler),
        preset="tiny", precision="float64", device="cpu", threads=1, out=None, progress=False,
    )
    assert run.summary["boards_asked"] == 2 * run.summary["boards"] == 2 * 12
    assert run.moves["calls"].sum() == pytest.approx(len(run.calls))
    assert "a cache hit is not a call" in render_bench([run])


def test_a_user_runs_report_leads_with_its_own_figures():
    from perfkit.report.html import user_first

    sections = [(name, name, "", "") for name in ("projection", "throughput", "calls", "batches", "time", "latency")]
    traced = _run("threads")
    traced.manifest["traced"] = True
    assert [s[0] for s in user_first([traced], sections)] == ["batches", "time", "latency", "projection", "throughput"]
    ours = _run("threads")  # perfkit's own search: the seed's comparison stays first
    assert user_first([ours], sections) == sections
