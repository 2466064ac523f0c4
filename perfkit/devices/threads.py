"""How many torch intra-op threads a run uses: chosen, said and recorded, never inherited.

torch starts with one intra-op thread per core. A single-board call (most of `naive`'s and
`permove`'s calls) then waits at every operator for all of those threads; when another job
holds a core, one of them is descheduled and the call takes 100x longer (296 ms instead of
1.3 ms on a shared 2-core machine). So the count is decided per run, in this order:

1. `--threads N` (or `BenchSettings(threads=N)`): as asked;
2. `OMP_NUM_THREADS` in the environment: the user (or a test harness) already decided;
3. a CUDA device: 1, since the network runs on the GPU and host-side torch work is small;
4. otherwise the cores that are free (usable cores minus those other processes kept busy
   over the last quarter second, from /proc/stat; the 1-minute load average where there is
   none, though it lags) less one left as headroom for the search's own Python and for
   whatever starts during the run, at least 1; confirmed by timing a batch-1 call with that
   many threads against one thread: if it is more than `OVERSUBSCRIBED` times slower, 1.

The headroom is what makes the first run trustworthy on a small shared machine: on 2 cores,
2 threads gained crossgame at most 1.4x while idle, and lost 10x (crossgame) to 100x (naive)
as soon as another job took a core. `naive` and `permove` play with 1 thread whatever the
machine (`ThreadChoice.for_strategy`): their calls are too small to share.

The chosen count's batch-1 latency is kept as the expectation that `bench` and `curve`
compare their own batch-1 calls with (`oversubscription_warning`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    import pandas as pd

    from perfkit.types import Curve

OVERSUBSCRIBED = 1.5  # batch-1 slower than this many times the 1-thread call: don't use more threads
FAR_SLOWER = 3.0  # a run's batch-1 calls this many times the expectation: warn
FAR_SLOWER_MIN_S = 1e-3  # ... and at least this much slower (sub-millisecond jitter is not a finding)
PROBE_ROUNDS = 5  # interleaved rounds of the batch-1 probe
PROBE_CALLS = 3  # calls per thread count per round
PROBE_BUDGET_S = 1.0  # stop probing early when calls are this slow (an oversubscribed CPU)
BUSY_SAMPLE_S = 0.25  # how long /proc/stat is watched to see what other processes use
HEADROOM_CORES = 1  # cores left to the search's Python and to jobs that start mid-run
SMALL_CALLS = ("naive", "permove")
BIG_BATCH = 128  # the probe's big call; crossgame's calls are this size and more  # strategies whose calls carry a few boards (mean batch 2 and 10)


@dataclass(frozen=True)
class ThreadChoice:
    """The torch intra-op thread count a run used, and why."""

    threads: int  # torch.set_num_threads value
    source: str  # "requested", "environment", "device", "measured", "rule"
    reason: str  # one line a user can read
    batch1_s: dict[int, float] = field(default_factory=dict)  # median batch-1 call by thread count, where timed
    cores: int = 1  # usable cores (sched_getaffinity)
    big_call_s: float | None = None  # median call of BIG_BATCH boards with the chosen count (None: not timed)
    busy: float | None = None  # cores other processes kept busy when it was chosen (None: unknown)

    @property
    def expected_batch1_s(self) -> float | None:
        """Median batch-1 call with the chosen count, timed before the run (None: not timed)."""
        return self.batch1_s.get(self.threads)

    def describe(self) -> str:
        return f"torch threads: {self.threads} ({self.reason})"

    def for_strategy(self, name: str) -> tuple[int, str]:
        """The count one strategy plays with, and why: 1 for small calls unless the user chose.

        A call of a few boards gains nothing from more threads, and loses 100x when another job
        takes a core mid-run; only crossgame's big calls use the free cores.
        """
        if self.threads > 1 and self.source in ("measured", "rule") and name in SMALL_CALLS:
            return 1, f"{name} makes calls of a few boards, which more threads only slow down; {self.threads} for crossgame"
        return self.threads, self.reason

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["batch1_s"] = {str(k): v for k, v in self.batch1_s.items()}  # JSON object keys are strings
        return d


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_cores(interval_s: float = BUSY_SAMPLE_S) -> float | None:
    """Cores kept busy by other processes now: /proc/stat over `interval_s` while this one sleeps.

    Falls back to the 1-minute load average (which lags, and counts this process's past work).
    """
    try:
        first = _cpu_times()
        time.sleep(interval_s)
        second = _cpu_times()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return None
    total = sum(second) - sum(first)
    idle = (second[3] + second[4]) - (first[3] + first[4])  # idle + iowait
    all_cores = os.cpu_count() or 1
    return max(0.0, (1 - idle / total) * all_cores) if total > 0 else None


def _cpu_times() -> list[int]:
    with open("/proc/stat") as f:
        fields = f.readline().split()  # cpu user nice system idle iowait irq softirq steal ...
    return [int(x) for x in fields[1:9]]


def env_threads(env: Mapping[str, str]) -> int | None:
    text = env.get("OMP_NUM_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) >= 1 else None


def choose_threads(
    *,
    device_type: str,
    requested: int | None,
    probe: Callable[[int], float] | None,
    cores: int | None = None,
    busy: float | None = None,
    env: Mapping[str, str] | None = None,
) -> ThreadChoice:
    """Decide the thread count (module docstring); `probe(t)` returns a batch-1 call's median s.

    Args:
        device_type: "cpu", "cuda" or "sim" (a device's `kind`).
        requested: `--threads`, or None to decide.
        probe: times a batch-1 call with t threads (None: decide by rule only, time nothing).
        cores, busy, env: injected for tests; default to this machine's.
    """
    cores = usable_cores() if cores is None else cores
    env = os.environ if env is None else env

    def timed(*counts: int) -> dict[int, float]:
        return {t: probe(t) for t in counts} if probe else {}

    def choice(threads: int, source: str, reason: str, batch1_s: dict[int, float] | None = None) -> ThreadChoice:
        return ThreadChoice(threads, source, reason, batch1_s or {}, cores=cores, busy=busy)

    if requested is not None:
        return choice(requested, "requested", f"--threads {requested}", timed(requested))
    from_env = env_threads(env)
    if from_env is not None:
        return choice(from_env, "environment", f"OMP_NUM_THREADS={from_env} in the environment", timed(from_env))
    if device_type in ("cuda", "sim"):
        where = "GPU" if device_type == "cuda" else "simulated device (sim)"
        reason = f"the network runs on the {where}; one host thread per process leaves the cores to the search"
        return choice(1, "device", reason, timed(1))
    if busy is None:
        busy = busy_cores()
    idle = max(0, min(cores, round(cores - (busy or 0.0))))
    free = max(1, idle - HEADROOM_CORES)
    if free == 1:
        if cores == 1:
            why = "one usable core"
        elif idle < cores:
            why = f"machine busy: other processes use {busy or 0:.1f} of {cores} cores"
        else:
            why = f"{cores} cores, one left for the search and other jobs (more threads stall when a core is taken)"
        return choice(1, "rule", why, timed(1))
    if probe is None:
        return choice(free, "rule", f"{idle} of {cores} cores free ({busy or 0:.1f} in use), one kept as headroom")
    times = interleaved(probe, (1, free))
    one, many = times[1], times[free]
    if many > OVERSUBSCRIBED * one:
        why = (f"a batch-1 call took {1e3 * many:.2f} ms with {free} threads, {1e3 * one:.2f} ms with 1: "
               "more threads oversubscribe this CPU")
        return choice(1, "measured", why, times)
    why = (f"{idle} of {cores} cores free ({busy or 0:.1f} in use), one kept as headroom; a batch-1 call took {1e3 * many:.2f} ms "
           f"with {free} threads, {1e3 * one:.2f} ms with 1")
    return choice(free, "measured", why, times)


def interleaved(probe: Callable[[int], float], counts: tuple[int, ...]) -> dict[int, float]:
    """Median of `probe` per thread count, taken in alternating rounds so load drift hits all."""
    samples: dict[int, list[float]] = {t: [] for t in counts}
    for _ in range(PROBE_ROUNDS):
        for t in counts:
            samples[t].append(probe(t))
    return {t: float(np.median(s)) for t, s in samples.items()}


def thread_probe(call: Callable[[], object], *, calls: int = PROBE_CALLS, budget_s: float = PROBE_BUDGET_S) -> Callable[[int], float]:
    """A `probe(t)` for `choose_threads`: median seconds of `call()` (one batch-1 network call) with t threads.

    The one thread probe: perfkit's evaluator (`batch1_probe`) and a user's engine network use it.
    Leaves torch at t threads; the caller sets the chosen count afterwards.
    """

    def probe(threads: int) -> float:
        torch.set_num_threads(threads)
        return median_call_s(call, calls=calls, budget_s=budget_s)

    return probe


def batch1_probe(evaluator: Any, *, calls: int = PROBE_CALLS, budget_s: float = PROBE_BUDGET_S) -> Callable[[int], float]:
    """`thread_probe` of batch-1 calls of `evaluator` (a perfkit `Evaluator`: an empty board of its game)."""
    stones, to_move = evaluator.blank(1)
    return thread_probe(lambda: evaluator(stones, to_move), calls=calls, budget_s=budget_s)


def time_calls(evaluator: Any, batch: int, *, calls: int = PROBE_CALLS, budget_s: float = PROBE_BUDGET_S) -> float:
    """Median seconds of an `Evaluator` call of `batch` empty boards of its game (one untimed call first)."""
    stones, to_move = evaluator.blank(batch)
    return median_call_s(lambda: evaluator(stones, to_move), calls=calls, budget_s=budget_s)


def median_call_s(call: Callable[[], object], *, calls: int = PROBE_CALLS, budget_s: float = PROBE_BUDGET_S) -> float:
    """Median seconds of `call()`, after one untimed call (a thread pool resized, caches warmed).

    Stops after `calls` calls, or earlier once `budget_s` has passed (an oversubscribed CPU).
    """
    call()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < calls and (not times or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def oversubscription_warning(
    observed_s: float | None, expected_s: float | None, *, expected_from: str, what: str = "batch-1 calls"
) -> str | None:
    """A warning when calls took far longer than expected, else None.

    Args:
        observed_s: median call of the run or curve (None: it made none).
        expected_s: what one should cost here (None: nothing to compare with).
        expected_from: where the expectation comes from, for the message.
        what: which calls, for the message.
    """
    if observed_s is None or expected_s is None or expected_s <= 0:
        return None
    if observed_s < FAR_SLOWER * expected_s or observed_s - expected_s < FAR_SLOWER_MIN_S:
        return None
    return (
        f"{what} took a median {1e3 * observed_s:.2f} ms, {observed_s / expected_s:.0f}x the "
        f"{1e3 * expected_s:.2f} ms {expected_from}: the CPU is oversubscribed (another job, or more torch "
        "threads than free cores); the rates are not this machine's best - try --threads 1 or a quieter moment"
    )


def curve_oversubscription(curve: Curve, expected_s: float | None) -> str | None:
    """A warning when a curve's batch-1 point is far slower than the probe, or than a bigger batch's call."""
    by_batch = {p.batch: p.median_s for p in curve.points}
    one = by_batch.get(1)
    warning = oversubscription_warning(one, expected_s, expected_from="timed just before the sweep")
    bigger = [s for b, s in by_batch.items() if 1 < b <= 64]
    if warning is None and one is not None and bigger:
        # A call of one board costing far more than one of up to 64 is not the network: it is the CPU.
        warning = oversubscription_warning(one, min(bigger), expected_from="of a bigger batch in the same sweep")
    return warning


def big_call_warning(calls: pd.DataFrame | None, big_call_s: float | None) -> str | None:
    """Oversubscription seen in a run's big calls (crossgame makes no batch-1 calls).

    Compares the run's cost per board in calls of at least `BIG_BATCH` boards with the probe's
    call of exactly `BIG_BATCH`: bigger calls cost no more per board, so far more is the CPU.
    """
    if big_call_s is None or calls is None or calls.empty:
        return None
    big = calls[calls["batch"] >= BIG_BATCH]
    if big.empty:
        return None
    per_board = float(((big["end_s"] - big["start_s"]) / big["batch"]).median())
    return oversubscription_warning(
        per_board * BIG_BATCH, big_call_s, expected_from="timed just before the run with the same threads",
        what=f"calls of {BIG_BATCH}+ boards (per {BIG_BATCH} boards)",
    )
