"""What plays the games, built from settings: the same code in this process and in a Ray actor."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from perfkit.measure.bench import Workload
from perfkit.model.resilient import Resilient
from perfkit.selfplay.settings import SelfplaySettings
from perfkit.strategies import Engine, make_strategy
from perfkit.types import Evaluate, GameRecord

# Applied to the network's evaluate before the split-and-retry wrapper: a user's instrumentation,
# or a failing fake in the tests. Must be picklable (cloudpickle) for the Ray backend. What it
# wraps and returns alike: evaluate(stones [B, D] compact rows, to_move [B] int8, **call facts)
# -> (logits [B, A] float64, values [B] float64 for the player to move), as `Evaluator.__call__`.
WrapEvaluate = Callable[[Evaluate], Evaluate]


class Player:
    """A network on a device behind the split-and-retry wrapper, and the strategy that drives it.

    Args:
        settings: the run; its workload builds the network exactly as `bench` does.
        wrap_evaluate: see `WrapEvaluate`.
        on_failure: told `(batch_boards, exception)` for every failed network call.
    """

    def __init__(
        self,
        settings: SelfplaySettings,
        *,
        wrap_evaluate: WrapEvaluate | None = None,
        on_failure: Callable[[int, BaseException], None] | None = None,
    ) -> None:
        w = settings.workload
        workload = Workload.prepare(w)
        evaluate: Evaluate = workload.evaluator()
        if wrap_evaluate is not None:
            evaluate = wrap_evaluate(evaluate)
        self.resilient = Resilient(evaluate, retries=settings.retries, on_failure=on_failure)
        # The exact evaluation cache in front: a hit never reaches the network, or its failures.
        self.cached = workload.cached(self.resilient)
        self.engine = Engine(evaluate=self.cached, game=workload.game or w.make_game(), config=w.search, seed=w.seed)
        self.strategy = make_strategy(settings.strategy, w.crossgame_options())
        self.device = str(workload.device)

    def play(self, game_ids: Iterable[int]) -> Iterator[GameRecord]:
        """The games `game_ids`, each yielded as it ends (not in id order)."""
        return self.strategy.play(game_ids, self.engine)

    @property
    def stats(self) -> dict[str, int]:
        return {"forward_failures": self.resilient.failures, "batch_splits": self.resilient.splits}
