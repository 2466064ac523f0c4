"""The head-to-head of an approximate network against the float64 reference (perfkit.analysis.headtohead).

Two identical networks split every colour-swapped pair, so they score exactly 0.5; a network whose
value head is negated loses to the network it was made from. A randomly initialised network's value
means nothing (negating it can even help), so the weakened-network test plays a network that knows
Hex a little: its value compares the two sides' shortest connections. Tiny boards and few games
keep this fast.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from perfkit.analysis.headtohead import check_h2h_games, play_head_to_head, wilson_interval
from perfkit.game.hex import HexGame
from perfkit.model.evaluator import Evaluator
from perfkit.model.net import build_model
from perfkit.strategies import Engine, Seats, make_strategy
from perfkit.types import PerfkitError, SearchConfig

GAME = HexGame(5)
SEARCH = SearchConfig()
# Hex's six neighbours as (row, column) offsets (SPEC §1.1).
NEIGHBOURS = ((-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0))


def connection_distance(stones: np.ndarray, player: int, n: int) -> np.ndarray:
    """[B] empty cells `player` still needs to connect their two sides (inf: cut off)."""
    board = stones.reshape(-1, n, n)
    cost = np.where(board == player, 0.0, np.where(board == 0, 1.0, np.inf))
    if player == 2:  # player 2 connects columns: transpose, and the neighbour set maps onto itself
        cost = cost.transpose(0, 2, 1)
    dist = np.full_like(cost, np.inf)
    dist[:, 0] = cost[:, 0]
    for _ in range(n * n):
        padded = np.pad(dist, ((0, 0), (1, 1), (1, 1)), constant_values=np.inf)
        near = np.min([padded[:, 1 + dr : 1 + dr + n, 1 + dc : 1 + dc + n] for dr, dc in NEIGHBOURS], axis=0)
        new = np.minimum(dist, near + cost)
        if np.array_equal(new, dist):
            break
        dist = new
    return dist[:, -1].min(axis=1)


def knows_hex(stones: np.ndarray, to_move: np.ndarray, **_) -> tuple[np.ndarray, np.ndarray]:
    """A 'network' that knows Hex a little: value from the side to move's connection lead, policy
    preferring the centre."""
    n = GAME.n
    mine = np.where(to_move == 1, connection_distance(stones, 1, n), connection_distance(stones, 2, n))
    theirs = np.where(to_move == 1, connection_distance(stones, 2, n), connection_distance(stones, 1, n))
    lead = np.nan_to_num(theirs - mine, posinf=n, neginf=-n)
    r, c = np.divmod(np.arange(n * n), n)
    centre = -(np.abs(r - n // 2) + np.abs(c - n // 2)).astype(float)
    return np.tile(centre, (len(to_move), 1)), np.tanh(0.5 * lead)


def negated_value(evaluate):
    def weakened(stones, to_move, **kwargs):
        logits, values = evaluate(stones, to_move, **kwargs)
        return logits, -values

    return weakened


def evaluator(model, precision="float64"):
    return Evaluator(copy.deepcopy(model), game=GAME, device="cpu", precision=precision)


def h2h(approximate, reference, games=8):
    return play_head_to_head(GAME, approximate, reference, search=SEARCH, seed=0, games=games)


def test_the_reference_against_itself_splits_every_pair_and_scores_exactly_one_half():
    model = build_model("tiny", seed=0).eval()
    report = h2h(evaluator(model), evaluator(model))
    assert report["games"] == 8 and report["pairs"] == 4 and report["win_rate"] == 0.5
    assert (report["wins"], report["draws"], report["losses"]) == (4, 0, 4)
    pairs = np.array(report["scores"]).reshape(-1, 2)
    assert (pairs.sum(axis=1) == 1.0).all()  # each pair: the same game, sides swapped, one win each
    assert report["ci_low"] < 0.5 < report["ci_high"]
    assert json.loads(json.dumps(report)) == report  # stored in the manifest as it is


def test_a_network_whose_value_head_is_negated_scores_lower_than_the_reference_against_itself():
    same = h2h(knows_hex, knows_hex)
    weak = h2h(negated_value(knows_hex), knows_hex)
    assert same["win_rate"] == 0.5
    assert weak["win_rate"] < same["win_rate"] and weak["losses"] > weak["wins"]


def test_each_move_is_searched_by_the_network_of_the_player_to_move_at_its_root():
    seen: dict[str, set] = {"one": set(), "two": set()}

    def watching(name):
        def evaluate(stones, to_move, **kwargs):
            played = (stones != 0).sum(axis=1)  # a root has `ply` stones, its tree nodes 1 to 3 more
            seen[name].update(zip(to_move.tolist(), played.tolist(), strict=True))
            return knows_hex(stones, to_move)

        return evaluate

    engine = Engine(evaluate=Seats({1: watching("one"), 2: watching("two")}), game=GAME, config=SEARCH)
    records = list(make_strategy("crossgame", concurrency=3).play(range(3), engine))
    assert len(records) == 3
    # Player 1's searches start on an even number of stones, player 2's on an odd one; each network
    # also sees the other player to move, at odd depths of its own searches.
    assert all((mover == 1) == (stones % 2 == 0) for mover, stones in seen["one"])
    assert all((mover == 2) == (stones % 2 == 1) for mover, stones in seen["two"])
    assert {m for m, _ in seen["one"]} == {m for m, _ in seen["two"]} == {1, 2}


def test_seats_need_root_players():
    with pytest.raises(PerfkitError, match="root player"):
        Seats({1: knows_hex, 2: knows_hex})(np.zeros((1, 25), np.int8), np.ones(1, np.int8))
    engine = Engine(evaluate=Seats({1: knows_hex, 2: knows_hex}), game=GAME, config=SEARCH)
    with pytest.raises(PerfkitError, match="in-process only"):
        list(make_strategy("crossgame", workers=1).play(range(1), engine))


def test_wilson_interval_matches_known_values():
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and round(high, 4) == 0.2775
    low, high = wilson_interval(5, 10)
    assert round(low + high, 12) == 1.0 and round(low, 4) == 0.2366  # symmetric about one half
    assert wilson_interval(8.5, 10) > wilson_interval(8, 10)  # a draw counts as half a win
    assert wilson_interval(8, 10, confidence=0.99)[0] < 0.4902


@pytest.mark.parametrize("games", [3, 0, -2, 1, 2.0, True, "4"])
def test_head_to_head_games_must_be_an_even_whole_number(games):
    with pytest.raises(PerfkitError, match="even whole number >= 2"):
        check_h2h_games(games)


def test_a_bad_interval_input_is_one_line():
    for score, n in ((1, 0), (11, 10), (-1, 10)):
        with pytest.raises(PerfkitError):
            wilson_interval(score, n)
