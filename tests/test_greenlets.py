"""The greenlet scheduler: an engine's games as cooperative tasks on one thread.

- greenlets and threads play identical float64 games, for OpenSpiel's `MCTSBot` and the
  alpha-zero-general example, at 1, 8 and 64 games in flight and with 2 worker processes;
- every call carries exactly the games waiting: a counting toy engine sees calls of K rows
  while K games live (and of max_batch while more wait);
- in groups (`groups=2`: a group's call on a device thread while the other group searches) the
  same games, every call carrying exactly the waiting games of its group;
- an engine's exception fails its game only, reported by name; torch's grad mode does not
  leak from one game to another; misuse is one PerfkitError.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from perfkit.batching.greenlets import GreenletServer
from perfkit.model import build_game_model
from perfkit.search.engines import EngineOptions, make_engine, play_engine
from perfkit.types import PerfkitError

pytest.importorskip("pyspiel")

ROOT = Path(__file__).resolve().parent.parent
AZG = f"{ROOT / 'examples' / 'azg_mcts.py'}:engine"
ENGINES = {  # name -> make_engine recipe: few simulations, small games
    "openspiel-mcts": {"spec": "openspiel-mcts", "game": "connect_four", "simulations": 2, "seed": 0},
    "azg": {"spec": AZG, "game": "connect_four", "simulations": 3, "seed": 0},
}


def sequences(run) -> dict[int, list[int]]:
    return {g: list(m.sort_values("ply")["move"]) for g, m in run.moves.groupby("game")}


@pytest.fixture(scope="module", params=sorted(ENGINES))
def engine(request):
    recipe = ENGINES[request.param]
    made = make_engine(recipe["spec"], game=recipe["game"], simulations=recipe["simulations"], seed=0)
    return made, build_game_model(made.obs_shape, made.actions, preset="tiny", seed=0), recipe


def play(engine, scheduler: str, games: int, concurrency: int, **options):
    made, net, recipe = engine
    return play_engine(
        made, net, "crossgame", EngineOptions(games=games, concurrency=concurrency, scheduler=scheduler, **options),
        precision="float64", recipe=recipe,
    )


@pytest.mark.parametrize("games, concurrency, workers", [(4, 1, 0), (16, 8, 0), (64, 64, 0), (16, 8, 2)])
def test_greenlets_and_threads_play_identical_games(engine, games, concurrency, workers):
    runs = {s: play(engine, s, games, concurrency, workers=workers) for s in ("threads", "greenlet")}
    threads, greenlets = runs["threads"], runs["greenlet"]
    assert sequences(greenlets) == sequences(threads) and len(sequences(threads)) == games
    assert greenlets.summary["game_digest"] == threads.summary["game_digest"]
    assert list(greenlets.games.sort_values("game")["winner"]) == list(threads.games.sort_values("game")["winner"])
    assert greenlets.summary["boards_asked"] == threads.summary["boards_asked"]
    assert greenlets.manifest["strategy_settings"]["scheduler"] == "greenlet"
    assert threads.manifest["strategy_stats"]["scheduler"] == "threads"
    if not workers:  # in this process a call fires only when every live game waits
        stats = greenlets.manifest["strategy_stats"]
        assert stats["fired"]["max_wait"] == 0 and stats["calls"] <= threads.manifest["strategy_stats"]["calls"]


@pytest.mark.parametrize("games, concurrency", [(16, 8), (64, 64)])
def test_two_groups_play_the_same_games(engine, games, concurrency):
    one, two = (play(engine, "greenlet", games, concurrency, groups=g) for g in (1, 2))
    assert sequences(two) == sequences(one) and len(sequences(one)) == games
    assert two.summary["game_digest"] == one.summary["game_digest"]
    assert two.summary["boards_asked"] == one.summary["boards_asked"]
    stats = two.manifest["strategy_stats"]
    assert stats["groups"] == 2 and two.manifest["strategy_settings"]["groups"] == 2 and "groups" not in one.manifest["strategy_stats"]
    assert stats["games_fill"] == 1.0 and stats["live_per_call"] <= concurrency / 2


class ToyEngine:
    """Game i asks `lengths[i]` predicts (one per move, each a new observation), then ends;
    each call's rows and the games live at that moment are counted by the network."""

    obs_shape, actions = (1, 1, 2), 3

    def __init__(self, lengths: list[int], fail: tuple[int, int] | None = None, no_grad: set[int] = frozenset()) -> None:
        self.lengths, self.fail, self.no_grad = lengths, fail, no_grad
        self.live, self.finished, self.grad_seen = 0, [], []
        self.calls: list[tuple[int, int]] = []  # (rows, games live)

    def network(self, x: torch.Tensor):
        self.calls.append((len(x), self.live))
        return x.reshape(len(x), -1)[:, :1].repeat(1, 3), x[:, 0, 0, 1]

    def play_game(self, game_id, predict, tracer) -> int:
        self.live += 1
        try:
            for ply in range(self.lengths[game_id]):
                with tracer.move(player=1 + ply % 2) as move:
                    if self.fail == (game_id, ply):
                        raise ValueError(f"boom in game {game_id}")
                    with torch.no_grad() if game_id in self.no_grad else contextlib.nullcontext():
                        predict(np.array([[[game_id, ply]]], np.float64))
                        self.grad_seen.append((game_id, torch.is_grad_enabled()))  # as the game set it
                    move.action = 0
            self.finished.append(game_id)
            return 1
        finally:
            self.live -= 1


