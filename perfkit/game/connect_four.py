"""Connect Four (6 rows × 7 columns) as batched array operations on many positions at once.

The same rules, action numbering and network input as OpenSpiel's `connect_four`, so a network
built or trained for the adapter (`OpenSpielGame("connect_four")`) plays here unchanged, and
OpenSpiel is the oracle the tests replay against:
- an action is a column 0..6; the stone drops to the lowest empty row of that column;
- cell index `r*7 + c` with row 0 at the bottom (OpenSpiel's observation order);
- player 1 (OpenSpiel's 0, "x") moves first; four in a row in any direction wins; a full
  board without one is a draw (winner 0).

A win can only pass through the stone just played, so `play` tests the (at most 16) windows
of four cells through it, for every row at once: no scan of the board, no Python per game.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch  # only where planes are made: worker processes never load it

EMPTY, PLAYER1, PLAYER2 = 0, 1, 2
ROWS, COLS = 6, 7
CELLS = ROWS * COLS
PAD = CELLS  # index of an always-empty cell that pads the window table


@functools.cache
def windows_through() -> np.ndarray:
    """[42, 16, 4] int64: per cell, the windows of four cells that contain it (PAD-filled).

    A window of all PAD never matches a player's stone, so padded rows never win.
    """
    table: list[list[list[int]]] = [[] for _ in range(CELLS)]
    for r in range(ROWS):
        for c in range(COLS):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + k * dr, c + k * dc) for k in range(4)]
                if all(0 <= rr < ROWS and 0 <= cc < COLS for rr, cc in cells):
                    window = [rr * COLS + cc for rr, cc in cells]
                    for cell in window:
                        table[cell].append(window)
    out = np.full((CELLS, 16, 4), PAD, np.int64)
    for cell, wins in enumerate(table):
        out[cell, : len(wins)] = wins
    out.setflags(write=False)
    return out


@dataclass
class C4Positions:
    """B Connect Four positions as arrays (row i is one position)."""

    stones: np.ndarray  # [B, 42] int8: 0 empty, 1 player 1, 2 player 2; cell r*7 + c, row 0 at the bottom
    heights: np.ndarray  # [B, 7] int8: stones in each column
    to_move: np.ndarray  # [B] int8: 1 or 2
    winner: np.ndarray  # [B] int8: 1 or 2 when won, 0 while the game goes on or for a draw
    full: np.ndarray  # [B] bool: no empty cell left

    def __len__(self) -> int:
        return len(self.to_move)

    @classmethod
    def empty(cls, count: int) -> C4Positions:
        return cls(
            stones=np.zeros((count, CELLS), np.int8), heights=np.zeros((count, COLS), np.int8),
            to_move=np.full(count, PLAYER1, np.int8), winner=np.zeros(count, np.int8), full=np.zeros(count, bool),
        )

    @property
    def terminal(self) -> np.ndarray:  # [B] bool
        ended: np.ndarray = (self.winner != 0) | self.full
        return ended

    def legal(self) -> np.ndarray:  # [B, 7] bool
        """Columns with room, in positions whose game goes on."""
        legal: np.ndarray = (self.heights < ROWS) & ~self.terminal[:, None]
        return legal

    def take(self, index: np.ndarray) -> C4Positions:
        """A copy of the rows `index`."""
        return C4Positions(self.stones[index], self.heights[index], self.to_move[index], self.winner[index], self.full[index])

    def play(self, actions: np.ndarray) -> C4Positions:
        """The positions after each row's player to move drops a stone in column `actions[i]`."""
        cols = np.asarray(actions, dtype=np.int64)
        b = len(self)
        if b == 0:
            return self.take(np.arange(0))
        rows = np.arange(b)
        if np.any((cols < 0) | (cols >= COLS)):
            raise ValueError(f"illegal move: columns are 0..{COLS - 1}")
        if np.any(self.heights[rows, cols] >= ROWS) or np.any(self.terminal):
            raise ValueError("illegal move: full column or finished game")
        cell = self.heights[rows, cols].astype(np.int64) * COLS + cols  # [B]
        player = self.to_move
        stones = self.stones.copy()
        stones[rows, cell] = player
        heights = self.heights.copy()
        heights[rows, cols] += 1
        won = four_in_a_row(stones, player)  # the position before was not won: a line now is through the new stone
        return C4Positions(
            stones=stones, heights=heights, to_move=(3 - player).astype(np.int8),
            winner=np.where(won, player, 0).astype(np.int8), full=(heights == ROWS).all(axis=1),
        )


