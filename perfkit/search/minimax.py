"""The seed's move search, "policy-pruned minimax" (SPEC §1.3), written once.

`search` advances M root positions (one per game in flight) together, one tree level at a
time. It is a generator: at each level it yields one `EvalRequest` holding every position
of that level that needs the network, and receives the `Evaluation`. How a request becomes
network calls is the strategy's business; the search never calls the network itself, so
every strategy plays the same games by construction.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from perfkit.types import EvalRequest, Evaluation, PositionBatch, SearchConfig

# Minimax values closer than this count as equal, so that transposed leaves (the same
# position reached in two orders) tie exactly whatever batch each copy was evaluated in.
TIE_EPS = 1e-12


@dataclass
class SearchResult:
    """One root's decision (the move record's search part, SPEC §1.3.7)."""

    move: int
    root_value: float
    minimax_value: float
    candidates: list[int]
    policy_move_values: list[float]
    chosen_rank: int


def gumbel_noise(seed: int, game: int, ply: int, cells: int) -> np.ndarray:
    """The move's N*N Gumbel draws, in cell order, keyed by (seed, game, ply) only."""
    return np.random.default_rng([seed, game, ply]).gumbel(size=cells)


def top_k(scores: np.ndarray, legal: np.ndarray, k: int) -> np.ndarray:
    """Per row, the k legal cells with the highest scores, ties to the lower cell; -1 pads.

    scores: [R, N*N] float, legal: [R, N*N] bool -> [R, k] int64. k passes of argmax (which
    returns the first maximum, hence the tie rule) beat a full sort ~4x for k << N*N. A
    non-finite score of a legal cell ranks it last, not out.
    """
    masked = np.where(legal, np.nan_to_num(scores, nan=-1e300, posinf=1e300, neginf=-1e300), -np.inf)
    rows = np.arange(len(masked))
    out = np.full((len(masked), k), -1, dtype=np.int64)
    for j in range(min(k, masked.shape[1])):
        best = masked.argmax(axis=1)
        found = masked[rows, best] > -np.inf
        out[:, j] = np.where(found, best, -1)
        masked[rows, best] = -np.inf
    return out


class _Level(NamedTuple):
    """One tree level's nodes, a row per node: L of them (L changes from level to level)."""

    owner: np.ndarray  # [L] int64: the root (search slot) each node belongs to
    parent: np.ndarray  # [L] int64: the node's row in the level above (level 1: its root)
    nodes: PositionBatch  # [L] positions
    value: np.ndarray  # [L] float64 from the root player's view; NaN where the network said NaN


class _Walk(NamedTuple):
    """What steps 3-5 hand to the backup and the choice."""

    levels: list[_Level]  # levels 1..depth; level 1 holds only the root children in the tree
    cand_values: np.ndarray  # [M, K] float64: each candidate's value (NaN: no candidate there)
    rank1: np.ndarray  # [L1] int64: each level-1 node's rank among its root's candidates


def _terminal_value(nodes: PositionBatch, root_player: np.ndarray) -> np.ndarray:
    """Exact value of finished positions from the root player's view: 1 won, -1 lost, 0 drawn.

    nodes [L], root_player [L] int8 (each node's own root's) -> [L] float64.
    """
    return np.where(nodes.winner == root_player, 1.0, np.where(nodes.winner == 0, 0.0, -1.0))


def search(
    roots: PositionBatch,
    *,
    config: SearchConfig,
    gumbel: np.ndarray | None = None,  # [M, A] float64, rows used where `noisy`
    noisy: np.ndarray | None = None,  # [M] bool: rank candidates with Gumbel noise
) -> Generator[EvalRequest, Evaluation, list[SearchResult]]:
    """Choose a move for each of M unfinished root positions (generator; see module doc).

    It reads as SPEC §1.3's steps: 1 the root and 2 its candidates here, 3-5 the tree level by
    level (`_walk`, one yield per level), 5 the minimax backup (`_backup`), 6 the choice (`_choose`).
    """
    m = len(roots)
    if m == 0:
        return []
    if roots.terminal.any():
        raise ValueError("search needs unfinished positions")
    root_player = roots.to_move.astype(np.int8)  # [M]
    ones, zeros = np.ones(m, bool), np.zeros(m, bool)

    # 1. Root.
    legal = roots.legal()  # [M, A]
    actions = legal.shape[1]
    ev = yield EvalRequest(
        level=0, stones=roots.stones, to_move=roots.to_move, want_policy=ones, want_value=ones,
        candidate=zeros, leaf=zeros, owner=np.arange(m), actions=actions, root_player=root_player,
    )
    scores = ev.logits
    if noisy is not None and gumbel is not None and noisy.any():
        noisy_scores = ev.logits / max(config.temperature, 1e-300) + gumbel
        scores = np.where(noisy[:, None], noisy_scores, ev.logits)

    # 2. Candidates, best first.
    cand = top_k(scores, legal, config.value_topk)  # [M, K]
    walk = yield from _walk(roots, cand, config=config, actions=actions, root_player=root_player)
    _backup(walk.levels, root_player)
    return _choose(walk, cand, root_values=ev.values)


