"""The recorder: one per run, every strategy reports to it through the evaluator and game loop."""

from __future__ import annotations

import dataclasses
import operator
import threading
import time
from collections.abc import Callable

import pandas as pd

from perfkit.types import CallRecord, GameRecord, MoveRecord

CALL_COLUMNS = [f.name for f in dataclasses.fields(CallRecord)]
_call_row = operator.attrgetter(*CALL_COLUMNS)  # much cheaper than dataclasses.astuple
MOVE_COLUMNS = [
    "game", "ply", "player", "move", "root_value", "minimax_value", "candidates",
    "policy_move_values", "chosen_rank", "calls", "boards", "visits",
]
GAME_COLUMNS = ["game", "winner", "moves", "start_s", "end_s", "duration_s"]


_warm = False


def _warm_pandas() -> None:
    """Build each table once per process, untimed: pandas' first DataFrame of a kind costs
    ~50 ms of lazy imports, a one-time setup that is not what recording a run costs."""
    global _warm
    if _warm:
        return
    _warm = True
    rec = Recorder.__new__(Recorder)
    rec.strategy, rec.clock, rec.own_s = "", time.perf_counter, 0.0
    rec.calls = [CallRecord(1, 1, 1, 0, 0.0, None, 0.0, None, None, 0.0, 0.0)]
    rec.games = [GameRecord(game=0, winner=1, moves=[MoveRecord(0, 0, 1, 0, 0.0, 0.0, [0], [0.0], 0)])]
    rec.calls_table(), rec.moves_table(), rec.games_table()


class Recorder:
    """Collects the calls, moves and games of a run and turns them into DataFrames.

    It also measures its own cost: `own_s` is the time spent inside its hooks and in
    building the tables, so every run can say what recording took (`recorder_share`).

    Args:
        strategy: the strategy's name, stored on every call row.
        record_calls: False keeps only the running totals and games (recording "off").
        clock: the clock that times the recorder's own work; injectable for tests.
    """

    def __init__(self, strategy: str = "", *, record_calls: bool = True, clock: Callable[[], float] = time.perf_counter) -> None:
        self.strategy = strategy
        self.record_calls = record_calls
        self.clock = clock
        self.calls: list[CallRecord] = []
        self.games: list[GameRecord] = []
        self.n_calls = 0  # running totals, for live progress without rescanning
        self.n_boards = 0
        self.own_s = 0.0  # seconds spent recording (hooks + tables)
        self._lock = threading.Lock()  # calls may arrive from a strategy's worker threads
        _warm_pandas()


    def on_call(self, record: CallRecord) -> None:
        t0 = self.clock()
        with self._lock:
            self.n_calls += 1
            self.n_boards += record.batch
            if self.record_calls:
                self.calls.append(record)
            self.own_s += self.clock() - t0

    def on_game(self, game: GameRecord) -> None:
        t0 = self.clock()
        with self._lock:
            self.games.append(game)
            self.own_s += self.clock() - t0

    def calls_table(self) -> pd.DataFrame:
        t0 = self.clock()
        df: pd.DataFrame = pd.DataFrame([_call_row(c) for c in self.calls], columns=CALL_COLUMNS)
        df.insert(0, "strategy", self.strategy)
        self.own_s += self.clock() - t0
        return df

    def moves_table(self) -> pd.DataFrame:
        t0 = self.clock()
        rows = [
            [getattr(m, c) for c in MOVE_COLUMNS]
            for g in sorted(self.games, key=lambda g: g.game)
            for m in g.moves
        ]
        df: pd.DataFrame = pd.DataFrame(rows, columns=MOVE_COLUMNS)
        self.own_s += self.clock() - t0
        return df

    def games_table(self) -> pd.DataFrame:
        t0 = self.clock()
        rows = [
            [g.game, g.winner, len(g.moves), g.start_s, g.end_s, g.end_s - g.start_s]
            for g in sorted(self.games, key=lambda g: g.game)
        ]
        df: pd.DataFrame = pd.DataFrame(rows, columns=GAME_COLUMNS)
        self.own_s += self.clock() - t0
        return df