def four_in_a_row(stones: np.ndarray, player: np.ndarray) -> np.ndarray:
    """[B] bool: row i has four of `player[i]`'s stones in a line, by bitboard shifts.

    The stones go to bit r*8 + c of a uint64 (an always-empty eighth column keeps a line from
    wrapping to the next row); a line of four in direction d is a bit set with those d, 2d and
    3d above it. A few operations on [B] words instead of a gather of every window.
    """
    b = len(stones)
    mine = np.zeros((b, ROWS, 8), bool)
    mine[:, :, :COLS] = stones.reshape(b, ROWS, COLS) == player[:, None, None]
    words = np.zeros((b, 8), np.uint8)
    words[:, :ROWS] = np.packbits(mine.reshape(b, ROWS * 8), axis=1, bitorder="little")
    board = words.view("<u8").reshape(b)
    won = np.zeros(b, bool)
    for d in (np.uint64(1), np.uint64(7), np.uint64(8), np.uint64(9)):  # across, the two diagonals, up
        pairs = board & (board >> d)
        won |= (pairs & (pairs >> (d + d))) != 0
    return won


def planes_of(stones: np.ndarray, dtype: type) -> np.ndarray:
    """[B, 3, 6, 7] planes (player 1's stones, player 2's, the empty cells) from stones [B, 42]:
    three comparisons written straight into one array of `dtype`, no intermediate tensors."""
    out: np.ndarray = np.empty((len(stones), 3, CELLS), dtype)
    np.equal(stones, PLAYER1, out=out[:, 0])
    np.equal(stones, PLAYER2, out=out[:, 1])
    np.equal(stones, EMPTY, out=out[:, 2])
    return out.reshape(len(stones), 3, ROWS, COLS)


@dataclass(frozen=True)
class ConnectFour:
    """Connect Four as a perfkit `Game`: the fast built-in, OpenSpiel's `connect_four` to the network."""

    name: str = "connect_four"
    actions: int = COLS
    obs_shape: tuple[int, int, int] = (3, ROWS, COLS)  # x stones, o stones, empty cells (OpenSpiel's planes)
    compact_width: int = CELLS
    compact_dtype = np.int8

    def start(self, count: int) -> C4Positions:
        return C4Positions.empty(count)

    def concat(self, parts: list[C4Positions]) -> C4Positions:
        if not parts:
            return C4Positions.empty(0)
        return C4Positions(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                             ("stones", "heights", "to_move", "winner", "full")))

    def encode(self, stones: torch.Tensor, to_move: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Planes [B, 3, 6, 7] from stones [B, 42] int8, as OpenSpiel's observation tensor: player 1's
        stones, player 2's, the empty cells (no side-to-move plane: the stone count tells it)."""
        import torch

        as_numpy = {torch.float32: np.float32, torch.float64: np.float64}.get(dtype)
        if as_numpy is not None and isinstance(stones, torch.Tensor) and stones.device.type == "cpu":
            return torch.from_numpy(planes_of(stones.numpy(), as_numpy))  # the same 0/1 planes, fewer torch calls
        board = stones.reshape(stones.shape[0], 1, ROWS, COLS)
        return torch.cat([board == PLAYER1, board == PLAYER2, board == EMPTY], dim=1).to(dtype)

    def describe(self) -> dict[str, Any]:
        return {"game": self.name, "obs_shape": list(self.obs_shape), "actions": self.actions, "implementation": "native"}
