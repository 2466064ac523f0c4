"""What a self-play run is: the workload that determines its games, and how they are produced."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from typing import Any

from perfkit.measure.bench import BenchSettings
from perfkit.model.resilient import DEFAULT_RETRIES
from perfkit.selfplay.store import BUILTIN_ENGINE, file_sha256
from perfkit.strategies import STRATEGIES
from perfkit.strategies.crossgame import DEFAULT_CONCURRENCY
from perfkit.types import PerfkitError

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class SelfplaySettings:
    """A durable self-play run (`perfkit selfplay`).

    `workload.games` is N, the number of games DIR should end up with: ids 0..N-1, game i
    depending only on (seed, i). Only `identity()` fixes the games; everything else here may
    change between the sessions of one run (see `perfkit.selfplay` for why).
    """

    workload: BenchSettings  # network, search, seed, precision, device, concurrency; games = N
    strategy: str = "crossgame"  # naive, permove or crossgame: the same games (SPEC §1.4)
    shard_games: int = 1024  # write a shard once this many games are finished...
    flush_s: float = 60.0  # ...or once this long has passed since the last one: a kill loses less
    retries: int = DEFAULT_RETRIES  # further attempts on a single board whose forward fails
    backend: str = "local"  # local: this process; ray: actors on a Ray cluster
    ray_workers: int | None = None  # ray: actors (None: one per GPU of the cluster, else one per CPU)
    chunk_games: int | None = None  # ray: game ids handed to an actor at once (None: 4 × concurrency)
    ray_address: str | None = None  # ray: cluster to join (None: join RAY_ADDRESS or start a local one)

    def __post_init__(self) -> None:
        if not isinstance(self.workload, BenchSettings):
            raise PerfkitError(f"workload must be a perfkit.BenchSettings, got {type(self.workload).__name__}")
        for name in ("shard_games", "retries", "ray_workers", "chunk_games"):
            value = getattr(self, name)
            if value is None and name in ("ray_workers", "chunk_games"):
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise PerfkitError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
        if isinstance(self.flush_s, bool) or not isinstance(self.flush_s, (int, float)):
            raise PerfkitError(f"flush_s must be a number of seconds, got {self.flush_s!r}")
        if not isinstance(self.strategy, str) or self.strategy not in STRATEGIES:
            raise PerfkitError(f"unknown strategy {self.strategy!r}; choose one of: {', '.join(STRATEGIES)}")
        if not isinstance(self.backend, str) or self.backend not in BACKENDS:
            raise PerfkitError(f"unknown backend {self.backend!r}; choose one of: {', '.join(BACKENDS)}")
        if self.shard_games < 1:
            raise PerfkitError(f"shard games must be >= 1, got {self.shard_games}")
        if not self.flush_s > 0:
            raise PerfkitError(f"flush interval must be > 0 seconds, got {self.flush_s}")
        if self.retries < 0:
            raise PerfkitError(f"retries must be >= 0, got {self.retries}")
        for name in ("ray_workers", "chunk_games"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise PerfkitError(f"{name.replace('_', ' ')} must be >= 1, got {value}")
        if self.backend == "ray" and self.workload.workers:
            raise PerfkitError(
                "--workers means worker processes (as in bench) and is not used inside Ray actors; "
                "for the number of Ray actors use --ray-workers"
            )

    @property
    def games(self) -> int:
        return self.workload.games

    @property
    def concurrency(self) -> int:
        if self.strategy != "crossgame":
            return 1
        return self.workload.concurrency or DEFAULT_CONCURRENCY

    @property
    def chunk(self) -> int:
        return self.chunk_games or max(16, 4 * self.concurrency)

    def identity(self) -> dict[str, Any]:
        """Everything that determines the games; a DIR made with another identity is refused.

        Strategy, concurrency, max batch, device and backend are not in it: in float64 on the
        CPU they provably do not change a game (SPEC §1.4, tested), and in float32 they only move
        values in their last bits, as any change of batch size does, so a long run may move to
        other hardware or settings half-way. Each shard records what produced it.
        """
        w, net = self.workload, self.workload.network
        checkpoint = None
        if w.checkpoint:
            if not os.path.isfile(w.checkpoint):
                raise PerfkitError(f"checkpoint {w.checkpoint} not found")
            checkpoint = file_sha256(w.checkpoint)
        ident = {
            "game": w.game,  # a Hex DIR must not grow Connect Four games (issue 22)
            "engine": BUILTIN_ENGINE,
            "preset": w.preset,
            "board": net.board,
            "blocks": net.blocks,
            "channels": net.channels,
            "seed": w.seed,
            "precision": w.precision,
            "search": w.search.to_dict(),
            "checkpoint_sha256": checkpoint,
        }
        doc: dict[str, Any] = json.loads(json.dumps(ident))  # tuples become lists, as they are read back
        return doc

    def produced_by(self) -> dict[str, Any]:
        """How this session produces games: stored in settings.json (first session) and every shard."""
        w = self.workload
        return {
            "strategy": self.strategy,
            "concurrency": self.concurrency,
            "max_batch": w.max_batch,
            "groups": w.groups,
            "inflight": w.inflight,
            "workers": w.workers,
            "max_wait_s": w.max_wait_s,
            "device": w.device,
            "backend": self.backend,
            "ray_workers": self.ray_workers,
            "checkpoint": w.checkpoint,
        }

    def replace(self, **changes: Any) -> SelfplaySettings:
        return dataclasses.replace(self, **changes)
