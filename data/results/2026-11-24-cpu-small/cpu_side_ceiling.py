"""How many boards/s the CPU side of crossgame (search + Hex logic) can feed a device.

The network is replaced by a cheap deterministic stand-in, so what is left is the
CPU work a GPU run must hide: python data/results/2026-11-24-cpu-small/cpu_side_ceiling.py 13 256
(board 13 = the reference preset's, 256 games in flight, max batch 4096, one core).
"""

import sys
import time

import numpy as np

from perfkit.strategies import Engine, make_strategy
from perfkit.types import SearchConfig

n, games = int(sys.argv[1]), int(sys.argv[2])
boards = 0


def stand_in(stones, to_move, **_):
    """Deterministic per board, ~0.02 ms/board of numpy: not a network, a load of zero cost."""
    global boards
    boards += len(to_move)
    h = stones.astype(np.float64) @ np.linspace(0.1, 1, stones.shape[1])
    return np.sin(np.outer(h, np.arange(stones.shape[1]))), np.tanh(np.sin(h))


engine = Engine(stand_in, n, SearchConfig(), seed=0)
t = time.perf_counter()
played = list(make_strategy("crossgame", concurrency=games, max_batch=4096).play(range(games), engine))
wall = time.perf_counter() - t
moves = sum(len(g.moves) for g in played)
print(f"board {n}, {games} games: {boards / wall:,.0f} boards/s, {moves / wall:,.0f} moves/s CPU side (stand-in included)")
