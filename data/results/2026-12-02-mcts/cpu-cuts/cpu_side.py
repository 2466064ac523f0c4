"""The CPU side of crossgame mcts alone: a one-layer network, so the search, the cache and encoding dominate.

Usage: PYTHONPATH=<perfkit checkout> python cpu_side.py IN_FLIGHT GAMES [PRECISION] [REPEATS]; one JSON line per repeat
(process time per move, and a digest of the games: equal digests, equal games)."""
import hashlib, sys, time, json
import torch
from torch import nn
from perfkit.game.connect_four import ConnectFour
from perfkit.model.evaluator import Evaluator
from perfkit.batching.cache import EvalCache
from perfkit.strategies.base import Engine
from perfkit.strategies.crossgame import CrossGame
from perfkit.search.mcts import MCTSConfig

torch.set_num_threads(1)
class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(126, 8)
    def forward(self, x):
        y = self.lin(x.flatten(1))
        return y[:, :7], torch.tanh(y[:, 7])
inflight = int(sys.argv[1]); games = int(sys.argv[2]); prec = sys.argv[3] if len(sys.argv) > 3 else "float32"
reps = int(sys.argv[4]) if len(sys.argv) > 4 else 1
torch.manual_seed(0)
model = Tiny()
game = ConnectFour()
res = []
for r in range(reps):
    ev = Evaluator(model, game=game, precision=prec)
    engine = Engine(evaluate=EvalCache(ev), game=game, config=MCTSConfig(simulations=50), seed=0)
    t0, c0 = time.perf_counter(), time.process_time()
    recs = list(CrossGame(concurrency=inflight).play(range(games), engine))
    t1, c1 = time.perf_counter(), time.process_time()
    moves = sum(len(g.moves) for g in recs)
    h = hashlib.sha256()
    for g in sorted(recs, key=lambda g: g.game):
        h.update(repr([(m.move, round(m.minimax_value, 9), m.visits) for m in g.moves]).encode())
    res.append((c1 - c0) / moves * 1e3)
    print(json.dumps({"inflight": inflight, "moves": moves, "wall_s": round(t1 - t0, 2), "cpu_s": round(c1 - c0, 2),
                      "cpu_ms_per_move": round((c1 - c0) / moves * 1e3, 3), "digest": h.hexdigest()[:12]}), flush=True)
