"""The built-in Connect Four against OpenSpiel's: legal moves, terminal states, winners, input planes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perfkit.game import ConnectFour, get_game

pyspiel = pytest.importorskip("pyspiel")


def test_random_games_match_openspiel_move_by_move():
    """200 random games played side by side, all at once in the native batch, one state each in OpenSpiel."""
    rng = np.random.default_rng(7)
    game, spiel = ConnectFour(), pyspiel.load_game("connect_four")
    count = 200
    pos = game.start(count)
    states = [spiel.new_initial_state() for _ in range(count)]
    live = np.arange(count)
    draws = wins = 0
    while len(live):
        legal = pos.legal()
        for row, g in enumerate(live):
            s = states[g]
            assert not s.is_terminal()
            assert np.flatnonzero(legal[row]).tolist() == s.legal_actions()
            assert pos.to_move[row] == s.current_player() + 1
            planes = game.encode(torch.from_numpy(pos.stones[row : row + 1]), None, torch.float32)[0].numpy()
            np.testing.assert_array_equal(planes.reshape(-1), np.asarray(s.observation_tensor()))
        moves = np.array([rng.choice(np.flatnonzero(row)) for row in legal])
        pos = pos.play(moves)
        for row, g in enumerate(live):
            states[g].apply_action(int(moves[row]))
        over = pos.terminal
        for row in np.flatnonzero(over):
            s = states[live[row]]
            assert s.is_terminal()
            returns = s.returns()
            expected = 1 if returns[0] > 0 else 2 if returns[1] > 0 else 0
            assert pos.winner[row] == expected
            draws += expected == 0
            wins += expected != 0
            assert not pos.legal()[row].any()
        for row in np.flatnonzero(~over):
            assert not states[live[row]].is_terminal()
        live, pos = live[~over], pos.take(np.flatnonzero(~over))
    assert wins > 150  # random play wins far more often than it fills the board


def test_a_draw_is_terminal_with_winner_zero():
    # Columns filled in this order give a full board with no four in a row.
    order = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 2, 3, 2, 3, 2, 3, 3, 2, 3, 2, 3, 2,
             4, 5, 4, 5, 4, 5, 5, 4, 5, 4, 5, 4, 6, 6, 6, 6, 6, 6]
    state = pyspiel.load_game("connect_four").new_initial_state()
    pos = ConnectFour().start(1)
    for a in order:
        state.apply_action(a)
        pos = pos.play(np.array([a]))
    assert state.is_terminal() and state.returns() == [0.0, 0.0]
    assert pos.terminal[0] and pos.winner[0] == 0


def test_illegal_moves_are_refused():
    pos = ConnectFour().start(1)
    for _ in range(6):
        pos = pos.play(np.array([3]))
    with pytest.raises(ValueError, match="full column"):
        pos.play(np.array([3]))
    with pytest.raises(ValueError, match="columns are 0..6"):
        pos.play(np.array([7]))


def test_names_pick_the_native_game_and_the_adapter_stays_reachable():
    from perfkit.game.openspiel import OpenSpielGame

    native, adapter = get_game("connect_four"), get_game("openspiel:connect_four")
    assert isinstance(native, ConnectFour) and isinstance(adapter, OpenSpielGame)
    assert (native.name, native.obs_shape, native.actions) == (adapter.name, adapter.obs_shape, adapter.actions)
