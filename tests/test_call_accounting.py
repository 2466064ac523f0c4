"""Exact network calls and batch sizes of one move's search (SPEC §1.3 last paragraph, §2).

The expected numbers are derived from the SPEC, not read off the code: with the default
config (value_topk 5, widths (3, 3, 3)) a mid-game move touches 1 root + 5 candidates +
9 depth-2 nodes + 27 leaves = 42 positions. The seed's naive flow makes 18 single-board
calls (1 root + 5 candidate values + 3 + 9 tree-node policies) and 1 leaf batch of 27;
permove makes one call per level (1, 5, 9, 27); crossgame makes the same 4 calls for G
roots at once (G×{1, 5, 9, 27}), split into chunks of at most max_batch.

Near the end of a game some nodes are terminal: they are never sent to the network. An
independent recursive implementation of §1.3 (`reference_search` below, one board per
call) says how many positions a search must evaluate and what it must decide.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest

from perfkit.game.hex import Positions, from_moves, play, winner_by_flood_fill
from perfkit.model import Evaluator, build_model
from perfkit.search import gumbel_noise, search
from perfkit.strategies import Engine, make_strategy
from perfkit.strategies.base import Tally, batched
from perfkit.strategies.naive import one_call_per_node
from perfkit.types import CallRecord, SearchConfig, get_preset

N = 5
CONFIG = SearchConfig(temperature=0.0)
# A fixed mid-game position on the tiny board: 2 stones each, player 1 to move.
MIDGAME = [12, 6, 17, 8]  # (2,2) X, (1,1) O, (3,2) X, (1,3) O
LEVEL_SIZES = [1, 5, 9, 27]  # root, candidates, depth-2 nodes, leaves
LEVEL_POLICY = [1, 3, 9, 0]  # the root and the tree nodes to expand
LEVEL_VALUE = [1, 5, 0, 27]  # the root, the candidates and the leaves


@pytest.fixture(scope="module")
def model():
    return build_model(get_preset("tiny"), seed=0)


@pytest.fixture
def calls() -> list[CallRecord]:
    return []


@pytest.fixture
def evaluator(model, calls) -> Evaluator:
    return Evaluator(model, n=N, precision="float64", on_call=calls.append)


def checked(evaluate, seen: list[np.ndarray] | None = None):
    """`evaluate`, asserting that no position it receives is finished (terminal)."""

    def wrapped(stones, to_move, **kw):
        for row in stones:
            assert winner_by_flood_fill(row, N) == 0, "a terminal position was sent to the network"
            if seen is not None:
                seen.append(row.copy())
        return evaluate(stones, to_move, **kw)

    return wrapped


def drive(roots: Positions, schedule, evaluate, config: SearchConfig = CONFIG, *, gumbel=None, noisy=None):
    """Run one search step like `play_games` does; returns (results, tally, requests)."""
    tally = Tally(len(roots))
    requests = []
    steps = search(roots, config=config, gumbel=gumbel, noisy=noisy)
    req = next(steps)
    while True:
        requests.append(req)
        try:
            req = steps.send(schedule(req, evaluate, tally))
        except StopIteration as done:
            return done.value, tally, requests


def sizes(calls: list[CallRecord]) -> list[tuple[int, int, int, int]]:
    return [(c.batch, c.n_policy, c.n_value, c.level) for c in calls]


def chunks(total: int, cap: int | None) -> list[int]:
    """Call sizes when `total` positions are split into calls of at most `cap`."""
    if cap is None or total <= cap:
        return [total]
    return [cap] * (total // cap) + ([total % cap] if total % cap else [])


# --- A mid-game move: exact counts ---------------------------------------------------------


def test_midgame_position_has_no_terminal_node_within_three_plies():
    """Precondition of the exact counts: no position within 3 plies of MIDGAME is finished
    (checked exhaustively: 21 × 20 × 19 continuations)."""
    level = from_moves(N, MIDGAME)
    assert level.to_move[0] == 1 and int((level.stones != 0).sum()) == 4
    for _ in range(3):
        rows, cells = np.nonzero(level.legal())
        level = play(level.take(rows), cells)
        assert not level.terminal.any()
    assert len(level) == 21 * 20 * 19


def test_naive_makes_18_single_calls_and_one_leaf_batch_of_27(evaluator, calls):
    """naive: 19 calls: root (policy+value), 5 candidate values, 3 + 9 tree-node policies, 27 leaves at once."""
    (res,), tally, _ = drive(from_moves(N, MIDGAME), one_call_per_node, evaluator)
    assert len(calls) == 19
    assert sorted(c.batch for c in calls) == [1] * 18 + [27]
    assert sorted(sizes(calls)) == sorted(
        [(1, 1, 1, 0)]
        + [(1, 0, 1, 1)] * 5  # candidate values
        + [(1, 1, 0, 1)] * 3  # the 3 expanded candidates' policies (sent again)
        + [(1, 1, 0, 2)] * 9  # depth-2 policies
        + [(27, 0, 27, 3)]  # leaves
    )
    assert tally.calls[0] == pytest.approx(19.0, abs=1e-12)  # 18 + 27 × (1/27)
    assert tally.boards.tolist() == [1 + 5 + 3 + 9 + 27]
    assert len(res.candidates) == 5 and res.move == res.candidates[res.chosen_rank]


def test_permove_makes_one_call_per_level(evaluator, calls):
    """permove: 4 calls of 1, 5, 9, 27 positions; policy asked by 1, 3, 9, 0 and value by 1, 5, 0, 27."""
    (res,), tally, requests = drive(from_moves(N, MIDGAME), batched(), evaluator)
    assert [c.batch for c in calls] == LEVEL_SIZES
    assert [c.n_policy for c in calls] == LEVEL_POLICY
    assert [c.n_value for c in calls] == LEVEL_VALUE
    assert [c.level for c in calls] == [0, 1, 2, 3]
    assert [len(r) for r in requests] == LEVEL_SIZES
    assert tally.calls[0] == pytest.approx(4.0, abs=1e-12)
    assert tally.boards.tolist() == [42]


def test_naive_and_permove_decide_the_same_move(model):
    """The two schedules of one search give the same decision (values to 1e-9)."""
    ev = Evaluator(model, n=N, precision="float64")
    (a,), _, _ = drive(from_moves(N, MIDGAME), one_call_per_node, ev)
    (b,), _, _ = drive(from_moves(N, MIDGAME), batched(), ev)
    assert (a.move, a.candidates, a.chosen_rank) == (b.move, b.candidates, b.chosen_rank)
    assert abs(a.minimax_value - b.minimax_value) <= 1e-9
    np.testing.assert_allclose(a.policy_move_values, b.policy_move_values, rtol=0, atol=1e-9)


@pytest.mark.parametrize("g", [1, 2, 4, 7])
def test_crossgame_one_search_of_g_roots_makes_4_calls(evaluator, calls, g):
    """G roots in one search: 4 calls of G×{1, 5, 9, 27}; each root is attributed 42 boards and 4/G calls."""
    roots = Positions.concat([from_moves(N, MIDGAME)] * g, N)
    results, tally, _ = drive(roots, batched(), evaluator)
    assert [c.batch for c in calls] == [g * s for s in LEVEL_SIZES]
    assert [c.n_policy for c in calls] == [g * s for s in LEVEL_POLICY]
    assert [c.n_value for c in calls] == [g * s for s in LEVEL_VALUE]
    assert tally.boards.tolist() == [42] * g
    np.testing.assert_allclose(tally.calls, 4.0 / g, rtol=0, atol=1e-12)
    # Identical roots, identical decisions.
    assert len({(r.move, tuple(r.candidates), r.chosen_rank) for r in results}) == 1


@pytest.mark.parametrize(("g", "cap"), [(4, 16), (4, 5), (3, 1), (2, 27), (5, 100)])
def test_crossgame_max_batch_splits_each_level(evaluator, calls, g, cap):
    """With max_batch B each level's G×k positions go out in chunks of at most B (e.g. G=4, B=16:
    4 → [4], 20 → [16, 4], 36 → [16, 16, 4], 108 → [16]*6 + [12]); per-level policy/value totals
    are kept; each root gets its 42 boards and the per-root call shares add up to the calls made."""
    roots = Positions.concat([from_moves(N, MIDGAME)] * g, N)
    _, tally, requests = drive(roots, batched(cap), evaluator)
    expected = [chunks(g * s, cap) for s in LEVEL_SIZES]
    assert [c.batch for c in calls] == list(itertools.chain(*expected))
    assert all(c.batch <= cap for c in calls)
    for level in range(4):
        mine = [c for c in calls if c.level == level]
        assert [c.batch for c in mine] == expected[level]
        assert sum(c.n_policy for c in mine) == g * LEVEL_POLICY[level]
        assert sum(c.n_value for c in mine) == g * LEVEL_VALUE[level]
    assert tally.boards.tolist() == [42] * g
    assert tally.calls.sum() == pytest.approx(len(calls), abs=1e-9)
    # Each root's share: for every call, (its positions in the call) / (positions in the call).
    want = np.zeros(g)
    for req, level_chunks in zip(requests, expected, strict=True):
        lo = 0
        for size in level_chunks:
            owners = req.owner[lo : lo + size]
            want += np.bincount(owners, minlength=g) / size
            lo += size
    np.testing.assert_allclose(tally.calls, want, rtol=0, atol=1e-12)


def test_g_4_b_16_spelled_out(evaluator, calls):
    """The SPEC's example written out: G=4, B=16 gives 13 calls of these sizes."""
    roots = Positions.concat([from_moves(N, MIDGAME)] * 4, N)
    drive(roots, batched(16), evaluator)
    assert [c.batch for c in calls] == [4, 16, 4, 16, 16, 4] + [16] * 6 + [12]


