"""A toy search, added to perfkit by this module and one registry line (tests/test_toy_search.py).

One-ply greedy: each move evaluates the position to move once and plays its best legal move by
policy (ties: the lower action). It keeps nothing between moves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from perfkit.search import SearchResult
from perfkit.types import EvalRequest, Evaluation, Game, PositionBatch


@dataclass(frozen=True)
class GreedyConfig:
    """The greedy search has no parameters; its config names it."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Greedy:
    """The `Searcher` of `GreedyConfig` (perfkit.types.Searcher)."""

    def __init__(self, game: Game, config: GreedyConfig, capacity: int, *, seed: int = 0) -> None:
        self.game = game

    def search(
        self, roots: PositionBatch, *, games: list[int], plies: np.ndarray
    ) -> Generator[EvalRequest, Evaluation, list[SearchResult]]:
        m = len(roots)
        yes, no = np.ones(m, bool), np.zeros(m, bool)
        ev = yield EvalRequest(
            level=0, stones=roots.stones, to_move=roots.to_move, want_policy=yes, want_value=yes, candidate=no,
            leaf=no, owner=np.arange(m), actions=self.game.actions, root_player=roots.to_move,
        )
        logits = np.where(roots.legal(), ev.logits, -np.inf)  # [m, A]
        moves = logits.argmax(axis=1)  # the first of equal maxima: the lower action
        return [
            SearchResult(move=int(a), root_value=float(v), minimax_value=float(v), candidates=[int(a)],
                         policy_move_values=[float(v)], chosen_rank=0)
            for a, v in zip(moves, ev.values, strict=True)
        ]

    def advance(self, keep: np.ndarray) -> None:
        """Nothing is kept between moves."""
