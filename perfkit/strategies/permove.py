"""`permove`: one game at a time, each search level evaluated in one call (1, 5, 9, 27)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from perfkit.strategies.base import ANY_SEARCH, Agent, batched, for_strategy, play_games
from perfkit.types import GameRecord


@dataclass(frozen=True)
class PerMove:
    """Per-move batching: the floor is one call per tree level, not the seed's 2 per move (minimax);
    K leaves of the game's tree per call (mcts)."""

    name = "permove"
    serves: ClassVar[tuple[str, ...]] = (ANY_SEARCH,)  # not a user's engine: it asks one position at a time, never a tree level

    def play(self, game_ids: Iterable[int], engine: Agent) -> Iterator[GameRecord]:
        return play_games(game_ids, engine=for_strategy(engine, self.name), concurrency=1, schedule=batched())

    def settings(self) -> dict[str, Any]:
        return {"concurrency": 1, "max_batch": None}
