"""cProfile of crossgame under --search mcts (README's CPU-side figures): one warm-up run, one profiled.

Usage, from the repository root: PYTHONPATH=$PWD python data/results/2026-12-02-mcts/profile_mcts.py 128
(the argument: games, all in flight; connect_four, small, 50 simulations, float32, 1 torch thread).
"""

import cProfile
import pstats
import sys

from perfkit.measure.bench import BenchSettings, Workload, run_strategy
from perfkit.search.mcts import MCTSConfig

games = int(sys.argv[1]) if len(sys.argv) > 1 else 64
settings = BenchSettings(preset="small", game="connect_four", games=games, device="cpu", search=MCTSConfig(simulations=50),
                         threads=1, concurrency=games)
workload = Workload.prepare(settings)
run_strategy("crossgame", workload, progress=False)  # warm-up
profiler = cProfile.Profile()
profiler.enable()
run = run_strategy("crossgame", workload, progress=False)
profiler.disable()
s = run.summary
print(f"moves/s {s['moves_per_s']:.1f}, wall {s['wall_s']:.1f} s, forward share {s['forward_share']:.2f}, "
      f"boards/move {s['boards'] / s['moves']:.1f}")
pstats.Stats(profiler).sort_stats("cumtime").print_stats(35)
