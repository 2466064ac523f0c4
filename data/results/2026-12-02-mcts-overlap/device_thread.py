"""Where the device thread's time goes in crossgame under --search mcts (groups 2, inflight 2): each
step of a call timed per thread (the cache lookup, encode, forward, conversions, the evaluator's record),
and the main thread's wait for the device.

Usage, from the repository root:
  PYTHONPATH=$PWD python data/results/2026-12-02-mcts-overlap/device_thread.py GAMES IN_FLIGHT GROUPS INFLIGHT [max_batch=N] [cache_size=N] [switch_ms=X]
(connect_four, small, 50 simulations, float32, 1 torch thread; one warm-up run of 64 games first).
"""

import collections
import functools
import sys
import threading
import time
from concurrent.futures import Future

from perfkit.batching.cache import EvalCache
from perfkit.devices.cpu import CpuRunner
from perfkit.devices.gilfree import GilFree
from perfkit.measure.bench import BenchSettings, Workload, run_strategy
from perfkit.model.evaluator import Evaluator
from perfkit.search.mcts import MCTSConfig

spent: dict[tuple[str, str], float] = collections.defaultdict(float)  # wall seconds inside
cpu: dict[tuple[str, str], float] = collections.defaultdict(float)  # the thread's CPU seconds inside


def timed(cls: type, name: str, label: str) -> None:
    inner = getattr(cls, name)

    @functools.wraps(inner)
    def wrapper(*args, **kwargs):
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            key = (threading.current_thread().name.split("_")[0], label)
            spent[key] += time.perf_counter() - t0
            cpu[key] += time.thread_time() - c0

    setattr(cls, name, wrapper)


for cls, name, label in ((EvalCache, "__call__", "cache lookup + all below"), (Evaluator, "__call__", "evaluator call"),
                         (CpuRunner, "forward", "runner forward"), (CpuRunner, "encode", "encode"),
                         (GilFree, "__call__", "traced forward"), (Future, "result", "waiting on a future")):
    timed(cls, name, label)

games, in_flight, groups, inflight = (int(a) for a in sys.argv[1:5])
extra = dict(a.split("=") for a in sys.argv[5:])  # max_batch=N, cache_size=N, switch_ms=X
if "switch_ms" in extra:  # the interpreter's switch interval
    sys.setswitchinterval(float(extra.pop("switch_ms")) / 1000)
settings = BenchSettings(preset="small", game="connect_four", games=games, device="cpu", search=MCTSConfig(simulations=50),
                         threads=1, concurrency=in_flight, groups=groups, inflight=inflight,
                         **{k: int(v) for k, v in extra.items()})
workload = Workload.prepare(settings)
run_strategy("crossgame", Workload.prepare(BenchSettings(preset="small", game="connect_four", games=64, device="cpu",
             search=MCTSConfig(simulations=50), threads=1, concurrency=64)), progress=False)  # warm-up
spent.clear()
cpu.clear()
t0, c0 = time.perf_counter(), time.process_time()
run = run_strategy("crossgame", workload, progress=False)
wall, process_cpu = time.perf_counter() - t0, time.process_time() - c0
s = run.summary
print(f"moves/s {s['moves_per_s']:.1f}, wall {wall:.1f} s, forward share {s['forward_share']:.2f}, mean batch {s['mean_batch']:.1f}, "
      f"boards/move {s['boards'] / s['moves']:.1f}, cpu cores used {s.get('cpu_cores_used')}")
for (thread, label), sec in sorted(spent.items()):
    print(f"{thread:>16} {label:<28} {sec:8.2f} s  {100 * sec / wall:5.1f} % of wall  CPU {cpu[(thread, label)]:7.2f} s")
print(f"process CPU {process_cpu:.2f} s in {wall:.1f} s of wall; {1e6 * process_cpu / s['moves']:.0f} CPU us per move, "
      f"traced forward {1e6 * cpu[('perfkit-device' if inflight > 1 else 'MainThread', 'traced forward')] / s['boards']:.1f} CPU us per board")
