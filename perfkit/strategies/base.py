"""What every strategy shares: the engine it drives, the game loop, and call accounting.

A strategy is a game loop (how many games advance together) plus a schedule (how one
search level's `EvalRequest` becomes network calls). The search itself lives in
`perfkit.search` and is the same for all of them.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from perfkit.batching.queue import Rows, gather
from perfkit.game import get_game
from perfkit.search import SEARCHES, config_for, make_searcher, search_kind
from perfkit.search.mcts import MCTSConfig
from perfkit.types import (
    DEFAULT_GAME,
    EvalRequest,
    Evaluate,
    Evaluation,
    Game,
    GameRecord,
    MoveRecord,
    PerfkitError,
    SearchConfig,
)


@dataclass(frozen=True)
class Agent:
    """What plays a game with perfkit's own search: the network behind `evaluate`, the game, the
    search, the seed. (A *user's engine* is another thing: a search perfkit did not write,
    `perfkit.search.engines`.) `Engine` is this class's former name, kept as an alias.

    `game` is a perfkit `Game`, or an int N: the presets' game on an N×N board (Hex).
    """

    evaluate: Evaluate
    game: Game  # an int N given here becomes the presets' game on an N×N board (Hex)
    config: SearchConfig | MCTSConfig  # the search: minimax (the seed's) or mcts
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.game, int):
            object.__setattr__(self, "game", get_game(DEFAULT_GAME, board=self.game))


USER_ENGINE = "engine"  # the search of a user's unmodified engine (perfkit.search.engines): one position per request
ANY_SEARCH = "any search"  # in a strategy's `serves`: every search in perfkit.search.SEARCHES

# The registry: name -> strategy class, in the order `--strategy all` plays them (`register`).
STRATEGIES: dict[str, type[Any]] = {}


def register(strategy: type[Any]) -> type[Any]:
    """Add a strategy class to the registry under its `name`; its `serves` names the searches it plays."""
    STRATEGIES[strategy.name] = strategy
    return strategy


def serves(name: str, search: str) -> bool:
    """Whether strategy `name` plays `search`: its `serves` names the search (or ANY_SEARCH, for
    every search perfkit registers) and the search, where it lists strategies, lists it."""
    cls = STRATEGIES[name]
    if search == USER_ENGINE:
        return USER_ENGINE in cls.serves
    kind = SEARCHES.get(search)
    if kind is not None and kind.strategies is not None and name not in kind.strategies:
        return False
    return search in cls.serves or (kind is not None and ANY_SEARCH in cls.serves)


def serving(search: str) -> list[str]:
    """The registered strategies that serve `search` (a registered search's name, or USER_ENGINE)."""
    return [name for name in STRATEGIES if serves(name, search)]


def check_serves(strategy: str, search: str) -> None:
    """One line refusing `strategy` where it does not serve `search` (permove for a user's engine)."""
    if strategy in STRATEGIES and not serves(strategy, search):
        raise PerfkitError(f"{search} is served by {', '.join(serving(search))}; not by {strategy}")


Engine = Agent  # the former name: perfkit.Engine and perfkit.strategies.Engine still import


def for_strategy(engine: Agent, strategy: str, *, workers: int = 0) -> Agent:
    """The engine with its search set up as `strategy` plays it (one line where it cannot)."""
    check_serves(strategy, search_kind(engine.config).name)
    config = config_for(engine.config, strategy, workers=workers)
    return engine if config is engine.config else dataclasses.replace(engine, config=config)


class Seats:
    """An evaluate that answers each row with the network of the side to move at the row's root.

    Two networks play each other (a head-to-head, `perfkit.analysis.headtohead`) through the
    strategies' own game loop: a move's whole search, root to leaves, is run on the network of
    the player choosing the move, whichever side is to move in the tree's positions. The rows
    of one call are split by their root's player (`EvalRequest.root_player`) into one call per
    network, so crossgame still batches each network across games. In-process only: worker
    processes do not send root players. A cache goes inside, one per network, never around it.

    Args:
        by_player: player (1, 2) -> the evaluate that searches that player's moves.
    """

    def __init__(self, by_player: dict[int, Evaluate]) -> None:
        self.by_player = dict(by_player)

    def __call__(
        self, stones: np.ndarray, to_move: np.ndarray, *, root_player: np.ndarray | None = None, **extra: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        if root_player is None:
            raise PerfkitError("two networks at one board need each position's root player: play in-process "
                               "(naive, permove, or crossgame without workers)")
        unseated = sorted(set(np.unique(root_player).tolist()) - set(self.by_player))
        if unseated:
            raise PerfkitError(f"no network plays player {unseated[0]}; seated: {sorted(self.by_player)}")
        extra.pop("n_policy", None), extra.pop("n_value", None)  # counts of the whole call, not of each part
        logits: np.ndarray | None = None
        values = np.empty(len(to_move))
        for player, evaluate in self.by_player.items():
            rows = np.flatnonzero(root_player == player)
            if len(rows) == 0:
                continue
            lg, vl = evaluate(stones[rows], to_move[rows], **extra)
            if logits is None:
                logits = np.empty((len(to_move), np.shape(lg)[1]))
            logits[rows], values[rows] = lg, vl
        assert logits is not None  # root_player is never empty: a call has rows
        return logits, values


class Tally:
    """Network calls and boards attributed to each root of one search step.

    A call shared by several games counts for each game in proportion to its boards.
    """

    def __init__(self, m: int) -> None:
        self.calls = np.zeros(m)  # [M] float
        self.boards = np.zeros(m, np.int64)  # [M]


Part = tuple[EvalRequest, Rows, Tally]  # rows of one request, and whose tally they count in


def batch_of(
    parts: list[Part], *, policy: bool = True, value: bool = True, seated: bool = False
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """One network call's input from rows of one or more requests, and attribute the call.

    A call shared by several roots counts for each in proportion to its boards.
    Returns (stones [B, N*N], to_move [B], keyword arguments for the evaluator). `seated`: the
    evaluator is a `Seats`, which also takes each row's root player.
    """
    rows_of = [(req, rows) for req, rows, _ in parts]
    stones = gather(rows_of, lambda req: req.stones)
    size = len(stones)
    for req, rows, tally in parts:
        owners = req.owner[rows]
        np.add.at(tally.calls, owners, 1.0 / size)
        np.add.at(tally.boards, owners, 1)
    levels = {req.level for req, _, _ in parts}
    kwargs: dict[str, Any] = {
        "n_policy": sum(int(req.want_policy[rows].sum()) for req, rows, _ in parts) if policy else 0,
        "n_value": sum(int(req.want_value[rows].sum()) for req, rows, _ in parts) if value else 0,
        "level": levels.pop() if len(levels) == 1 else -1,
    }
    if seated:
        kwargs["root_player"] = gather(rows_of, _root_player)
    return stones, gather(rows_of, lambda req: req.to_move), kwargs


def _root_player(req: EvalRequest) -> np.ndarray:
    if req.root_player is None:
        raise PerfkitError("this search request does not say whose search it is (root_player); two networks cannot share it")
    return req.root_player


def call(
    evaluate: Evaluate, req: EvalRequest, rows: np.ndarray, tally: Tally, *, policy: bool = True, value: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate `rows` of `req` in one network call and attribute it to their roots."""
    seated = isinstance(evaluate, Seats)
    stones, to_move, kwargs = batch_of([(req, rows, tally)], policy=policy, value=value, seated=seated)
    return evaluate(stones, to_move, **kwargs)


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


class EngineGames(Protocol):
    """A user's engine's games, as `perfkit.search.engines` hands them to a strategy: each game asks
    `predict(obs [*obs_shape]) -> (logits [A], value)`, one position at a time."""

    obs_shape: tuple[int, ...]
    games: int  # how many games the run plays
    scheduler: str  # how its games take turns in a batch server: "threads" or "greenlet"
    forward: Callable[..., tuple[np.ndarray, np.ndarray]]  # (planes [B, *obs_shape], *, owners, queue_wait_s)
    lookup: Callable[..., Any] | None  # the cache's: a wholly cached request answered on arrival
    owner_of: Callable[[], Any]  # the move asking, called in the asking thread

    def predict_one(self, obs: np.ndarray) -> tuple[np.ndarray, float]:
        """One position straight to the network (through the cache), checked as a server checks it."""
        ...

    def play_all(self, predict: Callable[[np.ndarray], tuple[np.ndarray, float]]) -> None:
        """Play games, each asking `predict`, until none is left."""
        ...

    def run(self, targets: list[Callable[[], None]]) -> None:
        """Each target in a thread of its own, all waited for (under the run's game timeout)."""
        ...

    def in_workers(self, server: Any) -> dict[str, Any]:
        """The games in worker processes, their evaluations through `server` (a BatchServer)."""
        ...


class Strategy(Protocol):
    """Plays games with an engine; every strategy yields identical GameRecords."""

    name: str
    serves: ClassVar[tuple[str, ...]]  # the searches it plays: ANY_SEARCH, a search's name, USER_ENGINE

    def play(self, game_ids: Iterable[int], engine: Agent) -> Iterator[GameRecord]: ...

    def settings(self) -> dict[str, Any]: ...


class GameSlots:
    """The games one search advances together: their positions, records and call tallies.

    Game ids come from `source(k)`, which hands out at most k ids not yet played (a shared
    queue); a finished game is replaced by the next id, up to `capacity` games in flight.
    """

    def __init__(self, engine: Agent, source: Callable[[int], list[int]], capacity: int) -> None:
        self.engine, self.source, self.capacity = engine, source, capacity
        self.games: list[GameRecord] = []
        self.positions = engine.game.start(0)
        self.tally = Tally(0)
        self.plies = np.zeros(0, np.int64)
        self.searcher = make_searcher(engine.game, engine.config, capacity, seed=engine.seed)  # mcts: keeps its trees

    def begin(self) -> Generator[EvalRequest, Evaluation, list[Any]] | None:
        """Refill, then the search for every game's next move (None when nothing is left)."""
        game = self.engine.game
        fresh = self.source(self.capacity - len(self.games)) if len(self.games) < self.capacity else []
        if fresh:
            now = time.time()
            self.games += [GameRecord(game=g, winner=0, start_s=now) for g in fresh]
            self.positions = game.concat([self.positions, game.start(len(fresh))])
        m = len(self.games)
        if m == 0:
            return None
        self.plies = np.array([len(g.moves) for g in self.games])
        self.tally = Tally(m)
        searched: Generator[EvalRequest, Evaluation, list[Any]] = self.searcher.search(
            self.positions, games=[g.game for g in self.games], plies=self.plies
        )
        return searched

    def end(self, results: list[Any]) -> list[GameRecord]:
        """Play the searched moves; returns the games that ended."""
        before, tally = self.positions, self.tally
        after = before.play(np.array([r.move for r in results]))
        columns = zip(self.games, results, self.plies.tolist(), before.to_move.tolist(), tally.calls.tolist(),
                      tally.boards.tolist(), strict=True)
        for g, r, ply, player, calls, boards in columns:
            g.moves.append(
                MoveRecord(
                    game=g.game, ply=ply, player=player, move=r.move,
                    root_value=r.root_value, minimax_value=r.minimax_value,
                    candidates=r.candidates, policy_move_values=r.policy_move_values,
                    chosen_rank=r.chosen_rank, calls=calls, boards=boards,
                    visits=getattr(r, "visits", []),
                )
            )
        now = time.time()
        ended = after.terminal  # a draw ends a game with winner 0
        finished = []
        for i in np.flatnonzero(ended).tolist():
            self.games[i].winner = int(after.winner[i])
            self.games[i].end_s = now
            finished.append(self.games[i])
        keep = np.flatnonzero(~ended)
        self.searcher.advance(keep)
        self.games = [self.games[i] for i in keep]
        self.positions = after.take(keep)
        return finished


def take_from(game_ids: Iterable[int]) -> Callable[[int], list[int]]:
    """A game-id source over any iterable (lazily: a huge range costs nothing)."""
    ids = iter(game_ids)
    return lambda k: list(itertools.islice(ids, k))


def drive(
    steps: Generator[EvalRequest, Evaluation, list[Any]], answer: Callable[[EvalRequest], Evaluation]
) -> list[Any]:
    """Run a search generator to the end, answering each request; returns its results."""
    try:
        req = next(steps)
    except StopIteration as done:  # mcts: every leaf was terminal, nothing for the network
        return list(done.value)
    while True:
        try:
            req = steps.send(answer(req))
        except StopIteration as done:
            return list(done.value)


def play_games(
    game_ids: Iterable[int], *, engine: Agent, concurrency: int, schedule: Schedule
) -> Iterator[GameRecord]:
    """Play `game_ids` with up to `concurrency` games in flight, yielding each as it ends.

    All games in flight make their move in one search; each request is answered by
    `schedule`. A game's moves depend only on (seed, game id), never on its neighbours.
    """
    slots = GameSlots(engine, take_from(game_ids), concurrency)
    while (steps := slots.begin()) is not None:
        results = drive(steps, lambda req: schedule(req, engine.evaluate, slots.tally))
        yield from slots.end(results)
