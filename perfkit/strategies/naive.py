"""`naive`: the seed's current flow, one network call per node and purpose, leaves batched."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from perfkit.strategies.base import (
    ANY_SEARCH,
    USER_ENGINE,
    Agent,
    EngineGames,
    Tally,
    batched,
    call,
    for_strategy,
    play_games,
)
from perfkit.types import EvalRequest, Evaluate, Evaluation, GameRecord, SearchConfig


def one_call_per_node(req: EvalRequest, evaluate: Evaluate, tally: Tally) -> Evaluation:
    """The seed's calls: root (1), each candidate's value (1 each), each tree node's policy
    (1 each, again for candidates that are also tree nodes), then each move's leaves at once."""
    logits = np.zeros((len(req), req.actions))
    values = np.zeros(len(req))
    for r in range(len(req)) if req.level == 0 else ():
        logits[[r]], values[[r]] = call(evaluate, req, np.array([r]), tally)
    for r in np.flatnonzero(req.candidate).tolist():
        _, values[[r]] = call(evaluate, req, np.array([r]), tally, policy=False)
    for r in np.flatnonzero(req.want_policy & (req.level > 0)).tolist():
        logits[[r]], _ = call(evaluate, req, np.array([r]), tally, value=False)
    leaves = np.flatnonzero(req.leaf)
    for owner in np.unique(req.owner[leaves]):
        rows = leaves[req.owner[leaves] == owner]
        _, values[rows] = call(evaluate, req, rows, tally, policy=False)
    return Evaluation(logits, values)


@dataclass(frozen=True)
class Naive:
    """One game at a time; 18 single-board calls + 1 leaf batch per mid-game move (minimax), one
    call per leaf (mcts)."""

    name = "naive"
    serves: ClassVar[tuple[str, ...]] = (ANY_SEARCH, USER_ENGINE)

    def play(self, game_ids: Iterable[int], engine: Agent) -> Iterator[GameRecord]:
        engine = for_strategy(engine, self.name)
        schedule = one_call_per_node if isinstance(engine.config, SearchConfig) else batched(1)
        return play_games(game_ids, engine=engine, concurrency=1, schedule=schedule)

    def settings(self) -> dict[str, Any]:
        return {"concurrency": 1, "max_batch": None}

    def play_engine(self, games: EngineGames) -> dict[str, Any]:
        """A user's engine: one game at a time, each evaluation one call of one position."""
        games.run([lambda: games.play_all(games.predict_one)])
        return {}

    def engine_settings(self, games: EngineGames) -> dict[str, Any]:
        """What a user's engine run says it played with (its manifest's strategy settings)."""
        return {"concurrency": 1, "max_batch": 1, "max_wait_s": None, "workers": 0, "scheduler": None}
