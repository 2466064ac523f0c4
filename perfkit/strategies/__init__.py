"""The strategies, interchangeable behind one interface and chosen by name."""

from __future__ import annotations

from perfkit.strategies.base import Engine, Strategy, play_games
from perfkit.strategies.crossgame import CrossGame
from perfkit.strategies.naive import Naive
from perfkit.strategies.permove import PerMove
from perfkit.types import PerfkitError

STRATEGIES: dict[str, type] = {"naive": Naive, "permove": PerMove, "crossgame": CrossGame}


def make_strategy(name: str, *, concurrency: int | None = None, max_batch: int | None = None) -> Strategy:
    """The strategy called `name`; `concurrency` and `max_batch` apply to crossgame only."""
    if name not in STRATEGIES:
        raise PerfkitError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}, all")
    if name == "crossgame":
        opts = {"max_batch": max_batch}
        if concurrency is not None:
            opts["concurrency"] = concurrency
        return CrossGame(**opts)
    return STRATEGIES[name]()


__all__ = ["STRATEGIES", "CrossGame", "Engine", "Naive", "PerMove", "Strategy", "make_strategy", "play_games"]
