"""The strategies, interchangeable behind one interface and chosen by name."""

from __future__ import annotations

from typing import Any

from perfkit.strategies.base import Engine, Strategy, play_games
from perfkit.strategies.crossgame import CrossGame
from perfkit.strategies.naive import Naive
from perfkit.strategies.permove import PerMove
from perfkit.types import PerfkitError

STRATEGIES: dict[str, type] = {"naive": Naive, "permove": PerMove, "crossgame": CrossGame}


def make_strategy(name: str, **options: Any) -> Strategy:
    """The strategy called `name`; options (concurrency, max_batch, groups, inflight,
    workers, max_wait_s) set to None keep their defaults, and apply to crossgame only
    (naive and permove play one game at a time by definition)."""
    if name not in STRATEGIES:
        raise PerfkitError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}, all")
    if name == "crossgame":
        return CrossGame(**{k: v for k, v in options.items() if v is not None})
    return STRATEGIES[name]()


__all__ = ["STRATEGIES", "CrossGame", "Engine", "Naive", "PerMove", "Strategy", "make_strategy", "play_games"]
