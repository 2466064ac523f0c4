"""The searches perfkit writes itself, one registry line each; every strategy drives them the same way.

A search is a generator of `EvalRequest`s over all games in flight; a strategy decides how its
requests become network calls. Each strategy says which searches it serves (its `serves`, read
by `perfkit.strategies.serving`), so a new strategy is one module and one registry line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfkit.search.mcts import Forest, MCTSConfig, MCTSResult
from perfkit.search.minimax import SearchResult, gumbel_noise, search, top_k
from perfkit.types import PerfkitError, SearchConfig


@dataclass(frozen=True)
class SearchKind:
    """A search by name: its config type."""

    name: str
    config: type  # the frozen dataclass of its parameters
    in_process_only: bool  # crossgame's worker processes cannot play it
    about: str


SEARCHES: dict[str, SearchKind] = {
    "minimax": SearchKind("minimax", SearchConfig, False,
                          "the seed's policy-pruned minimax (SPEC §1.3), the reference workload's default"),
    "mcts": SearchKind("mcts", MCTSConfig, True,
                       "AlphaZero PUCT, the trees of all games in flight as arrays (crossgame in-process)"),
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
    raise PerfkitError(f"a search config is one of {', '.join(k.config.__name__ for k in SEARCHES.values())}, "
                       f"got {type(config).__name__}")


def config_for(config: Any, strategy: str, *, workers: int = 0) -> Any:
    """`config` as `strategy` plays it, or one line saying why it cannot (workers for an in-process search).

    Whether `strategy` serves the search at all is the strategy's to say (`perfkit.strategies.check_serves`).
    """
    kind = search_kind(config)
    if workers and kind.in_process_only:
        raise PerfkitError(f"{kind.name} keeps its trees in the process that plays the games: crossgame with workers 0")
    return config.for_strategy(strategy) if hasattr(config, "for_strategy") else config


__all__ = [
    "SEARCHES", "Forest", "MCTSConfig", "MCTSResult", "SearchKind", "SearchResult", "config_for",
    "get_search", "gumbel_noise", "search", "search_kind", "top_k",
]
