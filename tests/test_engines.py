"""Engines perfkit did not write: traced (exact call accounting) and batched across games.

OpenSpiel's own `MCTSBot`, unmodified, plays the same float64 games one at a time and
through the batch server at any number of games in flight; every recorded game replays
legally in OpenSpiel with OpenSpiel's outcome, draws included.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import perfkit
from perfkit.batching.server import BatchServer
from perfkit.instrument.run import load_run
from perfkit.instrument.trace import Tracer
from perfkit.measure.engine import bench_engine
from perfkit.model import build_game_model
from perfkit.search.engines import EngineOptions, make_engine, play_engine

pyspiel = pytest.importorskip("pyspiel")


def engine_and_net(game: str, simulations: int):
    engine = make_engine("openspiel-mcts", game=game, simulations=simulations, seed=0)
    return engine, build_game_model(engine.obs_shape, engine.actions, preset="tiny", seed=0)


def sequences(run) -> dict[int, list[int]]:
    return {g: list(m.sort_values("ply")["move"]) for g, m in run.moves.groupby("game")}


@pytest.fixture(scope="module")
def c4():
    engine, net = engine_and_net("connect_four", simulations=4)
    naive = play_engine(engine, net, "naive", EngineOptions(games=64), precision="float64")
    return engine, net, naive


@pytest.mark.parametrize("concurrency", [1, 8, 64])
def test_batched_mctsbot_plays_the_games_of_one_at_a_time(c4, concurrency):
    engine, net, naive = c4
    run = play_engine(engine, net, "crossgame", EngineOptions(games=64, concurrency=concurrency), precision="float64")
    assert sequences(run) == sequences(naive)
    assert run.summary["game_digest"] == naive.summary["game_digest"]
    assert list(run.games["winner"]) == list(naive.games["winner"])
    # Same positions asked, whoever batches them: the boards sent are equal.
    assert run.summary["boards"] == naive.summary["boards"]
    assert run.calls["batch"].max() <= concurrency
    if concurrency > 1:
        assert run.summary["calls"] < naive.summary["calls"]


def test_naive_is_one_position_per_call_and_games_differ(c4):
    _, _, naive = c4
    assert set(naive.calls["batch"]) == {1} and set(naive.calls["asked"]) == {1}
    assert naive.summary["calls"] == naive.summary["boards"]
    # Each predict is one lookup of one row, a board of its move whether it hit or was sent; a hit is
    # not a call: the moves' calls add up to the calls table.
    assert naive.moves["boards"].sum() == naive.summary["boards_asked"]
    assert naive.moves["calls"].sum() == pytest.approx(naive.summary["calls"])
    assert len(set(map(tuple, sequences(naive).values()))) > 32, "a seeded random state per game"


def replay_winner(game_name: str, moves: list[int]) -> int:
    game = pyspiel.load_game(game_name)
    state = game.new_initial_state()
    for a in moves:
        assert a in state.legal_actions(), f"illegal move {a}"
        state.apply_action(a)
    assert state.is_terminal()
    r = state.returns()
    return 1 if r[0] > r[1] else 2 if r[1] > r[0] else 0


@pytest.mark.parametrize("game, simulations", [("connect_four", 6), ("hex(board_size=4)", 6), ("tic_tac_toe", 50)])
def test_recorded_games_replay_in_openspiel_with_its_outcome(game, simulations):
    engine, net = engine_and_net(game, simulations=simulations)
    runs = {
        s: play_engine(engine, net, s, EngineOptions(games=6, concurrency=3), precision="float64")
        for s in ("naive", "crossgame")
    }
    assert sequences(runs["naive"]) == sequences(runs["crossgame"])
    run = runs["crossgame"]
    winners = dict(zip(run.games["game"], run.games["winner"], strict=True))
    for g, moves in sequences(run).items():
        assert replay_winner(game, moves) == winners[g]
    if game == "tic_tac_toe":
        assert 0 in winners.values(), "tic-tac-toe at 50 simulations draws: a draw is winner 0"


class Counting(torch.nn.Module):
    """A network that counts its forward calls and rows, independently of perfkit."""

    def __init__(self, net):
        super().__init__()
        # A dict, not ints: a Tracer in another precision runs a copy of the module, which shares it.
        self.net, self.counts = net, {"calls": 0, "rows": 0}

    @property
    def calls(self) -> int:
        return self.counts["calls"]

    @property
    def rows(self) -> int:
        return self.counts["rows"]

    def forward(self, x):
        self.counts["calls"] += 1
        self.counts["rows"] += len(x)
        return self.net(x)


def test_trace_records_what_the_engine_did(tmp_path):
    engine, net = engine_and_net("connect_four", simulations=5)
    counting = Counting(net)
    predicts = []
    tracer = Tracer(counting, name="naive", actions=engine.actions)

    def predict(obs):
        predicts.append(1)
        return tracer.predict(obs)

    with tracer:
        for g in range(2):
            with tracer.game(g) as game:
                game.winner = engine.play_game(g, predict, tracer)
    run = tracer.run()
    assert run.summary["calls"] == len(predicts) == counting.calls == len(run.calls)
    assert run.summary["boards"] == counting.rows
    assert run.moves["calls"].sum() == pytest.approx(len(predicts))
    assert len(run.games) == 2 and (run.moves["move"] >= 0).all()
    path = run.save(tmp_path / "traced")
    back = load_run(path)
    assert back.summary["calls"] == run.summary["calls"]
    from perfkit.report.html import write_report

    write_report([back], tmp_path / "report.html")
    assert "naive" in (tmp_path / "report.html").read_text()
    assert perfkit.project(back, games=1000, curve=perfkit.seed_calibration())["what_if"]["days"] > 0


def test_wrap_records_every_call_of_the_module():
    net = build_game_model((3, 6, 7), 7, preset="tiny", seed=0)
    tracer = Tracer(net)
    traced = tracer.wrap()
    with tracer, tracer.game(0), tracer.move() as move:
        for b in (1, 3, 5):
            logits, values = traced(torch.zeros(b, 3, 6, 7))
            assert logits.shape == (b, 7)
        move.action = 3
    run = tracer.run()
    assert list(run.calls["batch"]) == [1, 3, 5]
    assert run.moves["calls"].tolist() == [3.0] and run.moves["boards"].tolist() == [9]


def test_a_network_that_does_not_fit_the_game_is_one_line():
    engine, _ = engine_and_net("connect_four", simulations=3)
    wrong = build_game_model((3, 6, 7), 5, preset="tiny", seed=0)  # 5 actions, the game has 7
    with pytest.raises(perfkit.PerfkitError, match=r"logits are shaped \[1, 5\].*\[1, 7\]"):
        play_engine(engine, wrong, "naive", EngineOptions(games=2))


def test_server_error_reaches_only_its_caller():
    def forward(planes, *, owners, queue_wait_s):
        if (planes[:, 0] < 0).any():
            raise ValueError("bad input")
        return planes.reshape(len(planes), -1)[:, :2] * 2, planes[:, 0]

    results, errors = {}, {}
    server = BatchServer(forward, max_batch=8, max_wait_s=0.05)
    barrier = threading.Barrier(4)

    def client(i):
        with server.client() as predict:
            barrier.wait()
            try:
                results[i] = predict(np.full(3, -1.0 if i == 2 else float(i)))
            except perfkit.PerfkitError as exc:  # the network's error, named, as a PerfkitError
                errors[i] = str(exc)

    with server:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert errors == {2: "the network call failed: ValueError: bad input"}
    assert sorted(results) == [0, 1, 3]
    for i in (0, 1, 3):
        logits, value = results[i]
        assert value == i and list(logits) == [2 * i, 2 * i]


def test_server_fires_when_all_live_clients_wait_not_before():
    calls = []

    def forward(planes, *, owners, queue_wait_s):
        calls.append(len(planes))
        return np.zeros((len(planes), 1)), np.zeros(len(planes))

    server = BatchServer(forward, max_batch=None, max_wait_s=3600.0)  # only "all waiting" can fire
    barrier = threading.Barrier(5)

    def client():
        with server.client() as predict:
            barrier.wait()
            predict(np.zeros(1))

    with server:
        threads = [threading.Thread(target=client) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert calls == [5] and server.fired["all_waiting"] == 1


def test_bench_engine_saves_runs_the_report_reads(tmp_path):
    runs = bench_engine(
        "openspiel-mcts", ["naive", "crossgame"], game="connect_four", simulations=4,
        options=EngineOptions(games=4, concurrency=4), preset="tiny", precision="float64", device="cpu",
        threads=1, out=tmp_path, progress=False,
    )
    assert runs[1].summary["speedup_vs_naive"] is not None
    assert runs[0].summary["game_digest"] == runs[1].summary["game_digest"]
    stored = [load_run(r.path) for r in runs]
    assert stored[1].manifest["settings"]["engine"] == "openspiel-mcts"
    assert stored[1].manifest["strategy_settings"]["concurrency"] == 4


def test_bad_game_for_an_engine_is_refused():
    for name, what in [("kuhn_poker", "imperfect information"), ("matrix_rps", "simultaneous"), ("nope", "unknown")]:
        with pytest.raises(perfkit.PerfkitError, match=what):
            make_engine("openspiel-mcts", game=name, simulations=5)
    with pytest.raises(perfkit.PerfkitError, match="simulations"):
        make_engine("openspiel-mcts", game="connect_four", simulations=0)
    with pytest.raises(perfkit.PerfkitError, match="unknown engine"):
        make_engine("alphabeta", game="connect_four", simulations=5)


def test_workers_play_the_same_games_and_account_every_call(c4):
    engine, net, naive = c4
    recipe = {"spec": "openspiel-mcts", "game": "connect_four", "simulations": 4, "seed": 0}
    counting = Counting(net)
    run = play_engine(
        engine, counting, "crossgame", EngineOptions(games=64, concurrency=64, workers=2),
        precision="float64", recipe=recipe,
    )
    assert sequences(run) == sequences(naive)
    assert run.summary["boards"] == naive.summary["boards"] == counting.rows
    assert run.summary["calls"] == counting.calls
    # Moves are charged with their lookups (the cache sits in this, the device, process).
    cache = run.manifest["cache"]
    assert run.moves["calls"].sum() == pytest.approx(cache["cache_calls"])  # a cache hit is not a call
    assert run.moves["boards"].sum() == cache["cache_asked"] == naive.summary["boards_asked"]
    assert cache["cache_calls"] == counting.calls
    assert run.manifest["strategy_stats"]["processes"]["games_by_worker"] == [32, 32]


def test_a_worker_that_dies_stops_the_run_in_one_line(c4, monkeypatch):
    from perfkit.search.engines.workers import CRASH_ENV

    engine, net, _ = c4
    monkeypatch.setenv(CRASH_ENV, "1:3")
    recipe = {"spec": "openspiel-mcts", "game": "connect_four", "simulations": 4, "seed": 0}
    with pytest.raises(perfkit.PerfkitError, match=r"worker 1 died \(exit code 3\)"):
        play_engine(engine, net, "crossgame", EngineOptions(games=8, concurrency=8, workers=2), recipe=recipe)


def cli(args, capsys):
    from perfkit.cli import main

    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_benches_openspiel_mcts(tmp_path, capsys):
    code, out, err = cli([
        "bench", "--engine", "openspiel-mcts", "--game", "connect_four", "--simulations", "4", "--games", "4",
        "--preset", "tiny", "--precision", "float64", "--strategy", "all", "--no-progress", "--out", str(tmp_path),
    ], capsys)
    assert code == 0, err
    assert "same games across strategies: yes" in out
    assert len(list(tmp_path.iterdir())) == 2


@pytest.mark.parametrize("args, message", [
    (["--engine", "nope"], "unknown engine 'nope'"),
    (["--engine", "openspiel-mcts", "--game", "kuhn_poker"], "imperfect information"),
    (["--engine", "openspiel-mcts", "--game", "matrix_rps"], "simultaneous moves"),
    (["--engine", "openspiel-mcts", "--strategy", "permove"], "permove needs perfkit's own search"),
    (["--engine", "openspiel-mcts", "--strategy", "naive", "--workers", "2"], "--workers applies to crossgame"),
    (["--engine", "missing.py:engine"], "engine file not found"),
    (["--engine", "missing.py"], "engine file not found: missing.py"),
    (["--engine", "openspiel-mcts", "--device", "sim"], "--device sim simulates perfkit's own network calls"),
    (["--engine", "openspiel-mcts", "--compile"], "--compile applies to perfkit's own search"),  # approximate paths
    (["--engine", "openspiel-mcts", "--autocast", "bfloat16"], "--autocast applies to perfkit's own search"),
    (["--engine", "openspiel-mcts", "--precision", "bfloat16"], "--precision bfloat16 applies to perfkit's own search"),
    (["--engine", "openspiel-mcts", "--cuda-graphs"], "--cuda-graphs applies to perfkit's own search"),
    (["--engine", "openspiel-mcts", "--no-fold"], "--no-fold applies to perfkit's own search"),  # engines never fold
    (["--engine", "openspiel-mcts", "--h2h-games", "4"], "--h2h-games applies to perfkit's own search"),
])
def test_cli_bad_engine_input_is_one_line_and_writes_nothing(tmp_path, capsys, args, message):
    code, out, err = cli(["bench", "--no-progress", "--games", "1", "--out", str(tmp_path / "runs"), *args], capsys)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_cli_simulations_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli(["bench", "--engine", "openspiel-mcts", "--simulations", "0"], capsys)
    assert exit_.value.code == 2
    assert "--simulations: must be a positive integer" in capsys.readouterr().err


def test_an_engine_file_alone_calls_its_engine_factory(tmp_path):
    """`--engine FILE.py` calls the file's `engine` (the example's convention); a file without one
    says how to name its factory."""
    example = Path(__file__).resolve().parent.parent / "examples" / "azg_mcts.py"
    engine = make_engine(str(example), game="connect_four", simulations=4)
    assert type(engine).__name__ == type(make_engine(f"{example}:engine", game="connect_four", simulations=4)).__name__ == "AzgEngine"
    other = tmp_path / "mine.py"
    other.write_text("def build(game, simulations, seed):\n    raise SystemExit\n")
    with pytest.raises(perfkit.PerfkitError, match=r"has no callable 'engine'; name its factory as .*mine.py:FACTORY$"):
        make_engine(str(other), game="connect_four", simulations=4)
