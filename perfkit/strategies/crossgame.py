"""`crossgame`: G games in flight; each call carries one search level of all of them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from perfkit.strategies.base import Engine, batched, play_games
from perfkit.types import GameRecord, PerfkitError

DEFAULT_CONCURRENCY = 64


@dataclass(frozen=True)
class CrossGame:
    """Cross-game batching (the seed's phase 2): batches of ~G×{1, 5, 9, 27}.

    Args:
        concurrency: games in flight; a finished game is replaced by the next.
        max_batch: larger calls are split into calls of at most this many positions.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    max_batch: int | None = None

    name = "crossgame"

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise PerfkitError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.max_batch is not None and self.max_batch < 1:
            raise PerfkitError(f"max batch must be >= 1, got {self.max_batch}")

    def play(self, game_ids: Iterable[int], engine: Engine) -> Iterator[GameRecord]:
        return play_games(
            game_ids, engine=engine, concurrency=self.concurrency, schedule=batched(self.max_batch)
        )

    def settings(self) -> dict:
        return {"concurrency": self.concurrency, "max_batch": self.max_batch}
