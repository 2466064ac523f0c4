"""Hex rules (SPEC §1.1) on hand-made positions, random games and, when present, OpenSpiel."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from perfkit.game.hex import (
    PLAYER1,
    PLAYER2,
    Positions,
    from_moves,
    geometry,
    play,
    winner_by_flood_fill,
)
from perfkit.types import PerfkitError


def cell(n: int, r: int, c: int) -> int:
    return r * n + c


def place(n: int, p1: list[tuple[int, int]], p2: list[tuple[int, int]]) -> Positions:
    """The position after alternating p1[0], p2[0], p1[1], ... (p1 may hold one stone more)."""
    assert len(p2) <= len(p1) <= len(p2) + 1
    moves = []
    for i, rc in enumerate(p1):
        moves.append(cell(n, *rc))
        if i < len(p2):
            moves.append(cell(n, *p2[i]))
    return from_moves(n, moves)


def crossings(stones: np.ndarray, n: int) -> set[int]:
    """The players with a crossing in their own direction (this test's own breadth-first search)."""
    board = np.asarray(stones).reshape(n, n)
    steps = ((-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0))
    found = set()
    for player in (PLAYER1, PLAYER2):
        start = [(0, c) for c in range(n)] if player == PLAYER1 else [(r, 0) for r in range(n)]
        frontier = [rc for rc in start if board[rc] == player]
        seen = set(frontier)
        while frontier:
            r, c = frontier.pop()
            if (r if player == PLAYER1 else c) == n - 1:
                found.add(player)
                break
            for dr, dc in steps:
                nb = (r + dr, c + dc)
                if 0 <= nb[0] < n and 0 <= nb[1] < n and board[nb] == player and nb not in seen:
                    seen.add(nb)
                    frontier.append(nb)
    return found


def assert_consistent(pos: Positions) -> None:
    """Every row's incremental winner equals the flood-fill oracle's and this file's own search."""
    for i in range(len(pos)):
        w = int(pos.winner[i])
        assert w == winner_by_flood_fill(pos.stones[i], pos.n), i
        assert crossings(pos.stones[i], pos.n) == ({w} if w else set()), i


# --- Board size and geometry ---------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 20, 25])
def test_board_size_out_of_range_is_a_perfkit_error(n):
    """Boards outside 3..19 are refused with a PerfkitError (a user-fixable error)."""
    with pytest.raises(PerfkitError):
        geometry(n)
    with pytest.raises(PerfkitError):
        Positions.empty(n, 1)


@pytest.mark.parametrize("n", [3, 19])
def test_board_size_bounds_are_accepted(n):
    """N = 3 and N = 19 are the smallest and largest legal boards."""
    assert geometry(n).cells == n * n
    assert len(Positions.empty(n, 2)) == 2


@pytest.mark.parametrize("n", [3, 5, 11])
def test_neighbours_are_the_six_of_the_spec(n):
    """Each cell's neighbours are exactly (r-1,c) (r-1,c+1) (r,c-1) (r,c+1) (r+1,c-1) (r+1,c) on the board."""
    geo = geometry(n)
    spec = ((-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0))
    for r in range(n):
        for c in range(n):
            want = {cell(n, r + dr, c + dc) for dr, dc in spec if 0 <= r + dr < n and 0 <= c + dc < n}
            row = geo.neighbours[cell(n, r, c)]
            got = {int(x) for x in row if x >= 0}
            assert got == want, (r, c)
            assert len(got) == int((row >= 0).sum())  # no duplicates
    # Interior cells have 6 neighbours, the acute corners 2, the obtuse corners 3.
    counts = (geo.neighbours >= 0).sum(axis=1).reshape(n, n)
    assert counts[0, 0] == counts[n - 1, n - 1] == 2
    assert counts[0, n - 1] == counts[n - 1, 0] == 3
    assert counts[1, 1] == 6


def test_neighbour_relation_is_symmetric():
    """a is b's neighbour exactly when b is a's (the hex grid is undirected)."""
    geo = geometry(7)
    pairs = {(a, int(b)) for a in range(geo.cells) for b in geo.neighbours[a] if b >= 0}
    assert all((b, a) in pairs for a, b in pairs)


# --- Wins ----------------------------------------------------------------------------------


def test_empty_board_player1_moves_first():
    """A fresh board is empty, unfinished, with player 1 to move; moves alternate."""
    pos = Positions.empty(5, 3)
    assert (pos.to_move == PLAYER1).all() and (pos.winner == 0).all() and (pos.stones == 0).all()
    after = play(pos, np.array([0, 1, 2]))
    assert (after.to_move == PLAYER2).all()
    assert list(after.stones[np.arange(3), [0, 1, 2]]) == [PLAYER1] * 3
    assert (play(after, np.array([5, 6, 7])).to_move == PLAYER1).all()


def test_player1_wins_by_joining_row_0_to_row_n_minus_1():
    """A straight column of player-1 stones wins for player 1, on the stone that completes it."""
    n = 5
    p1 = [(r, 2) for r in range(n)]
    p2 = [(r, 0) for r in range(n - 1)]
    before = place(n, p1[:-1], p2)
    assert before.winner[0] == 0 and before.to_move[0] == PLAYER1
    after = play(before, np.array([cell(n, *p1[-1])]))
    assert after.winner[0] == PLAYER1
    assert_consistent(after)


def test_player2_wins_by_joining_column_0_to_column_n_minus_1():
    """A straight row of player-2 stones wins for player 2."""
    n = 5
    p1 = [(0, c) for c in range(n)]  # player 1 fills row 0 only: no crossing for player 1
    p2 = [(2, c) for c in range(n)]
    pos = place(n, p1, p2[:-1])
    assert pos.winner[0] == 0 and pos.to_move[0] == PLAYER2
    pos = play(pos, np.array([cell(n, *p2[-1])]))
    assert pos.winner[0] == PLAYER2
    assert_consistent(pos)


def test_edge_stones_do_not_cross_for_the_wrong_player():
    """A full row of player 1 or a full column of player 2 (the other player's direction) wins nothing."""
    n = 5
    # Player 1 fills row 4: it touches columns 0 and N-1, which is player 2's crossing.
    pos = place(n, [(4, c) for c in range(n)], [(r, 4) for r in range(n - 1)])
    assert pos.winner[0] == 0
    assert_consistent(pos)
    # Player 2 fills column 0: it touches rows 0 and N-1, which is player 1's crossing.
    pos = place(n, [(0, 2), (0, 3), (0, 4), (1, 3), (1, 4)], [(r, 0) for r in range(n)])
    assert pos.winner[0] == 0
    assert_consistent(pos)
    # Player 1 along column N-1 from row 0 to N-1 is a crossing (player 1's own direction).
    pos = place(n, [(r, n - 1) for r in range(n)], [(r, 0) for r in range(n - 1)])
    assert pos.winner[0] == PLAYER1
    assert_consistent(pos)


def test_diagonal_up_right_connects():
    """Stones joined only through the (r-1, c+1) / (r+1, c-1) direction form one chain."""
    n = 4
    # Anti-diagonal (0,3) (1,2) (2,1) (3,0): each stone's neighbour is (r+1, c-1).
    chain = [(0, 3), (1, 2), (2, 1), (3, 0)]
    p2 = [(0, 0), (0, 1), (3, 3)]
    pos = place(n, chain, p2)
    assert pos.winner[0] == PLAYER1
    assert_consistent(pos)
    # The same shape transposed wins for player 2 (column 0 to column N-1).
    pos = place(n, [(0, 0), (1, 0), (3, 3), (3, 2)], chain)
    assert pos.winner[0] == PLAYER2
    assert_consistent(pos)


def test_other_diagonal_does_not_connect():
    """(r-1, c-1) / (r+1, c+1) are not neighbours: a main-diagonal chain wins for nobody."""
    n = 4
    diag = [(0, 0), (1, 1), (2, 2), (3, 3)]
    pos = place(n, diag, [(0, 3), (1, 3), (2, 0)])
    assert pos.winner[0] == 0
    assert_consistent(pos)
    pos = place(n, [(0, 3), (1, 3), (3, 0), (2, 0)], diag)
    assert pos.winner[0] == 0
    assert_consistent(pos)


def test_winding_chain_wins_only_when_complete():
    """A zig-zag chain ((r+1,c-1), (r+1,c), (r,c+1) and (r-1,c+1) steps) wins on its last stone.

        O . X . O      X = player 1, O = player 2, 9 = the winning last stone
         . X O . O
          . X X X .
           X X O X .
            O O 9 . O
    """
    n = 5
    path = [(0, 2), (1, 1), (2, 1), (3, 0), (3, 1), (2, 2), (2, 3), (3, 3), (4, 2)]
    p2 = [(4, 0), (4, 1), (1, 2), (3, 2), (0, 0), (0, 4), (1, 4), (4, 4)]
    pos = place(n, path[:-1], p2)
    assert pos.winner[0] == 0 and pos.to_move[0] == PLAYER1
    assert_consistent(pos)
    pos = play(pos, np.array([cell(n, *path[-1])]))
    assert pos.winner[0] == PLAYER1
    assert_consistent(pos)


@pytest.mark.parametrize("player", [PLAYER1, PLAYER2])
def test_anti_diagonal_wins_in_every_placement_order(player):
    """The anti-diagonal of a 4×4 board joins through (r-1,c+1) and (r+1,c-1) whichever end or
    middle is placed first: in all 24 orders the win comes exactly on the fourth stone."""
    n = 4
    chain = [cell(n, r, n - 1 - r) for r in range(n)]
    # The opponent's stones go on cells that touch neither its own two edges in a line.
    other = [cell(n, 0, 0), cell(n, 3, 3), cell(n, 1, 0), cell(n, 2, 3)]
    for order in itertools.permutations(chain):
        moves = []
        for i, m in enumerate(order):
            if player == PLAYER2:
                moves.append(other[i])
            moves.append(m)
            if player == PLAYER1 and i < n - 1:
                moves.append(other[i])
        pos = Positions.empty(n, 1)
        for k, m in enumerate(moves):
            pos = play(pos, np.array([m]))
            assert pos.winner[0] == (player if k == len(moves) - 1 else 0), (order, k)
        assert_consistent(pos)


def test_groups_merge_when_a_stone_joins_two_chains():
    """A stone bridging a chain touching the top and one touching the bottom wins at once."""
    n = 5
    top = [(0, 1), (1, 1)]
    bottom = [(3, 1), (4, 1)]
    pos = place(n, top + bottom, [(0, 4), (1, 4), (2, 4), (3, 4)])
    assert pos.winner[0] == 0 and pos.to_move[0] == PLAYER1
    pos = play(pos, np.array([cell(n, 2, 1)]))
    assert pos.winner[0] == PLAYER1
    assert_consistent(pos)


def test_smallest_board_n3():
    """On 3×3 a column wins for player 1; a row of player-2 stones wins for player 2."""
    pos = place(3, [(0, 0), (1, 0), (2, 0)], [(0, 2), (1, 2)])
    assert pos.winner[0] == PLAYER1
    pos = place(3, [(0, 0), (0, 1), (2, 2)], [(1, 0), (1, 1), (1, 2)])
    assert pos.winner[0] == PLAYER2
    # Anti-diagonal on 3×3 is a chain too.
    pos = place(3, [(0, 2), (1, 1), (2, 0)], [(0, 0), (2, 2)])
    assert pos.winner[0] == PLAYER1


def test_win_on_the_last_empty_cell():
    """Filling the last empty cell can decide the game; the full board then has exactly one winner."""
    n = 3
    # Player 1: (0,0) (0,2) (1,2) (2,1) (2,0)?  -- built so that nobody has won with 8 stones.
    # . = last empty cell (1,1):
    #   X O X
    #    O . X
    #     X O O
    # After 8 stones P1 has 4, P2 has 4, P1 to move.
    p1 = [(0, 0), (0, 2), (1, 2), (2, 0)]
    p2 = [(0, 1), (1, 0), (2, 1), (2, 2)]
    pos = place(n, p1, p2)
    assert pos.winner[0] == 0 and (pos.stones[0] == 0).sum() == 1
    last = int(np.flatnonzero(pos.stones[0] == 0)[0])
    assert last == cell(n, 1, 1)
    end = play(pos, np.array([last]))
    # (1,1) links (0,2) [r-1,c+1] and (2,0) [r+1,c-1]: a player-1 crossing.
    assert end.winner[0] == PLAYER1
    assert_consistent(end)


def test_full_board_has_exactly_one_winner():
    """Any full board (random fillings) has a crossing for exactly one player, the flood fill's."""
    rng = np.random.default_rng(7)
    for n in (3, 4, 5, 8):
        for _ in range(40):
            stones = np.where(rng.random(n * n) < 0.5, PLAYER1, PLAYER2).astype(np.int8)
            w = winner_by_flood_fill(stones, n)
            assert crossings(stones, n) == {w}


# --- Illegal moves -------------------------------------------------------------------------


def test_occupied_cell_is_illegal():
    """Playing on an occupied cell raises ValueError and leaves the position untouched."""
    pos = from_moves(5, [12])
    stones = pos.stones.copy()
    with pytest.raises(ValueError):
        play(pos, np.array([12]))
    np.testing.assert_array_equal(pos.stones, stones)


def test_one_illegal_row_fails_the_whole_batch():
    """A batch with one occupied-cell move raises ValueError."""
    pos = Positions.concat([from_moves(5, [0]), from_moves(5, [1])], 5)
    with pytest.raises(ValueError):
        play(pos, np.array([3, 1]))


def test_move_after_game_end_is_illegal():
    """A finished game accepts no move, even on an empty cell; it has no legal moves."""
    pos = place(3, [(0, 0), (1, 0), (2, 0)], [(0, 2), (1, 2)])
    assert pos.winner[0] == PLAYER1
    assert not pos.legal().any()
    with pytest.raises(ValueError):
        play(pos, np.array([cell(3, 2, 2)]))


def test_play_does_not_modify_its_input():
    """`play` returns new arrays; the input position is unchanged."""
    pos = from_moves(5, [0, 1, 2])
    copies = [a.copy() for a in (pos.stones, pos.groups, pos.reach, pos.to_move, pos.winner)]
    play(pos, np.array([3]))
    for before, now in zip(copies, (pos.stones, pos.groups, pos.reach, pos.to_move, pos.winner), strict=True):
        np.testing.assert_array_equal(before, now)


# --- Batched play and random games --------------------------------------------------------


def random_positions(n: int, count: int, rng: np.random.Generator) -> list[Positions]:
    """`count` unfinished random positions of various lengths (one row each)."""
    out = []
    while len(out) < count:
        pos = Positions.empty(n, 1)
        for _ in range(int(rng.integers(0, n * n))):
            legal = np.flatnonzero(pos.legal()[0])
            nxt = play(pos, np.array([rng.choice(legal)]))
            if nxt.winner[0]:
                break
            pos = nxt
        out.append(pos)
    return out


@pytest.mark.parametrize("n", [3, 5, 9])
def test_batched_play_equals_row_by_row(n):
    """Playing B rows in one call gives exactly what B single-row calls give (all arrays)."""
    rng = np.random.default_rng(n)
    rows = random_positions(n, 40, rng)
    moves = np.array([rng.choice(np.flatnonzero(p.legal()[0])) for p in rows])
    batch = play(Positions.concat(rows, n), moves)
    single = Positions.concat([play(p, moves[[i]]) for i, p in enumerate(rows)], n)
    for name in ("stones", "groups", "reach", "to_move", "winner"):
        np.testing.assert_array_equal(getattr(batch, name), getattr(single, name), err_msg=name)
    assert_consistent(batch)


@pytest.mark.parametrize("n", range(3, 12))
def test_random_games_incremental_winner_matches_flood_fill(n):
    """Random legal games (several seeds): after every move the incremental winner equals the
    flood fill, the game ends with exactly one winner, and never on a move before."""
    for seed in range(4):
        rng = np.random.default_rng([n, seed])
        pos = Positions.empty(n, 1)
        plies = 0
        while pos.winner[0] == 0:
            legal = np.flatnonzero(pos.legal()[0])
            assert len(legal) > 0, "a board with no winner must have an empty cell"
            mover = int(pos.to_move[0])
            pos = play(pos, np.array([rng.choice(legal)]))
            plies += 1
            w = winner_by_flood_fill(pos.stones[0], n)
            assert pos.winner[0] == w, (n, seed, plies)
            assert w in (0, mover)  # only the player who just moved can have won
        assert pos.winner[0] in (PLAYER1, PLAYER2)
        assert plies >= 2 * n - 1  # the winner needs at least N stones
        assert not pos.legal().any()


def test_batched_random_games_many_rows():
    """Many games advanced together in one Positions (finished rows dropped) agree with flood fill."""
    n = 7
    rng = np.random.default_rng(11)
    pos = Positions.empty(n, 64)
    finished = 0
    while len(pos):
        legal = pos.legal()
        moves = np.array([rng.choice(np.flatnonzero(row)) for row in legal])
        pos = play(pos, moves)
        assert_consistent(pos)
        finished += int(pos.terminal.sum())
        pos = pos.take(np.flatnonzero(~pos.terminal))
    assert finished == 64


# --- OpenSpiel as an external oracle -------------------------------------------------------


def test_matches_openspiel_hex():
    """Random games replayed in OpenSpiel's `hex` (same action numbering; its player 0 is our
    player 1) end on the same move with the same winner."""
    pyspiel = pytest.importorskip("pyspiel")
    for n in (3, 5, 7):
        game = pyspiel.load_game("hex", {"board_size": n})
        for seed in range(5):
            rng = np.random.default_rng([n, seed, 99])
            pos = Positions.empty(n, 1)
            state = game.new_initial_state()
            while pos.winner[0] == 0:
                move = int(rng.choice(np.flatnonzero(pos.legal()[0])))
                assert move in state.legal_actions()
                state.apply_action(move)
                pos = play(pos, np.array([move]))
                assert state.is_terminal() == bool(pos.winner[0])
            ours = int(pos.winner[0])
            assert state.returns()[ours - 1] == 1.0
