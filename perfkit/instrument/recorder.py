"""The recorder: one per run, every strategy reports to it through the evaluator and game loop."""

from __future__ import annotations

import dataclasses
import time

import pandas as pd

from perfkit.types import CallRecord, GameRecord

CALL_COLUMNS = [f.name for f in dataclasses.fields(CallRecord)]
MOVE_COLUMNS = [
    "game", "ply", "player", "move", "root_value", "minimax_value", "candidates",
    "policy_move_values", "chosen_rank", "calls", "boards",
]
GAME_COLUMNS = ["game", "winner", "moves", "start_s", "end_s", "duration_s"]


class Recorder:
    """Collects the calls, moves and games of a run and turns them into DataFrames.

    Args:
        strategy: the strategy's name, stored on every call row.
        record_calls: False keeps only games (to measure what recording costs).
        clock: wall clock; injectable for tests.
    """

    def __init__(self, strategy: str = "", *, record_calls: bool = True, clock=time.perf_counter) -> None:
        self.strategy = strategy
        self.record_calls = record_calls
        self.clock = clock
        self.calls: list[CallRecord] = []
        self.games: list[GameRecord] = []
        self.n_calls = 0  # running totals, for live progress without rescanning
        self.n_boards = 0

    def on_call(self, record: CallRecord) -> None:
        self.n_calls += 1
        self.n_boards += record.batch
        if self.record_calls:
            self.calls.append(record)

    def on_game(self, game: GameRecord) -> None:
        self.games.append(game)

    def calls_table(self) -> pd.DataFrame:
        df = pd.DataFrame([dataclasses.astuple(c) for c in self.calls], columns=CALL_COLUMNS)
        df.insert(0, "strategy", self.strategy)
        return df

    def moves_table(self) -> pd.DataFrame:
        rows = [
            [getattr(m, c) for c in MOVE_COLUMNS]
            for g in sorted(self.games, key=lambda g: g.game)
            for m in g.moves
        ]
        return pd.DataFrame(rows, columns=MOVE_COLUMNS)

    def games_table(self) -> pd.DataFrame:
        rows = [
            [g.game, g.winner, len(g.moves), g.start_s, g.end_s, g.end_s - g.start_s]
            for g in sorted(self.games, key=lambda g: g.game)
        ]
        return pd.DataFrame(rows, columns=GAME_COLUMNS)
