"""The strategies, interchangeable behind one interface and chosen by name."""

from __future__ import annotations

from typing import Any

from perfkit.strategies.base import (
    ANY_SEARCH,
    STRATEGIES,
    USER_ENGINE,
    Agent,
    Engine,
    EngineGames,
    Seats,
    Strategy,
    check_serves,
    play_games,
    register,
    serving,
)
from perfkit.strategies.crossgame import CrossGame, CrossGameOptions, EngineOptions
from perfkit.strategies.naive import Naive
from perfkit.strategies.permove import PerMove
from perfkit.types import PerfkitError

# A new strategy: its module, and one line here (or `register(MyStrategy)` anywhere before it is used).
register(Naive)
register(PerMove)
register(CrossGame)


def make_strategy(name: str, options: CrossGameOptions | None = None, **values: Any) -> Strategy:
    """The strategy called `name`, with `options` whole (or built from `values`: None keeps a
    default). Options apply to crossgame only: naive and permove play one game at a time by
    definition."""
    if name not in STRATEGIES:
        raise PerfkitError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}, all")
    if options is not None and values:
        raise PerfkitError("pass crossgame's options as one CrossGameOptions or as keywords, not both")
    if options is not None and not isinstance(options, CrossGameOptions):
        raise PerfkitError(f"options must be a perfkit CrossGameOptions, got {type(options).__name__}")
    if name == "crossgame":
        return (options if options is not None else CrossGameOptions.given(**values)).strategy()
    strategy: Strategy = STRATEGIES[name]()
    return strategy


__all__ = [
    "ANY_SEARCH", "STRATEGIES", "USER_ENGINE", "Agent", "CrossGame", "CrossGameOptions", "Engine", "EngineGames", "EngineOptions", "Naive",
    "PerMove", "Seats", "Strategy", "check_serves", "make_strategy", "play_games", "register", "serving",
]