def _walk(
    roots: PositionBatch, cand: np.ndarray, *, config: SearchConfig, actions: int, root_player: np.ndarray
) -> Generator[EvalRequest, Evaluation, _Walk]:
    """Steps 3-5, one level (and one yield) at a time: candidate values at level 1, tree policies,
    leaf values.

    roots [M], cand [M, K] int64 (candidate actions best first, -1 pads), root_player [M] int8.
    """
    widths, depth = config.widths, config.depth
    owner, rank = np.nonzero(cand >= 0)  # level-1 nodes in (root, rank) order
    nodes = roots.take(owner).play(cand[owner, rank])
    in_tree = rank < widths[0]
    parent = owner
    levels: list[_Level] = []
    # Set at level 1, which every search has (depth >= 1).
    cand_values: np.ndarray = np.zeros(0)
    rank1: np.ndarray = np.zeros(0, np.int64)
    for d in range(1, depth + 1):
        live = ~nodes.terminal
        expand = in_tree & live & (d < depth)
        leaf = in_tree & live & (d == depth)
        candidate = live & (d == 1)
        value, logits = yield from _evaluate(
            d, nodes, owner, policy=expand, candidate=candidate, leaf=leaf, actions=actions, root_player=root_player
        )
        if d == 1:
            cand_values = np.full(cand.shape, np.nan)
            cand_values[owner, rank] = value
            # Every candidate is valued, but only the first widths[0] are root children of the tree.
            keep = np.flatnonzero(in_tree)
            owner, parent, rank, nodes, value = owner[keep], parent[keep], rank[keep], nodes.take(keep), value[keep]
            expand, logits = expand[keep], logits[keep]
            rank1 = rank
        levels.append(_Level(owner, parent, nodes, value))
        if d == depth:
            break
        # Expand the live tree nodes by their own policy (no noise).
        src = np.flatnonzero(expand)
        kids = top_k(logits[src], nodes.legal()[src], widths[d])  # [S, w]
        row, col = np.nonzero(kids >= 0)
        parent = src[row]
        owner = owner[parent]
        nodes = nodes.take(parent).play(kids[row, col])
        in_tree = np.ones(len(parent), bool)
    return _Walk(levels, cand_values, rank1)


def _evaluate(
    level: int,
    nodes: PositionBatch,
    owner: np.ndarray,
    *,
    policy: np.ndarray,
    candidate: np.ndarray,
    leaf: np.ndarray,
    actions: int,
    root_player: np.ndarray,
) -> Generator[EvalRequest, Evaluation, tuple[np.ndarray, np.ndarray]]:
    """One level's values and policies: exact where the game is over, else the network's (one
    request; none when no row needs it).

    nodes, owner [L] int64, policy/candidate/leaf [L] bool, root_player [M] int8
    -> value [L] float64 from the root player's view, logits [L, A] float64 (-inf: not asked).
    """
    value = _terminal_value(nodes, root_player[owner])
    logits = np.full((len(nodes), actions), -np.inf)
    idx = np.flatnonzero(policy | candidate | leaf)  # [K] the rows that need the network
    req = EvalRequest(
        level=level,
        stones=nodes.stones[idx],
        to_move=nodes.to_move[idx],
        want_policy=policy[idx],
        want_value=(candidate | leaf)[idx],
        candidate=candidate[idx],
        leaf=leaf[idx],
        owner=owner[idx],
        actions=actions,
        root_player=root_player[owner[idx]],
    )
    if len(idx):
        ev = yield req
        # The network answers for the side to move; the tree wants the root player's view.
        sign = np.where(nodes.to_move[idx] == root_player[owner[idx]], 1.0, -1.0)
        asked = req.want_value  # policy-only rows get their value from the backup
        value[idx[asked]] = (sign * ev.values)[asked]
        logits[idx] = ev.logits
    return value, logits


def _backup(levels: list[_Level], root_player: np.ndarray) -> None:
    """Step 5, in place: minimax values from the deepest level up to level 1.

    A node with children takes their max where its side to move is the root player's, else
    their min; a node without (a leaf, a finished game) keeps its own value.
    """
    for d in range(len(levels) - 1, 0, -1):
        _, child_parent, _, child_value = levels[d]
        owner_u, _, nodes_u, value_u = levels[d - 1]
        hi = np.full(len(value_u), -np.inf)
        lo = np.full(len(value_u), np.inf)
        np.maximum.at(hi, child_parent, child_value)  # NaN propagates: a NaN subtree stays NaN
        np.minimum.at(lo, child_parent, child_value)
        has_kids = np.bincount(child_parent, minlength=len(value_u)) > 0
        maximise = nodes_u.to_move == root_player[owner_u]
        value_u[has_kids] = np.where(maximise, hi, lo)[has_kids]


def _choose(walk: _Walk, cand: np.ndarray, *, root_values: np.ndarray) -> list[SearchResult]:
    """Step 6: per root, the child with the highest minimax value, ties to the earlier candidate.

    cand [M, K] int64, root_values [M] float64 (the value head at each root).
    """
    m = len(cand)
    cand_values = walk.cand_values
    owner1, _, _, value1 = walk.levels[0]
    tree_values = np.full(cand.shape, -np.inf)  # [M, K]: ranks beyond widths[0] stay -inf
    tree_values[owner1, walk.rank1] = np.nan_to_num(value1, nan=-np.inf)
    valued = np.isfinite(tree_values).any(axis=1)  # [M]; False: the seed's fallback (e.g. NaN)
    scores = np.where(valued[:, None], tree_values, np.nan_to_num(cand_values, nan=-np.inf))  # [M, K]
    best = np.argmax(scores >= scores.max(axis=1, keepdims=True) - TIE_EPS, axis=1)  # first within TIE_EPS
    minimax = np.where(valued, scores[np.arange(m), best], np.nan)
    counts = (cand >= 0).sum(axis=1)
    return [
        SearchResult(
            move=int(cand[i, best[i]]),
            root_value=float(root_values[i]),
            minimax_value=float(minimax[i]),
            candidates=cand[i, : counts[i]].tolist(),
            policy_move_values=cand_values[i, : counts[i]].tolist(),
            chosen_rank=int(best[i]),
        )
        for i in range(m)
    ]