def test_strategies_record_calls_per_move_on_the_opening(model):
    """Through the strategies: the first move of a game (empty 5×5 board, nothing terminal within
    3 plies) costs naive 19 calls / 45 boards, permove 4 calls / 42 boards, and crossgame with
    G games 4/G calls / 42 boards per game; the moves' shares add up to the calls measured."""
    preset = get_preset("tiny")
    config = SearchConfig(temperature=1.0, temperature_plies=8)
    for name, games_played, opts, per_move_calls, per_move_boards in [
        ("naive", 2, {}, 19.0, 45),
        ("permove", 2, {}, 4.0, 42),
        ("crossgame", 4, {"concurrency": 4}, 1.0, 42),  # 4 calls shared by 4 games
    ]:
        calls: list[CallRecord] = []
        ev = Evaluator(model, n=preset.board, precision="float64", on_call=calls.append)
        engine = Engine(evaluate=checked(ev), game=preset.board, config=config, seed=3)
        games = list(make_strategy(name, **opts).play(range(games_played), engine))
        for g in games:
            assert g.moves[0].calls == pytest.approx(per_move_calls, abs=1e-12), name
            assert g.moves[0].boards == per_move_boards, name
            assert all(m.boards <= per_move_boards for m in g.moves), name
        moves = [m for g in games for m in g.moves]
        assert sum(m.calls for m in moves) == pytest.approx(len(calls), abs=1e-9), name
        assert sum(m.boards for m in moves) == sum(c.batch for c in calls), name


