"""The device thread's calls beside a busy search thread, at two interpreter switch intervals.

A device thread that leaves the traced forward (or the numpy around it) must win the GIL back from the
main thread; while the main thread runs Python it waits up to the switch interval (5 ms by default) for
it. Here: the runner's whole call (encode, traced forward, float64 numpy out) at batch B on a device
thread, beside a main thread doing small numpy steps (as the search does), alternately at the switch
intervals SWITCH_MS (ms, default "5,0.5"), R rounds of S seconds. Prints one JSON line per round.

Usage, from the repository root: PYTHONPATH=$PWD python data/results/2026-12-02-mcts-overlap/switch_interval.py [B] [R] [S]
(switch-interval.jsonl: `... 116 3 5`, then `SWITCH_MS=5,0.5,0.1,0.02 ... 116 2 4`)
"""

import json
import os
import sys
import threading
import time

import numpy as np
import torch

from perfkit.devices.cpu import CpuRunner
from perfkit.measure.bench import BenchSettings, Workload
from perfkit.search.mcts import MCTSConfig

torch.set_num_threads(1)
SWITCH_MS = [float(x) for x in os.environ.get("SWITCH_MS", "5,0.5").split(",")]
batch, rounds, seconds = (int(sys.argv[1]) if len(sys.argv) > 1 else 116), int(sys.argv[2]) if len(sys.argv) > 2 else 3, \
    float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
w = Workload.prepare(BenchSettings(preset="small", game="connect_four", games=1, device="cpu", search=MCTSConfig(), threads=1))
runner = CpuRunner(w.model, w.game, torch.float32)
stones = np.zeros((batch, w.game.compact_width), w.game.compact_dtype)
to_move = np.ones(batch, np.int8)


def busy(stop: threading.Event) -> int:
    a = np.random.default_rng(0).random((64, 7))
    steps = 0
    while not stop.is_set():
        (a * 1.0001 + 0.5).argmax(axis=1)  # small numpy steps, the GIL held between them
        steps += 1
    return steps


for rnd in range(rounds):
    for switch_ms in SWITCH_MS:
        sys.setswitchinterval(switch_ms / 1000)
        stop, calls = threading.Event(), [0]

        def device() -> None:
            while not stop.is_set():
                runner.forward(stones, to_move)
                calls[0] += 1

        t = threading.Thread(target=device)
        t0 = time.perf_counter()
        t.start()
        timer = threading.Timer(seconds, stop.set)
        timer.start()
        steps = busy(stop)
        t.join()
        wall = time.perf_counter() - t0
        print(json.dumps({"round": rnd, "switch_ms": switch_ms, "batch": batch, "device_boards_per_s": round(calls[0] * batch / wall),
                          "main_steps_per_s": round(steps / wall), "loadavg_1_5_15": os.getloadavg()}), flush=True)
sys.setswitchinterval(0.005)
