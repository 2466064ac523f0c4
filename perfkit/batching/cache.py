"""Exact evaluation caches between a search and the network (one bounded LRU core).

The seed's search asks for positions it has already had evaluated: the next move's root and
first levels were in the previous move's tree, transpositions repeat inside a tree, and
openings repeat across games. A cache answers a repeated position with what the network
returned for it before, and sends only the misses, each distinct position once, in one call.

- `ExactLRU` is the core, the one place the lookup, the deduplication inside a call, the
  bound and the counts live; a cache is this core plus how its rows are keyed and sent.
- `EvalCache` wraps perfkit's evaluate callables (the `Evaluator`, or `Resilient` around it),
  keyed by the compact row's bytes and the side to move, exactly what the network's input is
  made from; its CallRecord says how many rows were asked (`asked`).
- `ObservationCache` wraps the network of an engine perfkit did not write (`Tracer.evaluate`),
  keyed by the bytes of the observation the engine asked about (its dtype and shape
  included): the network's whole input, so a hit is what the network returned for it.

Exactness: in float64 on the CPU a position's answer does not depend on which boards share its
call (SPEC §1.4), so games are identical with and without the cache (tested). In float32 an
answer can differ in its last bits from a fresh one, exactly as a different batch size would.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from perfkit.types import PerfkitError

DEFAULT_CACHE_ENTRIES = 100_000  # positions kept; ~0.7 KB each on `small` (81 logits + value, float64)

# rows to send (indices into the lookup's rows) -> (logits [S, A], values [S])
Send = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def check_cache_entries(entries: object) -> int:
    """`entries` as a positive whole number, else a PerfkitError saying how to fix it."""
    if isinstance(entries, bool) or not isinstance(entries, (int, np.integer)) or entries < 1:
        raise PerfkitError(f"cache size must be a whole number of entries >= 1, got {entries!r} (use --no-cache to turn it off)")
    return int(entries)


def row_keys(stones: np.ndarray, to_move: np.ndarray) -> list[bytes]:
    """One key per row: the compact row's bytes followed by the side to move."""
    rows = np.ascontiguousarray(stones).view(np.uint8).reshape(len(to_move), -1)
    keyed = np.concatenate([rows, np.asarray(to_move, np.uint8).reshape(-1, 1)], axis=1)
    return _row_bytes(keyed)


def obs_keys(planes: np.ndarray) -> list[bytes]:
    """One key per observation `[B, *obs_shape]`: its dtype and shape, then its bytes.

    Equal keys are equal network inputs; an equal value in another dtype is another key (a
    miss, never a wrong answer).
    """
    planes = np.ascontiguousarray(planes)
    head = f"{planes.dtype.str}{planes.shape[1:]}".encode()
    if len(planes) == 1:  # an engine's batch-of-one predict, the usual lookup: its bytes as they are
        return [head + planes.tobytes()]
    return [head + r for r in _row_bytes(planes.reshape(len(planes), -1).view(np.uint8))]


def _row_bytes(rows: np.ndarray) -> list[bytes]:
    """Each row of a [B, W] uint8 array as bytes, in one call (a void view's `tolist`)."""
    rows = np.ascontiguousarray(rows)
    return rows.view(np.dtype((np.void, rows.shape[1]))).reshape(-1).tolist() if rows.shape[1] else [b""] * len(rows)


@dataclass
class Lookup:
    """A lookup between `ExactLRU.look_up` and `ExactLRU.finish`: what was cached, what must be sent."""

    b: int  # rows asked
    hit: list[int]  # rows answered from the cache
    hit_logits: np.ndarray  # [H, A]
    hit_values: np.ndarray  # [H]
    miss: list[int]  # rows not cached
    first: dict[bytes, int]  # a missing key -> the row sent for it
    source: list[int]  # each missing row's sent row
    rows: np.ndarray  # [S] the rows to send, ascending


