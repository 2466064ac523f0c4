"""A user's own engine: a recursive MCTS in the style of alpha-zero-general, profiled by perfkit.

The `Game` and `MCTS` classes below are written the way alpha-zero-general
(suragnair/alpha-zero-general) writes them: the search asks `self.nnet.predict(board)` for
ONE canonical board at each new leaf. Nothing in them knows perfkit. The only glue is
`PerfkitNNet`, which turns that board into the network's planes and calls the `predict`
perfkit hands to `play_game`: the network itself (`naive`, one board per call) or the
batch server that fills one call with the leaves of every game in flight (`crossgame`).

Run it from the repository root:

    perfkit bench --engine examples/azg_mcts.py:engine --game connect_four --simulations 25 --strategy all
"""

from __future__ import annotations

import math

import numpy as np

from perfkit import PerfkitError

ROWS, COLS = 6, 7
EPS = 1e-8


class Connect4Game:
    """Connect Four on a 6x7 numpy board: 1 and -1 are the players' stones, 0 is empty; row 0 is the top."""

    def getInitBoard(self) -> np.ndarray:
        return np.zeros((ROWS, COLS), dtype=np.int8)  # [6, 7]

    def getActionSize(self) -> int:
        return COLS

    def getNextState(self, board: np.ndarray, player: int, action: int) -> tuple[np.ndarray, int]:
        """The board after `player` drops a stone in column `action`, and the player to move."""
        row = np.flatnonzero(board[:, action] == 0)[-1]  # the lowest empty cell
        board = board.copy()
        board[row, action] = player
        return board, -player

    def getValidMoves(self, board: np.ndarray, player: int) -> np.ndarray:
        return (board[0] == 0).astype(np.int8)  # [7]: a column is open while its top cell is

    def getGameEnded(self, board: np.ndarray, player: int) -> float:
        """0 while the game goes on, 1 if `player` has won, -1 if lost, a small value for a draw."""
        for p in (player, -player):
            if _four_in_a_row(board == p):
                return 1.0 if p == player else -1.0
        return 1e-4 if board[0].all() else 0.0  # a full top row: a draw

    def getCanonicalForm(self, board: np.ndarray, player: int) -> np.ndarray:
        return board * np.int8(player)  # the player to move always plays 1

    def stringRepresentation(self, board: np.ndarray) -> bytes:
        return board.tobytes()


def _four_in_a_row(m: np.ndarray) -> bool:
    """Does the boolean board `m` [6, 7] have four in a row: across, down, or on either diagonal?"""
    return bool(
        (m[:, :-3] & m[:, 1:-2] & m[:, 2:-1] & m[:, 3:]).any()
        or (m[:-3] & m[1:-2] & m[2:-1] & m[3:]).any()
        or (m[:-3, :-3] & m[1:-2, 1:-2] & m[2:-1, 2:-1] & m[3:, 3:]).any()
        or (m[3:, :-3] & m[2:-1, 1:-2] & m[1:-2, 2:-1] & m[:-3, 3:]).any()
    )


class MCTS:
    """alpha-zero-general's MCTS: a recursive search keeping its statistics in dicts keyed by board."""

    def __init__(self, game: Connect4Game, nnet, *, simulations: int, cpuct: float, rng: np.random.RandomState):
        self.game, self.nnet, self.simulations, self.cpuct, self.rng = game, nnet, simulations, cpuct, rng
        self.Qsa = {}  # Q value of edge (s, a)
        self.Nsa = {}  # visits of edge (s, a)
        self.Ns = {}  # visits of board s
        self.Ps = {}  # the network's policy at s, masked to the valid moves
        self.Es = {}  # getGameEnded at s
        self.Vs = {}  # getValidMoves at s

    def getActionProb(self, canonicalBoard: np.ndarray, temp: float = 1) -> np.ndarray:
        """Run the simulations from `canonicalBoard`; returns pi [actions], proportional to counts^(1/temp)."""
        for _ in range(self.simulations):
            self.search(canonicalBoard)
        s = self.game.stringRepresentation(canonicalBoard)
        counts = np.array([self.Nsa.get((s, a), 0) for a in range(self.game.getActionSize())], dtype=np.float64)
        if temp == 0:
            best = np.flatnonzero(counts == counts.max())
            probs = np.zeros_like(counts)
            probs[self.rng.choice(best)] = 1.0
            return probs
        counts = counts ** (1.0 / temp)
        return counts / counts.sum()

    def search(self, canonicalBoard: np.ndarray) -> float:
        """One simulation; returns the value of `canonicalBoard` for the player who moved into it."""
        s = self.game.stringRepresentation(canonicalBoard)
        if s not in self.Es:
            self.Es[s] = self.game.getGameEnded(canonicalBoard, 1)
        if self.Es[s] != 0:
            return -self.Es[s]  # a terminal board

        if s not in self.Ps:  # a new leaf: one network call for this one board
            self.Ps[s], v = self.nnet.predict(canonicalBoard)
            valids = self.game.getValidMoves(canonicalBoard, 1)
            self.Ps[s] = self.Ps[s] * valids
            total = self.Ps[s].sum()
            self.Ps[s] = self.Ps[s] / total if total > 0 else valids / valids.sum()
            self.Vs[s], self.Ns[s] = valids, 0
            return -v

        valids, best_u, a = self.Vs[s], -math.inf, -1
        for b in range(self.game.getActionSize()):
            if valids[b]:
                if (s, b) in self.Qsa:
                    u = self.Qsa[(s, b)] + self.cpuct * self.Ps[s][b] * math.sqrt(self.Ns[s]) / (1 + self.Nsa[(s, b)])
                else:
                    u = self.cpuct * self.Ps[s][b] * math.sqrt(self.Ns[s] + EPS)
                if u > best_u:
                    best_u, a = u, b

        next_board, next_player = self.game.getNextState(canonicalBoard, 1, a)
        v = self.search(self.game.getCanonicalForm(next_board, next_player))

        if (s, a) in self.Qsa:
            self.Qsa[(s, a)] = (self.Nsa[(s, a)] * self.Qsa[(s, a)] + v) / (self.Nsa[(s, a)] + 1)
            self.Nsa[(s, a)] += 1
        else:
            self.Qsa[(s, a)], self.Nsa[(s, a)] = v, 1
        self.Ns[s] += 1
        return -v


