"""An exact evaluation cache between the search and the network (a bounded LRU).

The seed's search asks for positions it has already had evaluated: the next move's root and
first levels were in the previous move's tree, transpositions repeat inside a tree, and
openings repeat across games. `EvalCache` wraps any evaluate callable (the `Evaluator`, or
`Resilient` around it): each call's rows are looked up by their compact row's bytes and the
side to move, which is exactly what the network's input is made from, so a hit is the answer
the network gave that position before. Only the misses, each distinct position once, go to the
wrapped callable, in one call; its CallRecord says how many rows were asked (`asked`).

Exactness: in float64 on the CPU a position's answer does not depend on which boards share its
call (SPEC §1.4), so games are identical with and without the cache (tested). In float32 an
answer can differ in its last bits from a fresh one, exactly as a different batch size would.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from perfkit.types import PerfkitError

DEFAULT_CACHE_ENTRIES = 100_000  # positions kept; ~0.7 KB each on `small` (81 logits + value, float64)


def check_cache_entries(entries) -> int:
    """`entries` as a positive whole number, else a PerfkitError saying how to fix it."""
    if isinstance(entries, bool) or not isinstance(entries, (int, np.integer)) or entries < 1:
        raise PerfkitError(f"cache size must be a whole number of entries >= 1, got {entries!r} (use --no-cache to turn it off)")
    return int(entries)


def row_keys(stones: np.ndarray, to_move: np.ndarray) -> list[bytes]:
    """One key per row: the compact row's bytes followed by the side to move."""
    rows = np.ascontiguousarray(stones).view(np.uint8).reshape(len(to_move), -1)
    keyed = np.concatenate([rows, np.asarray(to_move, np.uint8).reshape(-1, 1)], axis=1)
    return [r.tobytes() for r in keyed]


class EvalCache:
    """An evaluate callable that answers repeated positions from a bounded LRU.

    Args:
        evaluate: `(stones, to_move, *, n_policy, n_value, level, **extra) -> (logits, values)`.
        entries: the most positions kept; the least recently used is dropped first.

    Counts (since construction): `asked` rows asked for, `hits` rows answered without being
    sent (found in the cache, or a repeat of another row of the same call), `sent` rows sent to
    the network, `calls` calls made, `full_hits` lookups answered without any call.
    """

    def __init__(self, evaluate: Callable[..., tuple[np.ndarray, np.ndarray]], *, entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self.evaluate = evaluate
        self.entries = check_cache_entries(entries)
        self._store: OrderedDict[bytes, tuple[np.ndarray, float]] = OrderedDict()  # key -> (logits [A], value)
        self._lock = threading.Lock()  # crossgame's device thread and the main thread may both call
        self.asked = self.hits = self.sent = self.calls = self.full_hits = 0

    def __getattr__(self, name: str):
        # `game`, `device`, `precision`... of the wrapped Evaluator stay visible.
        if name == "evaluate":
            raise AttributeError(name)
        return getattr(self.evaluate, name)

    def __len__(self) -> int:
        return len(self._store)

    @property
    def hit_share(self) -> float | None:
        """hits / asked (None before anything was asked)."""
        return self.hits / self.asked if self.asked else None

    def stats(self) -> dict:
        return {
            "cache_entries": self.entries, "cache_asked": self.asked, "cache_hits": self.hits,
            "cache_sent": self.sent, "cache_calls": self.calls, "cache_full_hits": self.full_hits,
            "cache_hit_share": self.hit_share, "cache_held": len(self._store),
        }

    def __call__(
        self,
        stones: np.ndarray,  # [B, D] compact rows
        to_move: np.ndarray,  # [B] int8
        *,
        n_policy: int | None = None,
        n_value: int | None = None,
        level: int = -1,
        **extra,  # passed through (e.g. the evaluator's queue_wait_s)
    ) -> tuple[np.ndarray, np.ndarray]:  # [B, A] float64, [B] float64
        """Answer the rows from the cache where it can and send the rest, each distinct row once.

        Long on purpose: lookup, one call for the misses, and storing them happen under one
        lock discipline that is easiest to check in one place.
        """
        b = len(to_move)
        if b == 0:
            return self.evaluate(stones, to_move, n_policy=n_policy, n_value=n_value, level=level, **extra)
        keys = row_keys(stones, to_move)
        found: dict[int, tuple[np.ndarray, float]] = {}
        first: dict[bytes, int] = {}  # a missing key -> the row that is sent for it
        with self._lock:
            for i, key in enumerate(keys):
                entry = self._store.get(key)
                if entry is not None:
                    self._store.move_to_end(key)
                    found[i] = entry
                elif key not in first:
                    first[key] = i
        send = np.fromiter(first.values(), np.int64, len(first))
        if len(send):
            def scaled(count: int | None) -> int | None:
                # Which sent rows want a policy is not passed down; the counts are split in proportion.
                return None if count is None else round(count * len(send) / b)

            lg, vl = self.evaluate(
                stones[send], to_move[send], n_policy=scaled(n_policy), n_value=scaled(n_value), level=level,
                asked=b, **extra,
            )
            lg, vl = np.asarray(lg, np.float64), np.asarray(vl, np.float64)
            width = lg.shape[1]
        else:
            width = len(next(iter(found.values()))[0])
        logits = np.empty((b, width))
        values = np.empty(b)
        sent_at = {}
        if len(send):
            logits[send], values[send] = lg, vl
            sent_at = {key: j for j, key in enumerate(first)}
        for i, (lgi, vli) in found.items():
            logits[i], values[i] = lgi, vli
        for i, key in enumerate(keys):
            if i not in found and first[key] != i:  # a repeat of a row sent in this call
                j = sent_at[key]
                logits[i], values[i] = lg[j], vl[j]
        with self._lock:
            for j, key in enumerate(first):
                self._store[key] = (lg[j].copy(), float(vl[j]))
                if len(self._store) > self.entries:
                    self._store.popitem(last=False)
            self.asked += b
            self.sent += len(send)
            self.hits += b - len(send)
            if len(send):
                self.calls += 1
            else:
                self.full_hits += 1
        return logits, values