def play_toy(toy: ToyEngine, games: int, concurrency: int, **options):
    return play_engine(
        toy, toy.network, "crossgame",
        EngineOptions(games=games, concurrency=concurrency, cache=False, **{"scheduler": "greenlet", **options}),
        precision="float64",
    )


def test_every_call_carries_exactly_the_games_waiting():
    lengths = [3, 1, 4, 1, 5, 2]
    toy = ToyEngine(lengths)
    run = play_toy(toy, games=6, concurrency=6)
    # Call k carries one row of every game with more than k moves: all live games, all waiting.
    assert [rows for rows, _ in toy.calls] == [sum(n > k for n in lengths) for k in range(max(lengths))]
    assert all(rows == live for rows, live in toy.calls)
    assert list(run.calls["batch"]) == [rows for rows, _ in toy.calls]
    assert run.manifest["strategy_stats"]["fired"] == {"full": 1, "all_waiting": 4, "max_wait": 0}  # 6 rows: max batch
    # Fill: each call's rows ÷ the games live when it fired — exactly 1.0, the tail's small calls included.
    assert run.summary["games_fill"] == 1.0
    assert run.summary["live_per_call"] == pytest.approx(np.mean([rows for rows, _ in toy.calls]))
    # Each move is charged its own row (the marks are per greenlet, not per thread).
    assert list(run.moves.sort_values(["game", "ply"])["boards"]) == [1] * sum(lengths)
    assert run.moves["calls"].sum() == pytest.approx(len(toy.calls))


def test_fewer_in_flight_and_a_max_batch_cap_still_fill_every_call():
    toy = ToyEngine([2] * 8)
    run = play_toy(toy, games=8, concurrency=4)
    assert all(rows == live == 4 for rows, live in toy.calls) and len(toy.calls) == 4
    assert run.summary["games_fill"] == 1.0 and run.summary["live_per_call"] == 4.0
    toy = ToyEngine([2] * 5)
    run = play_toy(toy, games=5, concurrency=5, max_batch=2)
    # A call fires as soon as max_batch rows wait: 10 rows, five full calls, none part-empty.
    assert [rows for rows, _ in toy.calls] == [2, 2, 2, 2, 2]
    assert run.summary["games_fill"] == 1.0  # full to max_batch counts as full


def test_in_two_groups_every_call_carries_exactly_its_groups_waiting_games():
    lengths = [3, 1, 4, 1, 5, 2, 6, 2]
    toy = ToyEngine(lengths)
    run = play_toy(toy, games=8, concurrency=8, groups=2)
    # Tasks 0, 2, 4, 6 are group A and run first (games 0-3), tasks 1, 3, 5, 7 group B (games 4-7);
    # the groups' calls alternate, call k of a group carrying one row of each of its games with more than k moves.
    a = [sum(n > k for n in lengths[:4]) for k in range(max(lengths[:4]))]
    b = [sum(n > k for n in lengths[4:]) for k in range(max(lengths[4:]))]
    assert [rows for rows, _ in toy.calls] == [*(r for pair in zip(a, b, strict=False) for r in pair), *b[len(a):]]
    assert run.summary["games_fill"] == 1.0
    assert run.summary["live_per_call"] == pytest.approx(np.mean(a + b))
    assert list(run.moves.sort_values(["game", "ply"])["boards"]) == [1] * sum(lengths)
    assert run.manifest["strategy_stats"]["fired"] == {"full": 0, "all_waiting": len(a) + len(b), "max_wait": 0}


