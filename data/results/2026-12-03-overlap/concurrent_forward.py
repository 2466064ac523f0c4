"""The forward's limit with N calls at once: N threads, each calling the network (perfkit's evaluator of the
`small` net on Connect Four, float32, 1 torch thread, as the bench run prepares it: folded, traced, GIL-free) on
batches of B boards for `SECONDS`; boards/s of all threads together. `perfkit curve` measures one call at a time
(with --threads T intra-op threads), which is not the limit of a run whose forwards overlap (`--inflight 3`).
Usage: PYTHONPATH=. python data/results/2026-12-03-overlap/concurrent_forward.py [SECONDS]  (one JSON line per N, B)"""

import json
import sys
import threading
import time

import numpy as np

from perfkit.analysis.curve import _positions
from perfkit.measure.bench import BenchSettings, Workload

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
workload = Workload.prepare(BenchSettings(preset="small", game="connect_four", device="cpu", precision="float32",
                                          threads=1))
evaluator = workload.evaluator()
rng = np.random.default_rng(0)
for b in (32, 64, 128, 152, 256):
    stones, to_move = _positions(workload.game, b, rng)
    for _ in range(5):
        evaluator(stones, to_move)
    for n in (1, 2, 3):
        done = [0] * n
        stop = time.perf_counter() + seconds

        def work(i: int, stop: float, done: list[int], stones: np.ndarray, to_move: np.ndarray) -> None:
            while time.perf_counter() < stop:
                evaluator(stones, to_move)
                done[i] += 1

        threads = [threading.Thread(target=work, args=(i, stop, done, stones, to_move)) for i in range(n)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        print(json.dumps({"batch": b, "calls_at_once": n, "boards_per_s": round(sum(done) * b / wall, 1),
                          "calls": sum(done), "wall_s": round(wall, 2)}), flush=True)
