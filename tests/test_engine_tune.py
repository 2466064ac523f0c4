"""`perfkit bench --tune --engine`: an engine's crossgame settings searched with its own network.

- the search is the built-in tune's coordinate ascent (one key at a time, the best kept, no
  setting measured twice), over games in flight and the scheduler;
- a trial streams games until its budget is spent, then stops the games in flight at their
  next call: none of them is recorded or counted as failed;
- the CLI prints the trials and the recommended flags, then benches them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from perfkit.cli import main
from perfkit.measure.engine import EngineRun
from perfkit.measure.tune import ENGINE_SPACE, Trial, tune_engine
from perfkit.search.engines import EngineOptions, play_engine

ROOT = Path(__file__).resolve().parent.parent


class Toy:
    """Games of `length` moves, one predict each."""

    obs_shape, actions = (1, 1, 2), 3

    def __init__(self, length: int) -> None:
        self.length = length

    def network(self, x):
        return x.reshape(len(x), -1)[:, :1].repeat(1, 3), x[:, 0, 0, 1]

    def play_game(self, game_id, predict, tracer) -> int:
        for ply in range(self.length):
            with tracer.move(player=1 + ply % 2) as move:
                predict(np.array([[[game_id, ply]]], np.float32))
                move.action = 0
        return 1


def test_a_deadline_stops_the_games_in_flight_unrecorded_and_not_failed():
    for scheduler in ("greenlet", "threads"):
        endless = Toy(10**9)  # no game would end: the deadline (already passed) stops them all at their first call
        run = play_engine(endless, endless.network, "crossgame",
                          EngineOptions(games=10**6, concurrency=4, cache=False, scheduler=scheduler),
                          deadline_s=time.perf_counter())
        assert len(run.games) == 0 and "failed_games" not in run.manifest and len(run.calls) == 0
        short = Toy(3)  # games that end before the deadline are the run's
        run = play_engine(short, short.network, "crossgame",
                          EngineOptions(games=8, concurrency=4, cache=False, scheduler=scheduler),
                          deadline_s=time.perf_counter() + 3600)
        assert len(run.games) == 8 and run.summary["moves"] == 24


def test_tune_engine_is_coordinate_ascent_over_games_in_flight_and_scheduler():
    measured = []

    def fake(setup, options, settings, budget):
        measured.append(dict(settings))
        rate = settings["concurrency"] * (2 if settings["scheduler"] == "greenlet" else 1)
        return Trial(settings=dict(settings), boards_per_s=float(min(rate, 64)), mean_batch=1.0)

    best, trials = tune_engine(None, EngineOptions(concurrency=16, scheduler="threads"), measure_fn=fake)
    assert best == {"concurrency": 64, "scheduler": "threads"}  # 64 boards/s first reached there, greenlet no better
    assert len(measured) == len({tuple(sorted(m.items())) for m in measured}) == len(trials)  # none twice
    assert set(ENGINE_SPACE) == {"concurrency", "scheduler"}


def test_cli_tunes_an_engine_with_its_own_network(tmp_path, capsys):
    spec = f"{ROOT / 'tests' / 'data' / 'slow_engine.py'}:engine"
    code = main(["bench", "--engine", spec, "--game", "tictac", "--simulations", "1", "--games", "2", "--tune",
                 "--tune-budget", "0.2", "--threads", "1", "--preset", "tiny", "--no-progress", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "recommended for engine" in out and "--concurrency" in out and "--scheduler" in out
    assert EngineRun.of(spec).spec == spec
