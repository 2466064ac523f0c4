"""A tic-tac-toe engine with one deliberately slow function, for `perfkit profile --engine`.

`slow_heuristic` burns pure-Python CPU on every move; everything else is cheap. Profiling
must name it first. Its network is its own (2 planes of 3x3 in, 9 logits and a value out).
"""

import numpy as np
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Linear(18, 10)

    def forward(self, x):
        out = self.body(x.flatten(1))
        return out[:, :9], torch.tanh(out[:, 9])


def slow_heuristic(board, rounds=60_000):
    """Deliberately slow: a pure-Python loop over the board, many times."""
    total = 0
    cells = board.tolist()
    for i in range(rounds):
        total += cells[i % 9] * (i & 7)
    return total % 9


def cheap_planes(board):
    return np.stack([board == 1, board == 2]).reshape(2, 3, 3).astype(np.float32)


class SlowEngine:
    obs_shape, actions = (2, 3, 3), 9

    def __init__(self):
        self.network = Net()

    def play_game(self, game_id, predict, tracer):
        board, player = np.zeros(9, int), 1
        board[game_id % 9] = 2  # games differ
        for _ in range(int((board == 0).sum())):
            with tracer.move(player=player) as move:
                logits, _value = predict(cheap_planes(board))
                legal = np.flatnonzero(board == 0)
                bias = slow_heuristic(board)
                move.action = a = int(legal[(int(np.argmax(np.asarray(logits)[legal])) + bias) % len(legal)])
            board[a], player = player, 3 - player
        return 0


def engine(game="tictac", simulations=1, seed=0):
    return SlowEngine()
