"""Which game ids are done, as sorted disjoint ranges: memory follows fragmentation, not N.

A run's ids are 0..N-1 and finish roughly in order (the games in flight form a window), so the
done set is a few ranges however large N is: `--games 10**12` costs what `--games 10**4` costs.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator

import numpy as np

Range = tuple[int, int]  # [lo, hi): the ids lo, lo+1, ..., hi-1


def ranges_of(ids: Iterable[int]) -> list[Range]:
    """The ids as sorted maximal ranges (duplicates ignored)."""
    a = np.unique(np.fromiter(ids, np.int64)) if not isinstance(ids, np.ndarray) else np.unique(ids)
    if not len(a):
        return []
    breaks = np.flatnonzero(np.diff(a) != 1) + 1  # [K] positions where a new range starts
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(a)]])
    return [(int(a[s]), int(a[e - 1]) + 1) for s, e in zip(starts, ends, strict=True)]


class Ledger:
    """A set of non-negative game ids kept as sorted, disjoint, non-touching ranges [lo, hi)."""

    def __init__(self, ranges: Iterable[Range] = ()) -> None:
        self._lo: list[int] = []  # [R] range starts, increasing
        self._hi: list[int] = []  # [R] range ends (exclusive); hi[i] < lo[i+1]
        for lo, hi in ranges:
            self.add_range(lo, hi)

    # -- queries ---------------------------------------------------------------------------

    @property
    def n_ranges(self) -> int:
        """Size of the ledger: 2 ints per range, whatever N is."""
        return len(self._lo)

    @property
    def count(self) -> int:
        return sum(h - lo for lo, h in zip(self._lo, self._hi, strict=True))

    def ranges(self) -> list[Range]:
        return list(zip(self._lo, self._hi, strict=True))

    def __contains__(self, game: int) -> bool:
        i = bisect.bisect_right(self._lo, game) - 1
        return i >= 0 and game < self._hi[i]

    def overlaps(self, lo: int, hi: int) -> bool:
        """Whether any id of [lo, hi) is in the ledger."""
        i = bisect.bisect_right(self._lo, hi - 1) - 1  # the last range starting before hi
        return i >= 0 and self._hi[i] > lo

    def count_below(self, n: int) -> int:
        return sum(min(h, n) - lo for lo, h in zip(self._lo, self._hi, strict=True) if lo < n)

    def max_id(self) -> int:
        """The largest id, -1 if empty."""
        return self._hi[-1] - 1 if self._hi else -1

    def missing(self, n: int) -> MissingIds:
        """The ids below `n` not in the ledger now, lazily (later additions do not change it)."""
        return MissingIds(self.ranges(), n, n - self.count_below(n))

    # -- updates ---------------------------------------------------------------------------

    def add(self, game: int) -> bool:
        """Add one id; False if it was already there."""
        if game in self:
            return False
        self.add_range(game, game + 1)
        return True

    def add_range(self, lo: int, hi: int) -> None:
        """Union with [lo, hi), merging every range it overlaps or touches."""
        if hi <= lo:
            return
        j = bisect.bisect_left(self._hi, lo)  # first range ending at or after lo: touches or follows
        k = bisect.bisect_right(self._lo, hi)  # ranges before k start at or before hi
        if j < k:
            lo, hi = min(lo, self._lo[j]), max(hi, self._hi[k - 1])
        self._lo[j:k] = [lo]
        self._hi[j:k] = [hi]

    def remove_range(self, lo: int, hi: int) -> None:
        """Difference with [lo, hi) (a shard set aside after it was counted)."""
        if hi <= lo:
            return
        j = bisect.bisect_right(self._hi, lo)  # first range ending after lo
        k = bisect.bisect_left(self._lo, hi)  # ranges before k start before hi
        keep_lo, keep_hi = [], []
        if j < k and self._lo[j] < lo:
            keep_lo.append(self._lo[j])
            keep_hi.append(lo)
        if j < k and self._hi[k - 1] > hi:
            keep_lo.append(hi)
            keep_hi.append(self._hi[k - 1])
        self._lo[j:k] = keep_lo
        self._hi[j:k] = keep_hi

    def copy(self) -> Ledger:
        out = Ledger()
        out._lo, out._hi = list(self._lo), list(self._hi)
        return out


class MissingIds:
    """Ids in [0, n) outside some ranges, in increasing order; has a length, costs O(ranges)."""

    def __init__(self, done: list[Range], n: int, count: int) -> None:
        self.done, self.n, self.count = done, n, count

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def __iter__(self) -> Iterator[int]:
        start = 0
        for lo, hi in self.done:
            if lo >= self.n:
                break
            yield from range(start, lo)
            start = max(start, hi)
        yield from range(start, self.n)
