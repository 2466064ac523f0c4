"""Hex on an N×N board (SPEC §1.1), as batched array operations on many positions at once.

A position is a row of compact arrays; every operation takes B rows and works on all of them
with numpy, so the search can advance thousands of tree nodes of many games per call.

Win detection is incremental: each stone carries the label of its group and the set of
edges its group touches (two bits). Placing a stone merges the neighbouring groups of its
colour into one label and ORs their edge bits; the game is won when both bits are set.
Nothing rescans the board.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from perfkit.types import MAX_BOARD, MIN_BOARD, PerfkitError

if TYPE_CHECKING:
    import torch  # only where planes are made: worker processes never load it

EMPTY, PLAYER1, PLAYER2 = 0, 1, 2
BOTH_EDGES = 0b11
# The six neighbours of (r, c), SPEC §1.1.
NEIGHBOUR_OFFSETS = ((-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0))


def check_board_size(n: int) -> int:
    if not MIN_BOARD <= n <= MAX_BOARD:
        raise PerfkitError(f"board size must be between {MIN_BOARD} and {MAX_BOARD}, got {n}")
    return n


@dataclass(frozen=True)
class Geometry:
    """Constant tables of an N×N board."""

    n: int
    neighbours: np.ndarray  # [N*N, 6] int64, -1 where off the board
    edge_bits: np.ndarray  # [3, N*N] uint8: edges a lone stone of player p touches (row 0 unused)

    @property
    def cells(self) -> int:
        return self.n * self.n


@functools.cache
def geometry(n: int) -> Geometry:
    """The tables for an N×N board (cached: boards of one size share them)."""
    check_board_size(n)
    r, c = np.divmod(np.arange(n * n), n)
    neighbours = np.full((n * n, 6), -1, dtype=np.int64)
    for k, (dr, dc) in enumerate(NEIGHBOUR_OFFSETS):
        rr, cc = r + dr, c + dc
        on = (rr >= 0) & (rr < n) & (cc >= 0) & (cc < n)
        neighbours[on, k] = rr[on] * n + cc[on]
    edge_bits = np.zeros((3, n * n), dtype=np.uint8)
    edge_bits[PLAYER1] = (r == 0) * 1 | (r == n - 1) * 2  # player 1 joins row 0 to row N-1
    edge_bits[PLAYER2] = (c == 0) * 1 | (c == n - 1) * 2  # player 2 joins column 0 to N-1
    neighbours.setflags(write=False)
    edge_bits.setflags(write=False)
    return Geometry(n=n, neighbours=neighbours, edge_bits=edge_bits)


@dataclass
class Positions:
    """B Hex positions as arrays (row i is one position)."""

    n: int
    stones: np.ndarray  # [B, N*N] int8: 0 empty, 1 player 1, 2 player 2
    groups: np.ndarray  # [B, N*N] int16: label (a cell index) of the stone's group, -1 if empty
    reach: np.ndarray  # [B, N*N] uint8: edge bits touched by the stone's group
    to_move: np.ndarray  # [B] int8: 1 or 2
    winner: np.ndarray  # [B] int8: 0 while the game goes on

    def __len__(self) -> int:
        return len(self.to_move)

    @classmethod
    def empty(cls, n: int, count: int = 1) -> Positions:
        """`count` empty boards, player 1 to move."""
        cells = geometry(n).cells
        return cls(
            n=n,
            stones=np.zeros((count, cells), np.int8),
            groups=np.full((count, cells), -1, np.int16),
            reach=np.zeros((count, cells), np.uint8),
            to_move=np.full(count, PLAYER1, np.int8),
            winner=np.zeros(count, np.int8),
        )

    @classmethod
    def concat(cls, parts: list[Positions], n: int) -> Positions:
        if not parts:
            return cls.empty(n, 0)
        return cls(
            n=n,
            stones=np.concatenate([p.stones for p in parts]),
            groups=np.concatenate([p.groups for p in parts]),
            reach=np.concatenate([p.reach for p in parts]),
            to_move=np.concatenate([p.to_move for p in parts]),
            winner=np.concatenate([p.winner for p in parts]),
        )

    def take(self, index: np.ndarray) -> Positions:
        """A copy of the rows `index` (fancy indexing copies)."""
        return Positions(
            n=self.n,
            stones=self.stones[index],
            groups=self.groups[index],
            reach=self.reach[index],
            to_move=self.to_move[index],
            winner=self.winner[index],
        )

    @property
    def terminal(self) -> np.ndarray:  # [B] bool
        ended: np.ndarray = self.winner != 0
        return ended

    def legal(self) -> np.ndarray:  # [B, N*N] bool
        """Empty cells of positions whose game goes on."""
        legal: np.ndarray = (self.stones == EMPTY) & ~self.terminal[:, None]
        return legal

    def play(self, moves: np.ndarray) -> Positions:
        return play(self, moves)


def play(pos: Positions, moves: np.ndarray) -> Positions:
    """The positions after each row's player to move places a stone on `moves[i]`.

    Returns new arrays (the input is untouched). Every move must be legal.
    """
    moves = np.asarray(moves, dtype=np.int64)
    b = len(pos)
    if b == 0:
        return pos.take(np.arange(0))
    rows = np.arange(b)
    if np.any((moves < 0) | (moves >= pos.stones.shape[1])):
        raise ValueError(f"illegal move: cells are 0..{pos.stones.shape[1] - 1}")
    if np.any(pos.stones[rows, moves] != EMPTY) or np.any(pos.terminal):
        raise ValueError("illegal move: occupied cell or finished game")
    geo = geometry(pos.n)
    player = pos.to_move.astype(np.int64)
    stones = pos.stones.copy()
    stones[rows, moves] = player

    nbr = geo.neighbours[moves]  # [B, 6]
    on = nbr >= 0
    nbr0 = np.where(on, nbr, 0)
    same = on & (stones[rows[:, None], nbr0] == player[:, None])  # [B, 6]
    labels = np.where(same, pos.groups[rows[:, None], nbr0], -2).astype(np.int16)  # -2 matches no stone
    bits = geo.edge_bits[player, moves] | np.bitwise_or.reduce(
        np.where(same, pos.reach[rows[:, None], nbr0], 0), axis=1
    ).astype(np.uint8)  # [B]
    merged = np.zeros(pos.groups.shape, bool)  # [B, N*N]: stones of the groups the move joins
    for k in range(labels.shape[1]):  # six int16 passes beat one [B, N*N, 6] temporary ~30x
        merged |= pos.groups == labels[:, k : k + 1]
    merged[rows, moves] = True
    groups = np.where(merged, moves[:, None].astype(np.int16), pos.groups)
    reach = np.where(merged, bits[:, None], pos.reach)
    winner = np.where(bits == BOTH_EDGES, player, 0).astype(np.int8)
    return Positions(
        n=pos.n,
        stones=stones,
        groups=groups.astype(np.int16),
        reach=reach.astype(np.uint8),
        to_move=(3 - player).astype(np.int8),
        winner=winner,
    )


def from_moves(n: int, moves: list[int]) -> Positions:
    """The single position reached by playing `moves` from the empty board."""
    pos = Positions.empty(n, 1)
    for m in moves:
        pos = play(pos, np.array([m]))
    return pos


def winner_by_flood_fill(stones: np.ndarray, n: int) -> int:
    """Who has a connecting chain, found by a full flood fill (an independent oracle for tests)."""
    board = np.asarray(stones).reshape(n, n)
    for player, starts in ((PLAYER1, [(0, c) for c in range(n)]), (PLAYER2, [(r, 0) for r in range(n)])):
        seen = set()
        stack = [s for s in starts if board[s] == player]
        while stack:
            r, c = stack.pop()
            if (r, c) in seen:
                continue
            seen.add((r, c))
            if (player == PLAYER1 and r == n - 1) or (player == PLAYER2 and c == n - 1):
                return player
            for dr, dc in NEIGHBOUR_OFFSETS:
                rr, cc = r + dr, c + dc
                if 0 <= rr < n and 0 <= cc < n and board[rr, cc] == player:
                    stack.append((rr, cc))
    return 0


def render(stones: np.ndarray, n: int) -> str:
    """A text picture of one board, rows shifted like a Hex rhombus."""
    sym = {EMPTY: ".", PLAYER1: "X", PLAYER2: "O"}
    board = np.asarray(stones).reshape(n, n)
    return "\n".join(" " * r + " ".join(sym[int(v)] for v in board[r]) for r in range(n))


@dataclass(frozen=True)
class HexGame:
    """Hex on an N×N board as a perfkit `Game`: the fast built-in (SPEC §1.1)."""

    n: int
    name: str = "hex"
    compact_dtype = np.int8
    board_sized: ClassVar[bool] = True  # N, the preset's board, sizes it (perfkit.game.board_sized)

    def __post_init__(self) -> None:
        check_board_size(self.n)

    @property
    def actions(self) -> int:
        return self.n * self.n

    @property
    def obs_shape(self) -> tuple[int, int, int]:
        return (3, self.n, self.n)

    @property
    def compact_width(self) -> int:
        return self.n * self.n

    def start(self, count: int) -> Positions:
        return Positions.empty(self.n, count)

    def concat(self, parts: list[Positions]) -> Positions:
        return Positions.concat(parts, self.n)

    def encode(self, stones: torch.Tensor, to_move: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Input planes [B, 3, N, N] from stones [B, N*N] int8 and to_move [B] int8 (SPEC §1.2):
        player-1 stones, player-2 stones, ones when player 1 is to move."""
        import torch

        b, n = stones.shape[0], self.n
        board = stones.reshape(b, 1, n, n)  # reshape: on CUDA the stones are a strided slice
        side = (to_move == 1).reshape(b, 1, 1, 1).expand(b, 1, n, n)
        return torch.cat([board == 1, board == 2, side], dim=1).to(dtype)

    def describe(self) -> dict[str, Any]:
        return {"game": "hex", "board": self.n, "obs_shape": list(self.obs_shape), "actions": self.actions}
