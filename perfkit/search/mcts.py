"""AlphaZero's PUCT tree search, the trees of every game in flight held as arrays (SPEC §2.1).

As OpenSpiel's AlphaZero and mctx's `muzero_policy` define it: the prior is the softmax of the
policy over legal moves; a child is chosen by `Q + c_puct * P * sqrt(N_parent) / (1 + N_child)`
(Q from the chooser's view, 0 for an unvisited child, as OpenSpiel's MCTSBot; ties to the lowest
action); the root's prior gets Dirichlet noise; a leaf's value is backed up negamax (each node
keeps it from the view of the player who moved into it); a terminal position is valued by the
game and never sent to the network. The root is evaluated apart from the `simulations` (as mctx:
it starts with one visit), so a move asks for at most 1 + simulations boards.

`Forest` keeps the trees of M games in fixed arrays (`[M, N]` per node, `[M, N, A]` per edge)
addressed by flat node ids `m * N + n`; selection, expansion and backup work on all M games at
once, with a Python loop over tree depth only. Like the minimax search it is a generator: each
round of simulations yields one `EvalRequest` with the new leaves of every tree (K per tree,
virtual loss keeping a tree's K descents apart), and the strategy decides how it becomes calls.
A game's moves depend only on (seed, game id, ply): its noise is drawn from its own generator,
and nothing in one tree reads another.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from perfkit.search.minimax import SearchResult
from perfkit.types import EvalRequest, Evaluation, Game, PerfkitError, PositionBatch

MAX_SIMULATIONS = 100_000
MAX_LEAVES = 256
DEFAULT_PERMOVE_LEAVES = 8  # as minigo's and KataGo's batched readouts
NOISE_SLICES = 10  # the next move's noise is drawn in this many slices over a move's rounds


@dataclass(frozen=True)
class MCTSConfig:
    """Parameters of the AlphaZero search (`--search mcts`)."""

    simulations: int = 50  # leaves visited per move, after the root's own evaluation (mctx's num_simulations)
    c_puct: float = 1.25  # exploration weight: mctx's pb_c_init and perfkit's issue default
    dirichlet_alpha: float = 1.0  # OpenSpiel AlphaZero's default (and the mctx anchor's); mctx's own default is 0.3
    dirichlet_fraction: float = 0.25  # root prior = (1 - f) * prior + f * noise (OpenSpiel, mctx); 0 turns noise off
    temperature_plies: int = 8  # plies whose move is sampled by visit count; argmax after
    leaves: int | None = None  # K: leaves per tree per round, kept apart by virtual loss (None: 8 for permove, else 1)
    reuse: bool = True  # the chosen child's subtree becomes the next move's tree

    def __post_init__(self) -> None:
        for name, low, high in (("simulations", 1, MAX_SIMULATIONS), ("leaves", 1, MAX_LEAVES)):
            value = getattr(self, name)
            if value is None and name == "leaves":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise PerfkitError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        for name in ("c_puct", "dirichlet_alpha"):
            if not (isinstance(getattr(self, name), (int, float)) and getattr(self, name) > 0 and math.isfinite(getattr(self, name))):
                raise PerfkitError(f"{name.replace('_', '-')} must be a number > 0, got {getattr(self, name)!r}")
        if not (isinstance(self.dirichlet_fraction, (int, float)) and 0 <= self.dirichlet_fraction <= 1):
            raise PerfkitError(f"dirichlet-fraction must be between 0 and 1, got {self.dirichlet_fraction!r}")
        if isinstance(self.temperature_plies, bool) or not isinstance(self.temperature_plies, (int, np.integer)) \
                or self.temperature_plies < 0:
            raise PerfkitError(f"temperature_plies must be a whole number >= 0, got {self.temperature_plies!r}")
        if not isinstance(self.reuse, bool):
            raise PerfkitError(f"reuse must be True or False, got {self.reuse!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"search": "mcts", **dataclasses.asdict(self)}

    @property
    def draws(self) -> bool:
        """Each move draws from its generator: root noise, or a visit-count sample for its first plies."""
        return self.dirichlet_fraction > 0 or self.temperature_plies > 0

    @property
    def nodes(self) -> int:
        """N: nodes one tree holds; three times a move's own, so a reused subtree of up to twice that
        leaves room for the next search (a larger one starts afresh)."""
        return 3 * (self.simulations + 1)

    def for_strategy(self, strategy: str) -> MCTSConfig:
        """These settings with K resolved for `strategy` (permove 8, else 1); naive takes one leaf per call only."""
        if strategy == "naive" and self.leaves not in (None, 1):
            raise PerfkitError(f"naive evaluates one leaf per call; --leaves {self.leaves} applies to permove and crossgame")
        if self.leaves is not None:
            return self
        return dataclasses.replace(self, leaves=DEFAULT_PERMOVE_LEAVES if strategy == "permove" else 1)


@dataclass
class MCTSResult(SearchResult):
    """One root's decision, with the root's visit counts (the policy target of training)."""

    visits: list[int] = dataclasses.field(default_factory=list)  # [A] visits of each root child


def noise_draws(seed: int, game: int, ply: int, k: int, alpha: float) -> tuple[np.ndarray, float]:
    """A move's Dirichlet noise over its k legal actions ([k]) and its sampling draw in [0, 1), both
    from the generator of (seed, game, ply) alone."""
    rng = np.random.default_rng([seed, game, ply])
    return rng.dirichlet(np.full(k, alpha)), float(rng.random())


def softmax_legal(logits: np.ndarray, legal: np.ndarray) -> np.ndarray:
    """[B, A] probabilities over the legal actions (0 elsewhere) from unmasked logits."""
    masked = np.where(legal, logits, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    if legal.any(axis=1).all():  # every row has a legal move (the search's case): no row to guard
        e = np.exp(masked - top)  # exp(-inf) is 0 where illegal
        probs: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return probs
    e = np.where(legal, np.exp(masked - np.where(np.isfinite(top), top, 0.0)), 0.0)
    total = e.sum(axis=1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


class NodeStore:
    """The position of every node, rows addressed by flat node id (one extra row: the sentinel).

    A position batch that is a dataclass of arrays (Hex, Connect Four) is kept field by field in
    preallocated arrays; any other (OpenSpiel's states) as one-row batches joined on the way out.
    """

    def __init__(self, game: Game, size: int) -> None:
        self.game = game
        sample = game.start(1)
        self.kind = type(sample)
        self.arrays: dict[str, np.ndarray] = {}
        self.scalars: dict[str, object] = {}
        self.rows: np.ndarray | None = None  # [S] object: one-row batches, when the positions are not arrays
        if dataclasses.is_dataclass(sample):
            for f in dataclasses.fields(sample):
                value = getattr(sample, f.name)
                if isinstance(value, np.ndarray) and len(value) == 1:
                    self.arrays[f.name] = np.repeat(value, size, axis=0)
                else:
                    self.scalars[f.name] = value
        else:
            self.rows = np.empty(size, object)
            self.rows[:] = [sample] * size

    def put(self, index: np.ndarray, batch: PositionBatch) -> None:
        if self.rows is not None:
            for i, j in enumerate(index.tolist()):
                self.rows[j] = batch.take(np.array([i]))
            return
        for name, array in self.arrays.items():
            array[index] = getattr(batch, name)

    def get(self, index: np.ndarray) -> PositionBatch:
        if self.rows is not None:
            return self.game.concat(list(self.rows[index]))
        return self.kind(**{name: a[index] for name, a in self.arrays.items()}, **self.scalars)

    def stones(self, index: np.ndarray) -> np.ndarray:
        """The `stones` of rows `index` (the network's compact input), without the other fields."""
        if "stones" in self.arrays:
            stones: np.ndarray = self.arrays["stones"][index]
            return stones
        return self.get(index).stones

    def move(self, dst: np.ndarray, src: np.ndarray) -> None:
        """Rows `dst` become copies of rows `src` (the forest's nodes moved in place)."""
        if self.rows is not None:
            self.rows[dst] = self.rows[src]
            return
        for array in self.arrays.values():
            array[dst] = array[src]


class Forest:
    """The PUCT trees of up to M games in flight, as arrays over flat node ids (see module doc).

    Row m of the forest is the m-th game of the roots `search` is given; `advance` follows the
    games that go on (and their chosen moves) to the next search.

    Args:
        game: the game the trees are of.
        config: the search's parameters (`leaves` resolved: a whole number).
        capacity: M, the most games searched at once.
        seed: the run's seed; with each game's id and ply it keys the game's noise.
    """

    def __init__(self, game: Game, config: MCTSConfig, capacity: int, *, seed: int = 0) -> None:
        self.game, self.config, self.seed = game, config, seed
        self.m, self.n, a = capacity, config.nodes, game.actions
        size = self.m * self.n + 1
        self.sentinel = size - 1  # an unexpanded edge points here: no visits, no value, never stored to
        self.visits = np.zeros(size)  # [S] float64: N, virtual visits included while a round is out
        self.net_value = np.zeros(size)  # [S] float64: the network's value, for the node's player to move
        self.tvalue = np.zeros(size)  # [S] float64: a terminal node's exact value, mover's view
        self.mover = np.zeros(size, np.int8)  # [S] the player whose move led here
        self.to_move = np.zeros(size, np.int8)  # [S]
        self.expanded = np.zeros(size, bool)  # [S] the node has its prior (it was evaluated)
        self.terminal = np.zeros(size, bool)  # [S]
        self.parent = np.full(size, self.sentinel, np.int64)  # [S]
        self.children = np.full((size, a), self.sentinel, np.int64)  # [S, A]
        self.prior = np.zeros((size, a))  # [S, A] float64
        self.cprior = np.zeros((size, a))  # [S, A] float64: c_puct * prior, the descent's factor (a product fewer per level)
        self.legal = np.zeros((size, a), bool)  # [S, A]
        self.edge_n = np.zeros((size, a))  # [S, A] float64: visits of each child (virtual ones included)
        self.edge_w = np.zeros((size, a))  # [S, A] float64: each child's values summed, the parent's view; -inf if illegal
        self.count = np.zeros(self.m, np.int64)  # [M] nodes used per tree
        self.stale = np.ones(self.m, bool)  # [M] the row's tree starts afresh at the next search
        self.store = NodeStore(game, size)
        self.chosen = np.zeros(0, np.int64)  # [m] flat id of each root's chosen child (last search)
        # The next move's noise, drawn a slice at a time during this move's rounds, so a move's end is
        # not one burst of a generator per game (the device would wait on it): (game, ply, k legal) ->
        # `noise_draws`. k is a guess (the most visited child's); a miss draws it at the move.
        self.noise_ahead: dict[tuple[int, int, int], tuple[np.ndarray, float]] = {}

    def _reset(self, rows: np.ndarray, positions: PositionBatch) -> None:
        root = rows * self.n
        self.store.put(root, positions)
        self.to_move[root] = positions.to_move
        self.mover[root] = 3 - positions.to_move
        self._edges(root, positions.legal())
        self.visits[root] = 0.0
        self.expanded[root] = self.terminal[root] = False
        self.children[root] = self.parent[root] = self.sentinel
        self.count[rows] = 1
        self.stale[rows] = False

    def _create(self, parent: np.ndarray, action: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """New nodes for the edges (parent, action) of trees `rows`; returns their flat ids."""
        idx: np.ndarray = rows * self.n + self.count[rows]
        self.count[rows] += 1
        position = self.store.get(parent).play(action)
        self.store.put(idx, position)
        self.children[parent, action] = idx
        self.children[idx] = self.sentinel
        self.parent[idx] = parent
        mover = self.to_move[parent]
        self.mover[idx], self.to_move[idx] = mover, position.to_move
        self.terminal[idx] = position.terminal
        self.tvalue[idx] = np.where(position.winner == mover, 1.0, np.where(position.winner == 0, 0.0, -1.0))
        self._edges(idx, position.legal())
        self.visits[idx] = 0.0
        self.expanded[idx] = False
        return idx

    def _edges(self, nodes: np.ndarray, legal: np.ndarray) -> None:
        """Fresh edges for `nodes`; an illegal edge's value is -inf, so selection never takes it."""
        self.legal[nodes] = legal
        self.edge_n[nodes] = 0.0
        self.edge_w[nodes] = np.where(legal, 0.0, -np.inf)

    def _request(self, level: int, nodes: np.ndarray, owner: np.ndarray, root_player: np.ndarray) -> EvalRequest:
        k = len(nodes)
        ones = np.ones(k, bool)
        return EvalRequest(
            level=level, stones=self.store.stones(nodes), to_move=self.to_move[nodes], want_policy=ones, want_value=ones,
            candidate=np.zeros(k, bool), leaf=ones if level else ~ones, owner=owner, actions=self.game.actions,
            root_player=root_player[owner],
        )

    def _expand(self, nodes: np.ndarray, ev: Evaluation) -> None:
        prior = softmax_legal(ev.logits, self.legal[nodes])
        self.prior[nodes] = prior
        self.cprior[nodes] = self.config.c_puct * prior
        self.net_value[nodes] = ev.values
        self.expanded[nodes] = True

    def _descend(
        self, root: np.ndarray, root_prior: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One descent in every tree, from the root to a new, pending or terminal node.

        Returns (leaf [m] flat ids, the path's trees [P], nodes [P] and flat edge ids [P], root excluded).
        Each level keeps the trees still going by one index (`np.take`); which of them stopped,
        where and on which new edge is read from the whole path once, after the loop.
        """
        c, a = self.config.c_puct, self.game.actions
        rows, node, cprior = np.arange(len(root)), root, c * root_prior
        path_rows, path_nodes, path_edges, path_stop = [], [], [], []
        children, edge_n, edge_w, visits, expanded = self.children.reshape(-1), self.edge_n, self.edge_w, self.visits, self.expanded
        while len(rows):
            n_kid = edge_n[node]  # [B, A]
            q = edge_w[node] / np.maximum(n_kid, 1.0)  # -inf where illegal
            u = cprior * np.sqrt(visits[node])[:, None] / (1.0 + n_kid)  # c * prior, as (c * prior) * sqrt(N) / (1 + n)
            edge = node * a + (q + u).argmax(axis=1)
            child = children[edge]
            stop = ~expanded[child]  # a new edge (the sentinel), a pending or a terminal node
            path_rows.append(rows)
            path_nodes.append(child)
            path_edges.append(edge)
            path_stop.append(stop)
            going = np.flatnonzero(~stop)
            rows, node = rows.take(going), child.take(going)
            cprior = self.cprior[node]
        path_rows_, path_nodes_, edges = np.concatenate(path_rows), np.concatenate(path_nodes), np.concatenate(path_edges)
        stopped = np.concatenate(path_stop)
        leaf = np.empty(len(root), np.int64)
        leaf[path_rows_[stopped]] = path_nodes_[stopped]
        new = np.flatnonzero(stopped & (path_nodes_ == self.sentinel))  # in level order, as the trees' rows within one
        if len(new):  # every tree's new leaf, created in one batch
            rows = path_rows_[new]
            leaf[rows] = self._create(edges[new] // a, edges[new] % a, rows)
            path_nodes_[new] = leaf[rows]
        return leaf, path_rows_, path_nodes_, edges

    def _leaf_value(self, leaf: np.ndarray) -> np.ndarray:
        """[K] each leaf's value from the view of the player who moved into it."""
        net = np.where(self.to_move[leaf] == self.mover[leaf], self.net_value[leaf], -self.net_value[leaf])
        value: np.ndarray = np.where(self.terminal[leaf], self.tvalue[leaf], net)
        return value

    def _round(self, root: np.ndarray, root_prior: np.ndarray, k: int) -> Generator[EvalRequest, Evaluation, None]:
        """k descents per tree, their new leaves evaluated in one request, then backed up."""
        descents = []
        virtual = k > 1
        edge_n, edge_w = self.edge_n.reshape(-1), self.edge_w.reshape(-1)
        for _ in range(k):
            leaf, rows, nodes, edges = self._descend(root, root_prior)
            if virtual:  # a visit that lost, until the real value comes back: the next descent looks elsewhere
                self.visits[root] += 1.0
                self.visits[nodes] += 1.0
                edge_n[edges] += 1.0
                edge_w[edges] -= 1.0
            descents.append((leaf, rows, nodes, edges))
        leaves = np.concatenate([d[0] for d in descents]) if virtual else descents[0][0]
        owners = np.tile(np.arange(len(root)), k)
        ask = np.flatnonzero(~(self.terminal[leaves] | self.expanded[leaves]))
        if virtual:  # a leaf two descents reached is asked for once (one descent per tree: leaves are distinct)
            ask = ask[~_repeated(leaves[ask])]
        if len(ask):
            ev = yield self._request(1, leaves[ask], owners[ask], self.to_move[root])
            self._expand(leaves[ask], ev)
        for leaf, rows, nodes, edges in descents:
            value = self._leaf_value(leaf)[rows]  # [P]: the leaf's value, mover's view
            value = np.where(self.mover[nodes] == self.mover[leaf][rows], value, -value)
            if virtual:
                edge_w[edges] += 1.0 + value
            else:
                self.visits[root] += 1.0
                self.visits[nodes] += 1.0
                edge_n[edges] += 1.0
                edge_w[edges] += value

    def search(
        self, roots: PositionBatch, *, games: list[int], plies: np.ndarray
    ) -> Generator[EvalRequest, Evaluation, list[MCTSResult]]:
        """Choose a move for each of m ≤ M unfinished roots (generator, as minimax's `search`).

        Row i is game `games[i]` at ply `plies[i]`; rows whose tree is not stale must hold the
        position `advance` left them at (the strategies' game loop keeps that order).
        """
        m = len(roots)
        if m == 0:
            return []
        if m > self.m:
            raise ValueError(f"{m} roots for a forest of {self.m} trees")
        fresh = np.flatnonzero(self.stale[:m])
        if len(fresh):
            self._reset(fresh, roots.take(fresh))
        root = np.arange(m) * self.n
        ask = np.flatnonzero(~self.expanded[root])
        if len(ask):
            ev = yield self._request(0, root[ask], ask, self.to_move[root])
            self._expand(root[ask], ev)
            self.visits[root[ask]] = 1.0  # the root's own evaluation is its first visit (as mctx)
        root_prior, draws = self._noisy_prior(root, games, plies)
        ahead = self._noise_ahead_of(games, plies)
        rounds = math.ceil(self.config.simulations / (self.config.leaves or 1))
        slices = min(rounds, NOISE_SLICES)
        done, r = 0, 0
        while done < self.config.simulations:
            k = min(self.config.leaves or 1, self.config.simulations - done)
            yield from self._round(root, root_prior, k)
            done, r = done + k, r + 1
            if r * slices // rounds > (r - 1) * slices // rounds:  # `slices` times over the move's rounds
                ahead = self._draw_ahead(ahead, root, math.ceil(m / slices))
        return self._choose(root, draws, sample=plies < self.config.temperature_plies)

    def _noisy_prior(self, root: np.ndarray, games: list[int], plies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[m, A] the roots' prior with Dirichlet noise mixed in, and [m] each move's sampling draw."""
        cfg = self.config
        prior = self.prior[root]
        draws = np.zeros(len(root))
        if not cfg.draws:
            return prior, draws
        noise = np.zeros_like(prior)
        legal = self.legal[root]
        counts = legal.sum(axis=1).tolist()
        drawn, self.noise_ahead = self.noise_ahead, {}
        for i, (game, ply, k) in enumerate(zip(games, plies.tolist(), counts, strict=True)):
            got = drawn.get((game, ply, k))
            vec, draws[i] = got if got is not None else noise_draws(self.seed, game, ply, k, cfg.dirichlet_alpha)
            noise[i, legal[i]] = vec
        if cfg.dirichlet_fraction == 0:
            return prior, draws
        return (1.0 - cfg.dirichlet_fraction) * prior + cfg.dirichlet_fraction * noise, draws

    def _noise_ahead_of(self, games: list[int], plies: np.ndarray) -> list[tuple[int, int, int]]:
        """The rows (row, game, next ply) whose next move's noise the rounds draw ahead (none without noise)."""
        if not self.config.draws:
            return []
        return list(zip(range(len(games)), games, (plies + 1).tolist(), strict=True))[::-1]  # popped from the end: row order

    def _draw_ahead(self, ahead: list[tuple[int, int, int]], root: np.ndarray, n: int) -> list[tuple[int, int, int]]:
        """Draw the next move's noise for n more rows, guessing its legal count from the most visited child."""
        take = [ahead.pop() for _ in range(min(n, len(ahead)))]
        if take:
            at = root[[row for row, _, _ in take]]
            child = self.children[at, self.edge_n[at].argmax(axis=1)]
            counts = self.legal[np.where(child == self.sentinel, at, child)].sum(axis=1).tolist()
            alpha = self.config.dirichlet_alpha
            for (_, game, ply), k in zip(take, counts, strict=True):
                self.noise_ahead[game, ply, k] = noise_draws(self.seed, game, ply, k, alpha)
        return ahead

    def _choose(self, root: np.ndarray, draws: np.ndarray, *, sample: np.ndarray) -> list[MCTSResult]:
        """The move by visit count: sampled in proportion where `sample`, else the most visited (lowest action on ties)."""
        m = len(root)
        kids = self.children[root]  # [m, A]
        visits = self.edge_n[root]  # [m, A]
        cum = np.cumsum(visits, axis=1)
        sampled = (cum <= (draws * cum[:, -1])[:, None]).sum(axis=1)  # the first action whose cumulative count passes the draw
        move = np.where(sample, sampled, visits.argmax(axis=1))
        self.chosen = kids[np.arange(m), move]
        q = np.where(visits > 0, self.edge_w[root] / np.maximum(visits, 1.0), np.nan)  # root player's view
        order = np.argsort(-visits, axis=1, kind="stable")  # most visited first, the lowest action on ties
        shown = (visits > 0).sum(axis=1).tolist()  # the visited actions lead `order`
        rank = (order == move[:, None]).argmax(axis=1).tolist()
        columns = zip(move.tolist(), self.net_value[root].tolist(), q[np.arange(m), move].tolist(), order.tolist(),
                      np.take_along_axis(q, order, axis=1).tolist(), shown, rank, visits.astype(np.int64).tolist(),
                      strict=True)
        return [
            MCTSResult(move=mv, root_value=value, minimax_value=mq, candidates=o[:n], policy_move_values=qo[:n],
                       chosen_rank=r, visits=v)
            for mv, value, mq, o, qo, n, r, v in columns
        ]

    def advance(self, keep: np.ndarray) -> None:
        """The games `keep` (rows of the last search, in order) go on: row i becomes game keep[i], its
        tree the chosen child's subtree (`reuse`), or a fresh one. Rows after them are free."""
        keep = np.asarray(keep, np.int64)
        self.stale[:] = True
        if not self.config.reuse or len(keep) == 0:
            return
        n = self.n
        new_root = self.chosen[keep] - keep * n  # [k] local ids
        local_parent = np.where(self.parent == self.sentinel, 0, self.parent % n)[: self.m * n].reshape(self.m, n)[keep]
        used = np.arange(n) < self.count[keep][:, None]  # [k, N]
        inside = np.zeros((len(keep), n), bool)
        inside[np.arange(len(keep)), new_root] = True
        for j in range(1, int(self.count[keep].max())):  # a parent is always created before its children
            inside[:, j] |= inside[np.arange(len(keep)), local_parent[:, j]] & used[:, j]
        size = inside.sum(axis=1)
        fits = size <= n - self.config.simulations - 1  # room for the next search, else the tree starts afresh
        order = np.argsort(~inside, axis=1, kind="stable")  # [k, N]: the subtree first, in creation order
        source = np.full(self.m * n + 1, self.sentinel, np.int64)
        ranks = np.arange(n)[None, :] < np.where(fits, size, 0)[:, None]
        src = np.where(ranks, keep[:, None] * n + order, self.sentinel)  # [k, N]
        source[: len(keep) * n] = src.reshape(-1)
        self._gather(source)
        self.count[: len(keep)] = np.where(fits, size, 0)
        self.stale[: len(keep)] = ~fits

    def _gather(self, source: np.ndarray) -> None:
        """Node i becomes node source[i] where that is not the sentinel; edges and parents follow.

        Only the moved nodes are copied: a node past its tree's count is never read before
        `_create` writes it, and a stale tree's root is rewritten by `_reset`."""
        dst = np.flatnonzero(source != self.sentinel)
        src = source[dst]
        new_id = np.full(len(source), self.sentinel, np.int64)
        new_id[src] = dst
        for name in ("visits", "edge_n", "edge_w", "net_value", "tvalue", "mover", "to_move", "expanded", "terminal", "prior", "cprior",
                     "legal"):
            array = getattr(self, name)
            array[dst] = array[src]
        self.children[dst] = new_id[self.children[src]]
        self.parent[dst] = new_id[self.parent[src]]
        self.store.move(dst, src)


def _repeated(x: np.ndarray) -> np.ndarray:
    """[K] bool: the value appeared earlier in `x`."""
    out = np.ones(len(x), bool)
    out[np.unique(x, return_index=True)[1]] = False
    return out
