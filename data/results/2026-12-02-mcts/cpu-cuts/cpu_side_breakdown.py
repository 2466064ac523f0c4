"""cpu_side.py with a per-part process-time breakdown: the cache (its own time), the evaluator (encode + the one-layer
forward), the rest (search, game loop). Usage: PYTHONPATH=<checkout> python cpu_side_breakdown.py IN_FLIGHT GAMES."""
import functools
import runpy
import sys
import time
from pathlib import Path

from perfkit.batching import cache as C
from perfkit.model import evaluator as E
acc = {"cache_total": 0.0, "evaluator": 0.0}
def wrap(cls, name, key):
    f = getattr(cls, name)
    @functools.wraps(f)
    def g(*a, **k):
        t = time.process_time()
        try:
            return f(*a, **k)
        finally:
            acc[key] += time.process_time() - t
    setattr(cls, name, g)
wrap(C.EvalCache, "__call__", "cache_total")
wrap(E.Evaluator, "__call__", "evaluator")
t0 = time.process_time()
sys.argv = ["cpu_side.py"] + sys.argv[1:]
runpy.run_path(str(Path(__file__).with_name("cpu_side.py")), run_name="__main__")
total = time.process_time() - t0
print({"cache_own": round(acc["cache_total"] - acc["evaluator"], 2), "evaluator": round(acc["evaluator"], 2),
       "rest": round(total - acc["cache_total"], 2)})
