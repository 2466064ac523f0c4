"""What every strategy shares: the engine it drives, the game loop, and call accounting.

A strategy is a game loop (how many games advance together) plus a schedule (how one
search level's `EvalRequest` becomes network calls). The search itself lives in
`perfkit.search` and is the same for all of them.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from perfkit.game.hex import Positions, play
from perfkit.search.minimax import gumbel_noise, search
from perfkit.types import EvalRequest, Evaluation, GameRecord, MoveRecord, SearchConfig

# (stones, to_move, *, n_policy, n_value, level) -> (logits, values): an Evaluator.
Evaluate = Callable[..., tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Engine:
    """What plays a game: the network behind `evaluate`, the board size, the search, the seed."""

    evaluate: Evaluate
    n: int
    config: SearchConfig
    seed: int = 0


class Tally:
    """Network calls and boards attributed to each root of one search step.

    A call shared by several games counts for each game in proportion to its boards.
    """

    def __init__(self, m: int) -> None:
        self.calls = np.zeros(m)  # [M] float
        self.boards = np.zeros(m, np.int64)  # [M]


def call(
    evaluate: Evaluate,
    req: EvalRequest,
    rows: np.ndarray,
    tally: Tally,
    *,
    policy: bool = True,
    value: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate `rows` of `req` in one network call and attribute it to their roots."""
    owners = req.owner[rows]
    np.add.at(tally.calls, owners, 1.0 / len(rows))
    np.add.at(tally.boards, owners, 1)
    return evaluate(
        req.stones[rows],
        req.to_move[rows],
        n_policy=int(req.want_policy[rows].sum()) if policy else 0,
        n_value=int(req.want_value[rows].sum()) if value else 0,
        level=req.level,
    )


Schedule = Callable[[EvalRequest, Evaluate, Tally], Evaluation]


def batched(max_batch: int | None = None) -> Schedule:
    """One call per search level, split into calls of at most `max_batch` positions."""

    def schedule(req: EvalRequest, evaluate: Evaluate, tally: Tally) -> Evaluation:
        k = len(req)
        step = max_batch or k
        logits, values = [], []
        for lo in range(0, k, step):
            lg, vl = call(evaluate, req, np.arange(lo, min(k, lo + step)), tally)
            logits.append(lg)
            values.append(vl)
        return Evaluation(np.concatenate(logits), np.concatenate(values))

    return schedule


class Strategy(Protocol):
    """Plays games with an engine; every strategy yields identical GameRecords."""

    name: str

    def play(self, game_ids: Iterable[int], engine: Engine) -> Iterator[GameRecord]: ...

    def settings(self) -> dict: ...


def play_games(
    game_ids: Iterable[int], *, engine: Engine, concurrency: int, schedule: Schedule
) -> Iterator[GameRecord]:
    """Play `game_ids` with up to `concurrency` games in flight, yielding each as it ends.

    All games in flight make their move in one search; a finished game is replaced by the
    next id. A game's moves depend only on (seed, game id), never on its neighbours.
    """
    n, config = engine.n, engine.config
    cells = n * n
    pending = deque(game_ids)
    games: list[GameRecord] = []
    positions = Positions.empty(n, 0)
    noise_on = config.temperature > 0 and config.temperature_plies > 0

    while True:
        fresh = min(concurrency - len(games), len(pending))
        if fresh > 0:
            now = time.time()
            games += [GameRecord(game=pending.popleft(), winner=0, start_s=now) for _ in range(fresh)]
            positions = Positions.concat([positions, Positions.empty(n, fresh)], n)
        if not games:
            return
        m = len(games)
        plies = np.array([len(g.moves) for g in games])
        noisy = (plies < config.temperature_plies) & noise_on
        gumbel = np.zeros((m, cells))
        for i in np.flatnonzero(noisy):
            gumbel[i] = gumbel_noise(engine.seed, games[i].game, int(plies[i]), cells)

        tally = Tally(m)
        steps = search(positions, config=config, gumbel=gumbel, noisy=noisy)
        req = next(steps)
        while True:
            try:
                req = steps.send(schedule(req, engine.evaluate, tally))
            except StopIteration as done:
                results = done.value
                break

        moves = np.array([r.move for r in results])
        after = play(positions, moves)
        now = time.time()
        for i, (g, r) in enumerate(zip(games, results)):
            g.moves.append(
                MoveRecord(
                    game=g.game, ply=int(plies[i]), player=int(positions.to_move[i]), move=r.move,
                    root_value=r.root_value, minimax_value=r.minimax_value,
                    candidates=r.candidates, policy_move_values=r.policy_move_values,
                    chosen_rank=r.chosen_rank, calls=float(tally.calls[i]),
                    boards=int(tally.boards[i]),
                )
            )
        done_mask = after.terminal
        for i in np.flatnonzero(done_mask):
            games[i].winner = int(after.winner[i])
            games[i].end_s = now
            yield games[i]
        keep = np.flatnonzero(~done_mask)
        games = [games[i] for i in keep]
        positions = after.take(keep)
