"""The small Connect Four net's forward, eager vs traced (perfkit.devices.gilfree), alone and beside one
busy Python thread (a stand-in for a search): 5 alternating rounds, boards/s, batch 256, one torch thread.
Run from the repository root:  .venv/bin/python data/results/2026-12-02-gil/forward_beside_busy_thread.py
"""

import json
import statistics
import threading
import time

import numpy as np
import torch

from perfkit.devices.gilfree import without_gil
from perfkit.model import build_game_model

torch.set_num_threads(1)
model = build_game_model((3, 6, 7), 7, preset="small").eval()
x = torch.randn(256, 3, 6, 7)
traced = without_gil(model, x[:4])
assert traced.traced


def rate(forward, busy: bool, seconds: float = 1.5) -> float:
    stop = threading.Event()

    def spin() -> None:
        a = np.zeros(7)
        while not stop.is_set():
            for _ in range(100):
                a = a + 1

    spinner = threading.Thread(target=spin)
    if busy:
        spinner.start()
    with torch.inference_mode():
        forward(x)
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            forward(x)
            n += 1
        elapsed = time.perf_counter() - t0
    stop.set()
    if busy:
        spinner.join()
    return n * len(x) / elapsed


rows = {k: [] for k in ("eager alone", "eager beside busy thread", "traced alone", "traced beside busy thread")}
for _ in range(5):
    rows["eager alone"].append(rate(model, False))
    rows["traced alone"].append(rate(traced, False))
    rows["eager beside busy thread"].append(rate(model, True))
    rows["traced beside busy thread"].append(rate(traced, True))
for name, values in rows.items():
    print(json.dumps({"case": name, "boards_per_s_median": round(statistics.median(values)), "rounds": [round(v) for v in values]}))
