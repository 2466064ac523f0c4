"""Any OpenSpiel game under perfkit's own search and strategies (the Game protocol).

float64 games are identical across naive, permove, crossgame and workers; every recorded
game replays legally in OpenSpiel with OpenSpiel's outcome, draws included; Go's passes
are actions like any other; a game or network that does not fit is one line.
"""

from __future__ import annotations

import dataclasses

import pytest

import perfkit
from perfkit.game import get_game
from perfkit.measure.bench import BenchSettings, Workload, run_strategy
from perfkit.strategies import STRATEGIES
from perfkit.types import SearchConfig

pyspiel = pytest.importorskip("pyspiel")

FAST = SearchConfig(value_topk=3, widths=(2, 2), temperature=1.0, temperature_plies=4)


def settings(game: str, **kw) -> BenchSettings:
    return BenchSettings(preset="tiny", game=game, games=3, device="cpu", precision="float64", search=FAST, threads=1, **kw)


def sequences(run) -> dict[int, list[int]]:
    return {g: list(m.sort_values("ply")["move"]) for g, m in run.moves.groupby("game")}


def replay(game_name: str, moves: list[int]) -> int:
    state = pyspiel.load_game(game_name).new_initial_state()
    for a in moves:
        assert a in state.legal_actions(), f"illegal move {a} in {game_name}"
        state.apply_action(a)
    assert state.is_terminal(), "the recorded game ended before OpenSpiel's"
    r = state.returns()
    return 1 if r[0] > r[1] else 2 if r[1] > r[0] else 0


@pytest.mark.parametrize("game", ["connect_four", "othello", "hex(board_size=5)"])
def test_float64_games_identical_across_strategies_and_workers(game):
    workload = Workload.prepare(settings(game, concurrency=3))
    runs = {name: run_strategy(name, workload, progress=False) for name in STRATEGIES}
    with_workers = Workload(
        settings=dataclasses.replace(workload.settings, workers=2), model=workload.model, device=workload.device,
        threads=workload.threads, game=workload.game,
    )
    runs["workers"] = run_strategy("crossgame", with_workers, progress=False)
    reference = sequences(runs["naive"])
    assert len(reference) == 3
    for name, run in runs.items():
        assert sequences(run) == reference, name
        assert run.summary["game_digest"] == runs["naive"].summary["game_digest"]
    for g, moves in reference.items():  # legal in OpenSpiel, with OpenSpiel's outcome
        winner = int(runs["naive"].games.set_index("game").loc[g, "winner"])
        assert replay(game, moves) == winner
    assert runs["naive"].manifest["game"]["game"] == game


def test_draws_are_outcomes_with_winner_zero():
    deep = SearchConfig(value_topk=5, widths=(4, 4, 4, 4), temperature=1.0, temperature_plies=2)
    run = run_strategy(
        "crossgame", Workload.prepare(dataclasses.replace(settings("tic_tac_toe"), games=8, search=deep)), progress=False
    )
    winners = dict(zip(run.games["game"], run.games["winner"], strict=True))
    for g, moves in sequences(run).items():
        assert replay("tic_tac_toe", moves) == winners[g]
    assert 0 in winners.values(), "a 4-ply minimax draws some tic-tac-toe games"


def test_go_passes_are_actions_and_the_game_ends_as_openspiel_says():
    game = "go(board_size=9)"
    config = SearchConfig(value_topk=2, widths=(1,), temperature=1.0, temperature_plies=2)
    workload = Workload.prepare(dataclasses.replace(settings(game), games=2, search=config))
    run = run_strategy("crossgame", workload, progress=False)
    pass_action = get_game(game).actions - 1
    winners = dict(zip(run.games["game"], run.games["winner"], strict=True))
    for g, moves in sequences(run).items():
        assert replay(game, moves) == winners[g]
        assert moves[-1] == moves[-2] == pass_action, "Go ends on two passes"


def test_network_shapes_follow_the_game():
    for name, shape, actions in [("connect_four", (3, 6, 7), 7), ("othello", (3, 8, 8), 65)]:
        g = get_game(name)
        assert (g.obs_shape, g.actions) == (shape, actions)
        evaluator = Workload.prepare(settings(name)).evaluator()
        logits, values = evaluator(*evaluator.blank(2))
        assert logits.shape == (2, actions) and values.shape == (2,)


def test_checkpoint_records_its_game_and_another_game_refuses_it(tmp_path):
    from perfkit.model import build_game_model, load_checkpoint, save_checkpoint

    g = get_game("connect_four")
    model = build_game_model(g.obs_shape, g.actions, preset="tiny", game=g.name)
    path = tmp_path / "c4.pt"
    save_checkpoint(model, path)
    back = load_checkpoint(path, perfkit.get_preset("tiny"), game=get_game("connect_four"))
    assert back.game == "connect_four"
    with pytest.raises(perfkit.PerfkitError, match="is a network for connect_four, not othello"):
        load_checkpoint(path, perfkit.get_preset("tiny"), game=get_game("othello"))
    with pytest.raises(perfkit.PerfkitError, match="is a network for connect_four, not hex"):
        load_checkpoint(path, perfkit.get_preset("tiny"))


def cli(args, capsys):
    from perfkit.cli import main

    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("game, message", [
    ("nope", "unknown OpenSpiel game 'nope'"),
    ("connect_fuor", "unknown OpenSpiel game 'connect_fuor'; did you mean 'connect_four'?"),
    ("kuhn_poker", "imperfect information"),
    ("matrix_rps", "simultaneous moves"),
    ("go(board_size=)", "unknown or malformed OpenSpiel game"),
])
def test_bad_game_is_one_line_and_writes_nothing(tmp_path, capsys, game, message):
    code, _, err = cli(["bench", "--game", game, "--games", "1", "--no-progress", "--out", str(tmp_path / "runs")], capsys)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_a_checkpoint_of_another_game_is_one_line(tmp_path, capsys):
    path = tmp_path / "hex.pt"
    perfkit.save_checkpoint(perfkit.build_model("tiny"), path)
    code, _, err = cli([
        "bench", "--game", "connect_four", "--preset", "tiny", "--checkpoint", str(path), "--games", "1",
        "--no-progress", "--out", str(tmp_path / "runs"),
    ], capsys)
    assert code == 1 and "is a network for hex, not connect_four" in err
    assert not (tmp_path / "runs").exists()


def test_help_lists_the_games(capsys):
    with pytest.raises(SystemExit):
        cli(["bench", "--help"], capsys)
    out = capsys.readouterr().out
    assert "connect_four" in out and "go(board_size=9)" in out