class PerfkitNNet:
    """The glue: alpha-zero-general's `nnet.predict(board)`, answered by the `predict` perfkit hands out."""

    def __init__(self, predict) -> None:
        self._predict = predict  # planes [3, 6, 7] -> (logits [7], value)

    def predict(self, board: np.ndarray) -> tuple[np.ndarray, float]:
        """(pi [7], v) for a canonical board: pi the softmax of the logits over all columns, as azg's nets return."""
        planes = np.stack([board == 1, board == -1, np.ones_like(board, dtype=bool)]).astype(np.float32)  # [3, 6, 7]
        logits, v = self._predict(planes)
        logits = np.asarray(logits, dtype=np.float64)
        pi = np.exp(logits - logits.max())
        return pi / pi.sum(), float(v)


class AzgEngine:
    """A perfkit engine: alpha-zero-general-style self-play games of Connect Four.

    Args:
        simulations: MCTS simulations per move (each asks the network for at most one board).
        seed: with the game id, seeds each game's random state, so a game depends only on (seed, game id).
        temp_plies: plies whose move is sampled from the visit counts (temp=1); the argmax after that.
        cpuct: the exploration constant.
    """

    name = "azg-mcts"
    obs_shape = (3, ROWS, COLS)
    actions = COLS

    def __init__(self, *, simulations: int = 25, seed: int = 0, temp_plies: int = 8, cpuct: float = 1.0) -> None:
        if isinstance(simulations, bool) or not isinstance(simulations, int) or simulations < 1:
            raise PerfkitError(f"simulations must be a positive integer, got {simulations!r}")
        self.game = Connect4Game()
        self.simulations, self.seed, self.temp_plies, self.cpuct = simulations, seed, temp_plies, cpuct

    def settings(self) -> dict:
        return {"engine": self.name, "game": "connect_four", "simulations": self.simulations,
                "temp_plies": self.temp_plies, "cpuct": self.cpuct}

    def play_game(self, game_id: int, predict, tracer) -> int:
        """Play game `game_id` to the end, each move marked on `tracer`; returns the winner 1 or 2 (0: draw)."""
        rng = np.random.RandomState([self.seed, game_id])
        mcts = MCTS(self.game, PerfkitNNet(predict), simulations=self.simulations, cpuct=self.cpuct, rng=rng)
        board, player, ply = self.game.getInitBoard(), 1, 0  # a fresh tree per game, kept across its moves
        while True:
            with tracer.move(player=1 if player == 1 else 2) as move:
                temp = 1 if ply < self.temp_plies else 0
                pi = mcts.getActionProb(self.game.getCanonicalForm(board, player), temp=temp)
                move.action = action = int(rng.choice(len(pi), p=pi))
            board, player = self.game.getNextState(board, player, action)
            ply += 1
            result = self.game.getGameEnded(board, 1)  # from player 1's side
            if result != 0:
                return 1 if result == 1 else 2 if result == -1 else 0


def engine(game: str = "connect_four", simulations: int = 25, seed: int = 0) -> AzgEngine:
    """The factory `perfkit bench --engine examples/azg_mcts.py:engine` calls."""
    if game != "connect_four":
        raise PerfkitError(f"examples/azg_mcts.py plays connect_four only, got --game {game!r}")
    return AzgEngine(simulations=simulations, seed=seed)