@pytest.mark.parametrize(
    "opts",
    [{"concurrency": 4, "max_batch": 16}, {"concurrency": 6, "groups": 2, "max_batch": 10, "inflight": 2}],
    ids=["lockstep", "groups-inflight"],
)
def test_crossgame_calls_respect_max_batch_and_add_up(model, opts):
    """Whole crossgame games: no call exceeds max_batch, every game's first move sends its 42
    boards, and the moves' call shares and boards add up to the calls and boards measured."""
    calls: list[CallRecord] = []
    ev = Evaluator(model, n=N, precision="float64", on_call=calls.append)
    engine = Engine(evaluate=checked(ev), game=N, config=SearchConfig(temperature=1.0, temperature_plies=8), seed=3)
    games = list(make_strategy("crossgame", **opts).play(range(6), engine))
    assert sorted(g.game for g in games) == list(range(6))
    assert max(c.batch for c in calls) <= opts["max_batch"]
    assert all(g.moves[0].boards == 42 for g in games)
    moves = [m for g in games for m in g.moves]
    assert sum(m.calls for m in moves) == pytest.approx(len(calls), abs=1e-9)
    assert sum(m.boards for m in moves) == sum(c.batch for c in calls)
    assert all(c.n_policy <= c.batch and c.n_value <= c.batch for c in calls)


