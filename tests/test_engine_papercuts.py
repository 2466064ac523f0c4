"""Papercuts of a user's engine run: the Tracer leaves the user's module as it was; two runs of one
strategy are told apart in the same-games line, the labels and the charts' colours."""

from __future__ import annotations

import numpy as np
import pandas as pd
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
