"""crossgame's options as one typed object, carried whole from the CLI, `BenchSettings`, tune and
selfplay to the strategy (`make_strategy("crossgame", options)`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from perfkit.strategies.crossgame import DEFAULT_CONCURRENCY, DEFAULT_MAX_BATCH, CrossGame
from perfkit.strategies.workers import DEFAULT_MAX_WAIT_S
from perfkit.types import PerfkitError


@dataclass(frozen=True)
class CrossGameOptions:
    """Every option of `CrossGame` (the same names, meanings and defaults; a test keeps them so).

    Args:
        concurrency: games in flight; a finished game is replaced by the next.
        max_batch: no call carries more positions than this (None: no limit).
        groups: games are split into this many groups, each searched in lockstep.
        inflight: network calls queued at once; 2 overlaps CPU work with the network.
        workers: 0 plays in this process; W ≥ 1 runs the games in W worker processes.
        max_wait_s: with workers, the longest the oldest waiting request is held for a fuller call.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    max_batch: int | None = DEFAULT_MAX_BATCH
    groups: int = 1
    inflight: int = 1
    workers: int = 0
    max_wait_s: float = DEFAULT_MAX_WAIT_S

    def __post_init__(self) -> None:
        self.strategy()  # checked once, by the strategy's own rules

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The options, in order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def given(cls, **values: Any) -> CrossGameOptions:
        """The options with `values` set; a value of None keeps its default (a flag not given)."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise PerfkitError(f"unknown crossgame option(s) {', '.join(unknown)}; choose from: {', '.join(cls.names())}")
        return cls(**{k: v for k, v in values.items() if v is not None})

    @classmethod
    def of(cls, strategy: CrossGame) -> CrossGameOptions:
        """The options a crossgame strategy plays with."""
        return cls(**{name: getattr(strategy, name) for name in cls.names()})

    def to_dict(self) -> dict:
        """Every option by name (what a run's manifest stores as its strategy settings)."""
        return {name: getattr(self, name) for name in self.names()}

    def strategy(self) -> CrossGame:
        """crossgame with these options, every one of them."""
        return CrossGame(**self.to_dict())
