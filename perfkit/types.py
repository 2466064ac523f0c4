"""Core types of perfkit: configs, requests, records. Shapes in trailing comments.

Everything else in the package is built from these: the search emits `EvalRequest`s,
a strategy turns them into network calls, the recorder stores `CallRecord`s and
`MoveRecord`s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class PerfkitError(Exception):
    """An error the user can fix; the CLI prints its message as one line and exits non-zero."""


def did_you_mean(name: str, choices) -> str:
    """"; did you mean 'x'?" for the closest of `choices`, or "" when none is close."""
    import difflib

    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


MIN_BOARD, MAX_BOARD = 3, 19
MAX_DEPTH, MAX_WIDTH = 4, 16


@dataclass(frozen=True)
class Preset:
    """A network size for a board size (SPEC §1.2)."""

    name: str
    board: int  # N: the board is N×N
    blocks: int  # B residual blocks
    channels: int  # C channels per conv layer


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", board=5, blocks=2, channels=16),  # unit tests
    "small": Preset("small", board=9, blocks=4, channels=32),  # default on CPU
    "reference": Preset("reference", board=13, blocks=8, channels=96),  # default on a GPU
}


def get_preset(name: str) -> Preset:
    """The preset called `name`, or a PerfkitError listing the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise PerfkitError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}"
        ) from None


class PositionBatch(Protocol):
    """B positions of one game, row i one position; what perfkit's search works on."""

    stones: np.ndarray  # [B, D] compact rows the network input is made from (Hex: int8 stones)
    to_move: np.ndarray  # [B] int8: 1 or 2 (OpenSpiel's players 0 and 1)
    winner: np.ndarray  # [B] int8: 1 or 2 when won, 0 while the game goes on or for a draw

    def __len__(self) -> int: ...

    @property
    def terminal(self) -> np.ndarray: ...  # [B] bool: the game is over (a draw included)

    def legal(self) -> np.ndarray: ...  # [B, A] bool: legal actions (none where terminal)

    def take(self, index: np.ndarray) -> PositionBatch: ...  # the rows `index`

    def play(self, actions: np.ndarray) -> PositionBatch: ...  # [B] legal actions -> new positions


class Game(Protocol):
    """A two-player, zero-sum, deterministic, perfect-information, sequential game, vectorised
    over positions: everything perfkit's search, strategies, workers and network need of it.

    Hex is the fast built-in (`perfkit.game.hex.HexGame`); OpenSpiel's games come through an
    adapter (`perfkit.game.openspiel.OpenSpielGame`).
    """

    name: str  # as the user writes it: hex, connect_four, go(board_size=9)
    actions: int  # A: the policy's width; an action is an index in [0, A)
    obs_shape: tuple[int, ...]  # the network's input planes of one position
    compact_dtype: Any  # numpy dtype of a compact row (transport between processes)
    compact_width: int  # D: length of a compact row

    def start(self, count: int) -> PositionBatch: ...  # `count` initial positions

    def concat(self, parts: list[PositionBatch]) -> PositionBatch: ...

    def encode(self, stones: Any, to_move: Any, dtype: Any) -> Any: ...  # torch [B, D], [B] -> planes [B, *obs_shape]

    def describe(self) -> dict: ...  # what a manifest or checkpoint records of the game


