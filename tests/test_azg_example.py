"""examples/azg_mcts.py, a user's alpha-zero-general-style engine, measured through perfkit.

The contract: batching across games changes no game (float64), and the calls table is
what the engine did, counted here on our own, outside perfkit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from perfkit.model.net import build_game_model
from perfkit.search.engines import EngineOptions, make_engine, play_engine
from perfkit.types import PerfkitError, get_preset

ROOT = Path(__file__).resolve().parent.parent
SPEC = f"{ROOT / 'examples' / 'azg_mcts.py'}:engine"
SIMULATIONS, GAMES = 8, 3
MOVE_COLUMNS = ["game", "ply", "player", "move", "calls", "boards"]


class CountingEngine:
    """The example's engine with every `predict` it asks for counted, whoever answers it."""

    def __init__(self, engine) -> None:
        self.engine, self.predicts, self._lock = engine, 0, threading.Lock()
        self.obs_shape, self.actions = engine.obs_shape, engine.actions

    def play_game(self, game_id, predict, tracer):
        def counted(obs):
            with self._lock:
                self.predicts += 1
            return predict(obs)

        return self.engine.play_game(game_id, counted, tracer)


@pytest.fixture(scope="module")
def runs():
    engine = make_engine(SPEC, game="connect_four", simulations=SIMULATIONS, seed=0)
    net = build_game_model(engine.obs_shape, engine.actions, preset=get_preset("tiny"), seed=0)
    out = {}
    for strategy in ("naive", "crossgame"):
        counting = CountingEngine(engine)
        # A long max wait: a call fires when every live game waits, whatever the machine's load.
        # No cache: every predict is a row sent (the cache's counts: tests/test_engine_cache.py).
        options = EngineOptions(games=GAMES, concurrency=GAMES, max_wait_s=60.0, cache=False)
        run = play_engine(counting, net, strategy, options, precision="float64")
        out[strategy] = (run, counting.predicts)
    return out


def test_batching_across_games_plays_the_same_games_in_float64(runs):
    naive, crossgame = runs["naive"][0], runs["crossgame"][0]
    assert naive.summary["game_digest"] == crossgame.summary["game_digest"]
    key = ["game", "ply"]
    pd.testing.assert_frame_equal(
        naive.moves[["game", "ply", "player", "move"]].sort_values(key).reset_index(drop=True),
        crossgame.moves[["game", "ply", "player", "move"]].sort_values(key).reset_index(drop=True),
    )
    assert sorted(naive.games.game) == list(range(GAMES))
    assert set(naive.moves.player) == {1, 2} and naive.moves.move.between(0, 6).all()
    assert (naive.games.set_index("game").winner == crossgame.games.set_index("game").winner).all()


def test_naive_calls_are_the_engines_predicts_one_board_each(runs):
    run, predicts = runs["naive"]
    assert predicts > 0
    assert len(run.calls) == run.summary["calls"] == predicts
    assert (run.calls.batch == 1).all()
    assert run.moves.calls.sum() == pytest.approx(predicts) and run.moves.boards.sum() == predicts
    # A move asks for at most one new leaf per simulation.
    assert (run.moves.boards <= SIMULATIONS).all()


def test_crossgame_calls_carry_every_predict_exactly_once(runs):
    run, predicts = runs["crossgame"]
    naive_predicts = runs["naive"][1]
    assert predicts == naive_predicts, "the same games ask for the same leaves"
    assert run.calls.batch.sum() == run.summary["boards"] == predicts
    assert len(run.calls) == run.summary["calls"] < predicts, "some calls carried several games' leaves"
    assert run.moves.boards.sum() == predicts
    assert run.moves.calls.sum() == pytest.approx(len(run.calls))


def test_the_example_refuses_other_games():
    with pytest.raises(PerfkitError, match="connect_four"):
        make_engine(SPEC, game="tic_tac_toe", simulations=SIMULATIONS)


def test_bench_cli_runs_the_example(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    argv = [
        sys.executable, "-m", "perfkit", "bench", "--engine", "examples/azg_mcts.py:engine", "--game", "connect_four",
        "--simulations", "8", "--games", "2", "--preset", "tiny", "--precision", "float64", "--strategy", "all",
        "--no-progress", "--out", str(tmp_path),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "same games across strategies: yes" in done.stdout
    assert len(list(tmp_path.iterdir())) == 2  # one run directory per strategy