# --- Terminal nodes near the end of a game -------------------------------------------------


def board(picture: str) -> Positions:
    """The position drawn in `picture` (X player 1, O player 2, . empty; rows top to bottom)."""
    rows = [r.split() for r in picture.strip().splitlines()]
    n = len(rows)
    cells = [sym for row in rows for sym in row]
    xs = [i for i, s in enumerate(cells) if s == "X"]
    os_ = [i for i, s in enumerate(cells) if s == "O"]
    assert len(os_) <= len(xs) <= len(os_) + 1
    moves = [m for pair in itertools.zip_longest(xs, os_) for m in pair if m is not None]
    pos = from_moves(n, moves)
    assert pos.winner[0] == 0
    return pos


# 5 empty cells, player 1 to move; (0,1) wins at once for player 1 (via (1,0), row 2, (3,2)...).
ENDGAME_5 = """
O . X . O
X O O O X
X X X O .
O O X X O
X . . X O
"""
WIN_CELL_5 = 1

# 9 empty cells, player 1 to move; wins and losses appear deeper in the tree.
ENDGAME_9 = """
X . O O X
X O O X .
X . O O O
. . X . .
X O X . .
"""

# 4 empty cells, player 2 to move: fewer legal moves than value_topk and than the widths deeper down.
ENDGAME_4 = """
X X O O X
X O O X O
X . O O O
. X X O X
X O X . .
"""

# 7 empty cells, player 1 to move.
ENDGAME_7 = """
. O O . .
X . O X .
X O O . X
X O O X .
X X X O O
"""


@dataclass
class Reference:
    """What the plain reference search decided and evaluated."""

    move: int
    minimax: float
    candidates: list[int]
    values: list[float]  # the candidates' values from the root player's view
    rank: int
    per_level: list[int]  # positions evaluated at depth 0, 1, 2, 3
    expanded: int  # unfinished depth-1 tree nodes (naive asks for their policy in a 2nd call)