def test_groups_apply_to_greenlets_only():
    for options, message in [
        ({"groups": 2, "scheduler": "threads"}, "groups apply to an engine's games as greenlets"),
        ({"groups": 2, "game_timeout_s": 5.0}, "groups apply to an engine's games as greenlets"),
        ({"inflight": 2}, "inflight applies to perfkit's own search"),
        ({"groups": 2, "workers": 2}, "groups and inflight apply in-process only"),
    ]:
        with pytest.raises(PerfkitError, match=message):
            EngineOptions(**options)
    toy = ToyEngine([3] * 6, fail=(2, 1))
    with pytest.raises(PerfkitError, match=r"^1 of 6 games failed: game 2: ValueError: boom in game 2; 5 finished$"):
        play_toy(toy, games=6, concurrency=6, groups=2)  # a game's failure in a group fails that game only
    assert sorted(toy.finished) == [0, 1, 3, 4, 5]
    with pytest.raises(PerfkitError, match="groups must be a whole number"):
        GreenletServer(lambda planes, **_: (planes, planes[:, 0]), groups=0)


def test_an_engine_exception_fails_its_game_only_and_is_reported():
    toy = ToyEngine([3] * 6, fail=(2, 1))
    with pytest.raises(PerfkitError, match=r"^1 of 6 games failed: game 2: ValueError: boom in game 2; 5 finished$"):
        play_toy(toy, games=6, concurrency=6)
    assert sorted(toy.finished) == [0, 1, 3, 4, 5]
    assert [rows for rows, _ in toy.calls] == [6, 5, 5]  # game 2 left before its second predict


def test_grad_mode_stays_with_its_game():
    toy = ToyEngine([2] * 4, no_grad={1, 3})
    play_toy(toy, games=4, concurrency=4)
    assert all(enabled == (game not in {1, 3}) for game, enabled in toy.grad_seen) and len(toy.grad_seen) == 8
    assert torch.is_grad_enabled()


def test_predict_outside_the_run_is_one_error():
    server = GreenletServer(lambda planes, **_: (planes, planes[:, 0]))
    with pytest.raises(PerfkitError, match="call predict from the game itself"):
        server.predict(np.zeros(2))
    with pytest.raises(PerfkitError, match="unknown scheduler 'fibers'"):
        EngineOptions(scheduler="fibers")


def cli(argv, capsys):
    from perfkit.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_scheduler_reaches_the_run_and_is_refused_where_it_does_not_apply(tmp_path, capsys):
    engine_args = ["bench", "--engine", "openspiel-mcts", "--game", "connect_four", "--simulations", "2", "--games", "2",
                   "--preset", "tiny", "--no-progress", "--out", str(tmp_path / "runs")]
    code, _, err = cli([*engine_args, "--strategy", "crossgame", "--scheduler", "greenlet", "--json"], capsys)
    assert code == 0, err
    (run_dir,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["strategy_settings"]["scheduler"] == "greenlet"
    code, _, err = cli([*engine_args[:-1], str(tmp_path / "g2"), "--strategy", "crossgame", "--groups", "2", "--json"], capsys)
    assert code == 0, err
    (run_dir,) = (tmp_path / "g2").iterdir()
    assert json.loads((run_dir / "manifest.json").read_text())["strategy_settings"]["groups"] == 2
    for argv, message in [
        ([*engine_args, "--strategy", "crossgame", "--scheduler", "threads", "--groups", "2"], "groups apply to an engine's games as greenlets"),
        ([*engine_args, "--strategy", "naive", "--scheduler", "greenlet"], "--scheduler applies to crossgame"),
        (["bench", "--games", "1", "--scheduler", "greenlet", "--out", str(tmp_path / "none")], "--scheduler applies to an engine's games"),
    ]:
        code, _, err = cli(argv, capsys)
        assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "none").exists()