class ExactLRU:
    """The LRU core of every exact cache: answers, the bound, the counts, one lock.

    Args:
        entries: the most positions kept; the least recently used is dropped first.

    Counts (since construction): `asked` rows asked for, `hits` rows answered without being
    sent (found in the cache, or a repeat of another row of the same lookup), `sent` rows sent
    to the network, `calls` lookups that made a call, `full_hits` lookups answered without any.

    The answers live in two tables (rows of logits and values, grown by doubling up to
    `entries`); the ordered dict maps a key to its row, so a lookup and a store are one
    gather or scatter for the whole call, not a Python step per row.
    """

    def __init__(self, *, entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        self.entries = check_cache_entries(entries)
        self._store: OrderedDict[bytes, int] = OrderedDict()  # key -> its row in the tables, least recent first
        self._logits = np.empty((0, 0))  # [R, A] float64: answers' logits, R <= entries
        self._values = np.empty(0)  # [R] float64
        self._free: list[int] = []  # table rows no key holds
        self._lock = threading.Lock()  # several threads (games, a device thread, a server) may look up at once
        self.asked = self.hits = self.sent = self.calls = self.full_hits = 0

    def __len__(self) -> int:
        return len(self._store)

    @property
    def hit_share(self) -> float | None:
        """hits / asked (None before anything was asked)."""
        return self.hits / self.asked if self.asked else None

    def stats(self) -> dict[str, Any]:
        return {
            "cache_entries": self.entries, "cache_asked": self.asked, "cache_hits": self.hits,
            "cache_sent": self.sent, "cache_calls": self.calls, "cache_full_hits": self.full_hits,
            "cache_hit_share": self.hit_share, "cache_held": len(self._store),
        }

    def peek(self, keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray] | None:
        """All the rows' answers if every one is cached (counted as a lookup answered without a
        call), else None and nothing counted: the rows are then looked up with `answer`."""
        with self._lock:
            slots = list(map(self._store.get, keys))
            if not keys or None in slots:
                return None
            deque(map(self._store.move_to_end, keys), maxlen=0)
            self.asked += len(keys)
            self.hits += len(keys)
            self.full_hits += 1
            # `take` copies the rows (a row of the tables is reused once its key is dropped); it is
            # called once per predict of an engine, where fancy indexing's setup shows.
            at = cast(list[int], slots)  # no None among them
            return self._logits.take(at, axis=0), self._values.take(at)

    def answer(self, keys: Sequence[bytes], send: Send) -> tuple[np.ndarray, np.ndarray]:
        """One lookup: rows from the cache where it can, the rest through one `send`, each
        distinct row once; returns (logits [B, A], values [B]) float64."""
        look = self.look_up(keys)
        return self.finish(look, *send(look.rows)) if len(look.rows) else self.finish(look)

    def look_up(self, keys: Sequence[bytes]) -> Lookup:
        """The first half of `answer`: the cached rows' answers now, and which rows must be sent
        (`Lookup.rows`); `finish` completes it with their answers (possibly on another thread)."""
        with self._lock:
            slots = list(map(self._store.get, keys))
            hit = [i for i, s in enumerate(slots) if s is not None]
            deque(map(self._store.move_to_end, [keys[i] for i in hit]), maxlen=0)
            at = np.fromiter((slots[i] for i in hit), np.int64, len(hit))
            hit_logits, hit_values = self._logits[at], self._values[at]
        miss = [i for i, s in enumerate(slots) if s is None]
        first: dict[bytes, int] = {}  # a missing key -> the row that is sent for it
        source = [first.setdefault(keys[i], i) for i in miss]  # each missing row's sent row
        rows = np.fromiter(first.values(), np.int64, len(first))  # ascending: first occurrences in order
        return Lookup(len(keys), hit, hit_logits, hit_values, miss, first, source, rows)

    def finish(
        self, look: Lookup, lg: np.ndarray | None = None, vl: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """`look`'s answers: its cached rows and the sent rows' answers `lg`, `vl` (None: none were sent), stored."""
        b, hit, miss, rows = look.b, look.hit, look.miss, look.rows
        if len(rows):
            lg, vl = np.asarray(lg, np.float64), np.asarray(vl, np.float64).reshape(len(rows))
        else:
            lg, vl = np.empty((0, look.hit_logits.shape[1])), np.empty(0)
        logits, values = np.empty((b, lg.shape[1])), np.empty(b)
        if hit:
            logits[hit], values[hit] = look.hit_logits, look.hit_values
        if miss:
            j = np.searchsorted(rows, look.source)
            logits[miss], values[miss] = lg[j], vl[j]
        with self._lock:
            self._keep(list(look.first), lg, vl)
            self.asked += b
            self.sent += len(rows)
            self.hits += b - len(rows)
            if len(rows):
                self.calls += 1
            else:
                self.full_hits += 1
        return logits, values

    def _keep(self, keys: list[bytes], logits: np.ndarray, values: np.ndarray) -> None:
        """Store the answers of `keys` (rows of `logits`, `values`) as the most recent; the least
        recent are dropped past the bound, as if stored one by one. Called under the lock."""
        known = [j for j, key in enumerate(keys) if key in self._store]  # stored by another thread meanwhile
        for j in known:
            self._store.move_to_end(keys[j])
            self._logits[self._store[keys[j]]], self._values[self._store[keys[j]]] = logits[j], values[j]
        new = np.setdiff1d(np.arange(len(keys)), known) if known else np.arange(len(keys))
        for _ in range(min(max(len(self._store) + len(new) - self.entries, 0), len(self._store))):
            self._free.append(self._store.popitem(last=False)[1])
        new = new[max(len(new) - self.entries, 0):]  # more new keys than the bound: only the last ones stay
        at = self._rows(len(new), logits.shape[1])
        self._store.update(zip([keys[j] for j in new.tolist()], at.tolist(), strict=True))
        self._logits[at], self._values[at] = logits[new], values[new]

    def _rows(self, k: int, width: int) -> np.ndarray:
        """k free table rows, the tables grown (doubling, at most `entries` rows) when too few are free."""
        if len(self._free) < k:
            have = len(self._values)
            grown = min(self.entries, max(2 * have, have + k - len(self._free), 64))
            logits, values = np.empty((grown, width)), np.empty(grown)
            if have:
                logits[:have], values[:have] = self._logits, self._values
            self._logits, self._values = logits, values
            self._free.extend(range(grown - 1, have - 1, -1))
        taken, self._free[len(self._free) - k:] = self._free[len(self._free) - k:], []
        return np.array(taken[::-1], np.int64)


class EvalCache(ExactLRU):
    """An evaluate callable that answers repeated positions from a bounded LRU.

    Args:
        evaluate: `(stones, to_move, *, n_policy, n_value, level, **extra) -> (logits, values)`.
        entries: the most positions kept; the least recently used is dropped first.

    Counts: see `ExactLRU`.
    """

    def __init__(self, evaluate: Callable[..., tuple[np.ndarray, np.ndarray]], *, entries: int = DEFAULT_CACHE_ENTRIES) -> None:
        super().__init__(entries=entries)
        self.evaluate = evaluate

    def __getattr__(self, name: str) -> Any:
        # `game`, `device`, `precision`... of the wrapped Evaluator stay visible.
        if name in ("evaluate", "_store", "_lock"):
            raise AttributeError(name)
        return getattr(self.evaluate, name)

    def __call__(
        self,
        stones: np.ndarray,  # [B, D] compact rows
        to_move: np.ndarray,  # [B] int8
        *,
        n_policy: int | None = None,
        n_value: int | None = None,
        level: int = -1,
        **extra: Any,  # passed through (e.g. the evaluator's queue_wait_s)
    ) -> tuple[np.ndarray, np.ndarray]:  # [B, A] float64, [B] float64
        """Answer the rows from the cache where it can and send the rest, each distinct row once."""
        b = len(to_move)
        if b == 0:
            return self.evaluate(stones, to_move, n_policy=n_policy, n_value=n_value, level=level, **extra)
        look, send = self.split(stones, to_move, n_policy=n_policy, n_value=n_value, level=level, **extra)
        return self.finish(look, *send()) if send is not None else self.finish(look)

    def split(
        self, stones: np.ndarray, to_move: np.ndarray, *, n_policy: int | None = None, n_value: int | None = None,
        level: int = -1, **extra: Any,
    ) -> tuple[Lookup, Callable[[], tuple[np.ndarray, np.ndarray]] | None]:
        """A call in two halves: the lookup now, and the call of the rows not cached (None: every row
        was), which may run on another thread; `finish(lookup, *call())` answers all B rows."""
        b = len(to_move)
        look = self.look_up(row_keys(stones, to_move))
        rows = look.rows
        if not len(rows):
            return look, None

        def scaled(count: int | None) -> int | None:
            # Which sent rows want a policy is not passed down; the counts are split in proportion.
            return None if count is None else round(count * len(rows) / b)

        def send() -> tuple[np.ndarray, np.ndarray]:
            return self.evaluate(
                stones[rows], to_move[rows], n_policy=scaled(n_policy), n_value=scaled(n_value), level=level,
                asked=b, **extra,
            )

        return look, send


class ObservationCache(ExactLRU):
    """The exact cache in front of an engine's network: `predict(obs)` calls ask it, not the network.

    An engine perfkit did not write asks `predict(obs)` for one position at a time; its
    observations go to `forward` (`Tracer.evaluate`: planes `[B, *obs_shape]`, owners,
    queue_wait_s, asked) only when the cache does not hold them. Each lookup is charged to the
    moves that asked (`attribute(owners, shares)`: every row asked is a board of its move; a
    lookup of B rows that made a call is 1/B of it for each, one the cache answered wholly is
    no call: a cache hit is not a call, so the moves' calls add up to the calls table); the
    network's calls are recorded as they happen, with `asked`.

    Where it sits (`perfkit.search.engines.run`): `naive` looks each predict up here directly (a
    lookup of one row); the batch server (`crossgame`) looks a request up when it arrives
    (`lookup`: a request wholly cached never waits for a call) and looks each call's rows up
    when it fires (it is the server's forward), so a position asked by two games while its
    first call is in flight is sent once. With worker processes it sits in the device process
    only: see `perfkit.search.engines.workers`.

    Args:
        forward: `(planes, *, owners, queue_wait_s, asked) -> (logits [S, A], values [S])`.
        entries: the most observations kept; the least recently used is dropped first.
        attribute: `(owners, shares)`, the tracer's per-move accounting (None: not charged).
        owner_of: the calling thread's move, for `predict` (None: no owner).
    """

    def __init__(
        self,
        forward: Callable[..., tuple[np.ndarray, np.ndarray]],
        *,
        entries: int = DEFAULT_CACHE_ENTRIES,
        attribute: Callable[[Sequence[Any], np.ndarray], None] | None = None,
        owner_of: Callable[[], Any] | None = None,
    ) -> None:
        super().__init__(entries=entries)
        self.forward, self.attribute = forward, attribute
        self.owner_of = owner_of or (lambda: None)

    def _charge(self, owners: Sequence[Any] | None, b: int, *, called: bool = True) -> np.ndarray:
        """Each of `b` rows asked is a board of its move and 1/b of the call the lookup made; a lookup
        wholly answered by the cache made no call (`called=False`): its rows are 0 of a call, so the
        moves' calls add up to the calls table."""
        shares = np.full(b, 1.0 / b if called else 0.0)
        if self.attribute is not None and owners is not None:
            self.attribute(owners, shares)
        return shares

    def __call__(
        self, planes: np.ndarray, *, owners: Sequence[Any] | None = None, queue_wait_s: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """One lookup of B observations `[B, *obs_shape]` (a batch server's call) -> (logits [B, A], values [B]).

        The misses go to `forward` with no owners (the lookup charges the moves, for every row).
        """
        planes = np.asarray(planes)
        b = len(planes)

        sent: list[int] = []

        def send(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            sent.append(len(rows))
            return self.forward(planes[rows], owners=[None] * len(rows), queue_wait_s=queue_wait_s, asked=b)

        logits, values = self.answer(obs_keys(planes), send)
        self._charge(owners, b, called=bool(sent))
        return logits, values

    def lookup(self, planes: np.ndarray, owners: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """A request's answers if every row is cached: (logits [K, A], values [K], shares [K]); else None."""
        got = self.peek(obs_keys(np.asarray(planes)))
        if got is None:
            return None
        return got[0], got[1], self._charge(owners, len(got[1]), called=False)

    def predict(self, obs: np.ndarray) -> tuple[np.ndarray, float]:
        """A batch-of-one predict for an engine (naive): one lookup of one observation `[*obs_shape]`."""
        logits, values = self(np.asarray(obs)[None], owners=[self.owner_of()])
        return logits[0], float(values[0])


def cache_fields(cache: ExactLRU | None, boards: int) -> dict[str, Any]:
    """The summary's cache keys: what the search asked for, and the share the cache answered."""
    if cache is None:
        return {"boards_asked": boards, "cache_hit_share": None, "cache_entries": None}
    return {"boards_asked": cache.asked, "cache_hit_share": cache.hit_share, "cache_entries": cache.entries}