def reference_search(pos: Positions, evaluate, config: SearchConfig, noise=None) -> Reference:
    """SPEC §1.3 written plainly: recursive, one board per call, each position evaluated once."""
    n = pos.n
    root_player = int(pos.to_move[0])
    per_level = [0] * (config.depth + 1)

    def ev(stones, to_move, level):
        per_level[level] += 1
        logits, values = evaluate(stones[None].copy(), np.array([to_move], np.int8))
        return logits[0], float(values[0])

    def best(stones, scores, k):  # the k legal cells with the highest scores, ties to the lower cell
        legal = [a for a in range(n * n) if stones[a] == 0]
        return sorted(legal, key=lambda a: (-scores[a], a))[:k]

    def child(stones, to_move, a):
        s = stones.copy()
        s[a] = to_move
        return s, 3 - to_move, winner_by_flood_fill(s, n)

    def view(value, to_move):  # a value for the player to move, seen by the root player
        return value if to_move == root_player else -value

    def minimax(stones, to_move, won, depth, logits=None):
        if won:  # terminal: exact value, no network
            return 1.0 if won == root_player else -1.0
        if depth == config.depth:  # leaf: value head
            return view(ev(stones, to_move, depth)[1], to_move)
        if logits is None:
            logits, _ = ev(stones, to_move, depth)
        kids = [child(stones, to_move, a) for a in best(stones, logits, config.widths[depth])]
        values = [minimax(s, t, w, depth + 1) for s, t, w in kids]
        return max(values) if to_move == root_player else min(values)

    stones = pos.stones[0].copy()
    logits, _ = ev(stones, root_player, 0)
    candidates = best(stones, logits if noise is None else logits / config.temperature + noise, config.value_topk)
    values, tree, expanded = [], [], 0
    for rank, a in enumerate(candidates):
        s, t, w = child(stones, root_player, a)
        if w:
            values.append(1.0 if w == root_player else -1.0)
            lg = None
        else:
            lg, v = ev(s, t, 1)
            values.append(view(v, t))
        if rank < config.widths[0]:
            expanded += not w and config.depth > 1
            tree.append(minimax(s, t, w, 1, logits=lg))
    rank = max(range(len(tree)), key=lambda i: (tree[i], -i))  # ties: the earlier candidate
    return Reference(candidates[rank], tree[rank], candidates, values, rank, per_level, expanded)


def assert_matches(res, ref: Reference) -> None:
    assert (res.move, res.candidates, res.chosen_rank) == (ref.move, ref.candidates, ref.rank)
    assert res.minimax_value == pytest.approx(ref.minimax, abs=1e-9)
    np.testing.assert_allclose(res.policy_move_values, ref.values, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "picture", [ENDGAME_4, ENDGAME_5, ENDGAME_7, ENDGAME_9], ids=["4-empty", "5-empty", "7-empty", "9-empty"]
)
def test_terminal_nodes_are_never_evaluated(evaluator, calls, picture):
    """Near the end, finished positions are leaves with exact values and never reach the network:
    permove sends fewer than 42 boards, exactly as many per level as the plain reference search
    evaluates, and decides the same move with the same values."""
    pos = board(picture)
    seen: list[np.ndarray] = []
    (res,), tally, _ = drive(pos, batched(), checked(evaluator, seen))
    ref = reference_search(pos, Evaluator(evaluator.model, n=N, precision="float64"), CONFIG)
    assert [c.batch for c in calls] == [k for k in ref.per_level if k]
    assert sum(ref.per_level) < 42
    assert int(tally.boards[0]) == sum(ref.per_level) == len(seen)
    assert_matches(res, ref)


@pytest.mark.parametrize(
    "picture", [ENDGAME_4, ENDGAME_5, ENDGAME_7, ENDGAME_9], ids=["4-empty", "5-empty", "7-empty", "9-empty"]
)
def test_naive_skips_terminal_nodes_too(evaluator, calls, picture):
    """naive near the end: one single-board call per unfinished node and purpose (root, candidate
    value, tree-node policy) plus one leaf batch, none for finished positions."""
    pos = board(picture)
    (res,), tally, _ = drive(pos, one_call_per_node, checked(evaluator))
    ref = reference_search(pos, Evaluator(evaluator.model, n=N, precision="float64"), CONFIG)
    singles = ref.per_level[0] + ref.per_level[1] + ref.expanded + ref.per_level[2]
    leaf_batch = [ref.per_level[3]] if ref.per_level[3] else []
    assert sorted(c.batch for c in calls) == sorted([1] * singles + leaf_batch)
    assert int(tally.boards[0]) == sum(ref.per_level) + ref.expanded
    assert_matches(res, ref)