@dataclass(frozen=True)
class SearchConfig:
    """Parameters of the seed's policy-pruned minimax (SPEC §1.3)."""

    value_topk: int = 5  # candidates valued at the root
    widths: tuple[int, ...] = (3, 3, 3)  # children expanded at depth 0, 1, 2, ...
    temperature: float = 1.0  # Gumbel temperature for the candidate ranking
    temperature_plies: int = 8  # plies played with noise; 0 turns noise off

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not 1 <= len(self.widths) <= MAX_DEPTH:
            raise PerfkitError(
                f"widths must have 1 to {MAX_DEPTH} entries, got {len(self.widths)}"
            )
        if any(not 1 <= w <= MAX_WIDTH for w in self.widths):
            raise PerfkitError(f"each width must be between 1 and {MAX_WIDTH}, got {self.widths}")
        if not 1 <= self.value_topk <= MAX_WIDTH:
            raise PerfkitError(f"value_topk must be between 1 and {MAX_WIDTH}, got {self.value_topk}")
        if self.widths[0] > self.value_topk:
            raise PerfkitError(
                f"widths[0]={self.widths[0]} exceeds value_topk={self.value_topk}: "
                "the root can only expand valued candidates"
            )
        if self.temperature < 0 or self.temperature_plies < 0:
            raise PerfkitError("temperature and temperature_plies must be >= 0")

    @property
    def depth(self) -> int:
        return len(self.widths)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class EvalRequest:
    """The positions one level of the search needs evaluated; never holds a terminal position.

    Why each position is asked for (root, candidate, tree node, leaf) is kept so that a
    strategy can reproduce the seed's one-call-per-purpose flow (`naive`).
    """

    level: int  # 0 = root, d = depth-d nodes
    stones: np.ndarray  # [K, D] compact rows (Hex: [K, N*N] int8: 0 empty, 1 player 1, 2 player 2)
    to_move: np.ndarray  # [K] int8: 1 or 2
    want_policy: np.ndarray  # [K] bool: a tree node to expand (or the root)
    want_value: np.ndarray  # [K] bool: = candidate | leaf (or the root)
    candidate: np.ndarray  # [K] bool: a root candidate whose value is asked (level 1)
    leaf: np.ndarray  # [K] bool: a tree leaf valued by the value head (level = depth)
    owner: np.ndarray  # [K] int64: index of the root (search slot) the position belongs to
    actions: int = 0  # A: the width of the policy the network answers with
    root_player: np.ndarray | None = None  # [K] int8: the side to move at the row's root (whose search it is)

    def __len__(self) -> int:
        return len(self.to_move)


@dataclass
class Evaluation:
    """The network's answer to an EvalRequest, row for row."""

    logits: np.ndarray  # [K, A] float64, unmasked
    values: np.ndarray  # [K] float64 in [-1, 1], for the player to move


@dataclass
class MoveRecord:
    """What one move's search decided (SPEC §1.3.7)."""

    game: int
    ply: int
    player: int  # 1 or 2
    move: int  # cell index r*N + c
    root_value: float  # value head at the root, for the player to move
    minimax_value: float  # backed-up value of the chosen move (NaN on fallback)
    candidates: list[int]  # the value_topk candidate cells, best first
    policy_move_values: list[float]  # each candidate's value from the root player's view
    chosen_rank: int  # index of `move` in `candidates`
    calls: float = 0.0  # network calls attributed to this move (shared calls split by boards; with a cache: its lookups)
    boards: int = 0  # positions this move sent to the network (with a cache: asked of it)
    visits: list[int] = field(default_factory=list)  # [A] mcts: the root's visits per action (the policy target); minimax: []


@dataclass
class GameRecord:
    """One finished game."""

    game: int
    winner: int  # 1 or 2
    moves: list[MoveRecord] = field(default_factory=list)
    start_s: float = 0.0  # wall clock (time.time) at the first move
    end_s: float = 0.0

    @property
    def move_list(self) -> list[int]:
        return [m.move for m in self.moves]


@dataclass
class CallRecord:
    """One network call, as measured by the evaluator (seconds; None where not applicable)."""

    batch: int  # boards in the call
    n_policy: int  # positions that asked for the policy
    n_value: int  # positions that asked for the value
    level: int  # search level of the positions (-1: mixed or not from the search)
    encode_s: float  # host-side preparation of the input
    h2d_s: float | None  # host->device copy (None on CPU: there is no transfer)
    forward_s: float  # the network's forward pass
    d2h_s: float | None  # device->host copy (None on CPU)
    queue_wait_s: float | None  # time the positions waited for the call (None: no queue)
    start_s: float  # wall clock (time.perf_counter) at the call's start
    end_s: float
    asked: int | None = None  # boards the search asked for, `batch` of them sent (None: no cache in front)
