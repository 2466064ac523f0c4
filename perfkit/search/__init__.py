"""The searches perfkit writes itself, one registry line each; every strategy drives them the same way.

A search is a generator of `EvalRequest`s over all games in flight; a strategy decides how its
requests become network calls. Each strategy says whether it serves perfkit's searches and a
user's engine (its `serves`, read by `perfkit.strategies.serving`), and a search may narrow that
to the strategies it lists, so a new strategy or a new search is one module and one registry line.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from perfkit.search.mcts import Forest, MCTSConfig, MCTSResult
from perfkit.search.minimax import SearchResult, gumbel_noise, search, top_k
from perfkit.types import EvalRequest, Evaluation, Game, PerfkitError, PositionBatch, SearchConfig, Searcher


class Minimax:
    """The seed's minimax as a `Searcher`: stateless between moves; each noisy move's Gumbel draws
    keyed by (seed, game, ply), so every strategy consumes randomness identically."""

    def __init__(self, game: Game, config: SearchConfig, capacity: int, *, seed: int = 0) -> None:
        self.game, self.config, self.seed = game, config, seed

    def search(
        self, roots: PositionBatch, *, games: list[int], plies: np.ndarray
    ) -> Generator[EvalRequest, Evaluation, list[SearchResult]]:
        config, cells = self.config, self.game.actions
        noisy = (plies < config.temperature_plies) & (config.temperature > 0)  # [m]
        gumbel = np.zeros((len(roots), cells))  # [m, A]
        for i in np.flatnonzero(noisy):
            gumbel[i] = gumbel_noise(self.seed, games[i], int(plies[i]), cells)
        return search(roots, config=config, gumbel=gumbel, noisy=noisy)

    def advance(self, keep: np.ndarray) -> None:
        """Nothing is kept between moves."""


@dataclass(frozen=True)
class SearchKind:
    """A search by name: its config type."""

    name: str
    config: type  # the frozen dataclass of its parameters
    strategies: tuple[str, ...] | None  # the strategies it allows; None: every strategy that serves searches
    in_process_only: bool  # crossgame's worker processes cannot play it
    about: str
    make: Callable[..., Searcher]  # (game, config, capacity, *, seed) -> the search of `capacity` games in flight


SEARCHES: dict[str, SearchKind] = {
    "minimax": SearchKind("minimax", SearchConfig, None, False,
                          "the seed's policy-pruned minimax, the reference workload's default", Minimax),
    "mcts": SearchKind("mcts", MCTSConfig, None, True,
                       "AlphaZero PUCT, the trees of all games in flight as arrays (crossgame in-process)", Forest),
}


def get_search(name: str) -> SearchKind:
    """The search called `name`, or a PerfkitError naming the known ones."""
    if name not in SEARCHES:
        raise PerfkitError(f"unknown search {name!r}; choose one of: {', '.join(SEARCHES)}")
    return SEARCHES[name]


def search_kind(config: object) -> SearchKind:
    """The search a config belongs to."""
    for kind in SEARCHES.values():
        if isinstance(config, kind.config):
            return kind
    raise PerfkitError(f"search must be a perfkit.{' or '.join(k.config.__name__ for k in SEARCHES.values())}, "
                       f"got {type(config).__name__}")


def make_searcher(game: Game, config: Any, capacity: int, *, seed: int = 0) -> Searcher:
    """The search `config` belongs to, for `capacity` games of `game` in flight."""
    return search_kind(config).make(game, config, capacity, seed=seed)


def config_for(config: Any, strategy: str, *, workers: int = 0) -> Any:
    """`config` as `strategy` plays it, or one line saying why it cannot (workers for an in-process search).

    Whether `strategy` serves the search at all is the strategy's to say (`perfkit.strategies.check_serves`).
    """
    kind = search_kind(config)
    if workers and kind.in_process_only:
        raise PerfkitError(f"{kind.name} keeps its trees in the process that plays the games: drop --workers (crossgame plays it in this process)")
    return config.for_strategy(strategy) if hasattr(config, "for_strategy") else config


__all__ = [
    "SEARCHES", "Forest", "MCTSConfig", "MCTSResult", "Minimax", "SearchKind", "SearchResult", "config_for",
    "get_search", "gumbel_noise", "make_searcher", "search", "search_kind", "top_k",
]