def test_winning_candidate_is_worth_exactly_one_and_is_never_sent(evaluator, calls):
    """With 5 empty cells every legal move is a candidate; the immediately winning one has value
    exactly 1.0 and its position is never evaluated; in the tree it is worth 1.0 and played."""
    pos = board(ENDGAME_5)
    assert play(pos, np.array([WIN_CELL_5])).winner[0] == 1
    seen: list[np.ndarray] = []
    (res,), _, _ = drive(pos, batched(), checked(evaluator, seen))
    assert sorted(res.candidates) == sorted(np.flatnonzero(pos.stones[0] == 0).tolist())
    k = res.candidates.index(WIN_CELL_5)
    assert res.policy_move_values[k] == 1.0
    assert [c.batch for c in calls if c.level == 1] == [4]  # 5 candidates, one of them finished
    won = play(pos, np.array([WIN_CELL_5])).stones[0]
    assert not any(np.array_equal(s, won) for s in seen)
    assert k < CONFIG.widths[0], "precondition: the win is in the tree (rank < widths[0])"
    assert res.minimax_value == 1.0
    # The first candidate worth 1.0 is played: the win itself, or an earlier forced win.
    assert res.chosen_rank <= k


def test_nodes_with_few_legal_moves_expand_them_all(evaluator, calls):
    """4 empty cells: 4 candidates (not 5), and every tree node expands all its legal moves when
    it has fewer than its width (3 at depth 1, 2 at depth 2), finished positions excepted."""
    pos = board(ENDGAME_4)
    (res,), _, requests = drive(pos, batched(), checked(evaluator))
    assert sorted(res.candidates) == sorted(np.flatnonzero(pos.stones[0] == 0).tolist())
    assert len(res.policy_move_values) == 4
    ref = reference_search(pos, Evaluator(evaluator.model, n=N, precision="float64"), CONFIG)
    assert_matches(res, ref)
    # Unfinished depth-1 tree nodes (3 legal moves each) have 3 children, depth-2 nodes 2 each.
    assert ref.per_level[2] <= 3 * ref.expanded
    assert ref.per_level[3] <= 2 * ref.per_level[2]
    assert [len(r) for r in requests] == [k for k in ref.per_level if k]


def test_terminal_handling_matches_reference_with_noise(evaluator):
    """With Gumbel noise at the root (temperature 1) the search still matches the reference."""
    pos = board(ENDGAME_9)
    config = SearchConfig(temperature=1.0, temperature_plies=8)
    ev = Evaluator(evaluator.model, n=N, precision="float64")
    for game in range(5):
        g = gumbel_noise(0, game, 0, N * N)
        (res,), tally, _ = drive(pos, batched(), checked(evaluator), config, gumbel=g[None], noisy=np.array([True]))
        ref = reference_search(pos, ev, config, noise=g)
        assert_matches(res, ref)
        assert int(tally.boards[0]) == sum(ref.per_level)


def test_random_positions_match_the_reference_search(model):
    """On positions from random games (all stages, both players to move) permove and naive send
    exactly the positions the reference evaluates and decide as the reference does."""
    rng = np.random.default_rng(5)
    ev = Evaluator(model, n=N, precision="float64")
    checked_positions = 0
    for _ in range(3):
        pos = Positions.empty(N, 1)
        while True:
            calls: list[CallRecord] = []
            recording = Evaluator(model, n=N, precision="float64", on_call=calls.append)
            (res,), _, _ = drive(pos, batched(), checked(recording))
            ref = reference_search(pos, ev, CONFIG)
            assert [c.batch for c in calls] == [k for k in ref.per_level if k]
            assert_matches(res, ref)
            calls.clear()
            (res,), _, _ = drive(pos, one_call_per_node, checked(recording))
            singles = ref.per_level[0] + ref.per_level[1] + ref.expanded + ref.per_level[2]
            leaf_batch = [ref.per_level[3]] if ref.per_level[3] else []
            assert sorted(c.batch for c in calls) == sorted([1] * singles + leaf_batch)
            assert_matches(res, ref)
            checked_positions += 1
            nxt = play(pos, np.array([rng.choice(np.flatnonzero(pos.legal()[0]))]))
            if nxt.winner[0]:
                break
            pos = nxt
    assert checked_positions > 25
