"""A network call that survives a failing forward: split the batch in halves and retry (SPEC §6).

`Resilient` wraps any evaluate callable (the `Evaluator`, a user's model, a fake in a test).
When a call raises (CUDA out of memory, or any other error) the batch is split in two halves,
each evaluated on its own, recursively; the first failing size becomes a cap that later calls
are split to in advance, so an out-of-memory batch is not attempted again and again. A single
board that still fails after `retries` further attempts raises `ForwardFailed`, a
PerfkitError: the caller stops cleanly, keeping what it has already produced.

It lives with the model (not with self-play) so that any loop that calls a network, `bench`
included, can use it. Splitting changes only how boards are grouped into calls: in float64 on
the CPU the results are the same to 1e-9 (SPEC §1.4); in float32 they can differ in the last
bits, exactly as a different `--max-batch` would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from perfkit.types import PerfkitError

DEFAULT_RETRIES = 2  # further attempts on a single board before giving up


class ForwardFailed(PerfkitError):
    """The network failed even on a single board, after the retries."""


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _free_device_memory(exc: BaseException, backend: Any) -> None:
    """After an out-of-memory error, the device (`backend`, a perfkit Device where the evaluate
    has one) returns its cached blocks so that smaller batches fit."""
    free = getattr(backend, "free_memory", None)
    if "out of memory" not in str(exc).lower() or not callable(free):
        return
    try:
        free()
    except Exception:  # noqa: BLE001 - freeing memory is best effort
        pass


class Resilient:
    """An evaluate callable that splits failing batches and retries them.

    Args:
        evaluate: `(stones, to_move, *, n_policy, n_value, level) -> (logits, values)`.
        retries: further attempts on a single board before `ForwardFailed`.
        backoff_s: pause before the k-th retry of a single board is `backoff_s * 2**k`.
        on_failure: told `(batch_boards, exception)` of every failed call (logging, progress).
        sleep: injectable for tests.
    """

    def __init__(
        self,
        evaluate: Callable[..., tuple[np.ndarray, np.ndarray]],
        *,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = 0.05,
        on_failure: Callable[[int, BaseException], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise PerfkitError(f"retries must be >= 0, got {retries}")
        self.evaluate = evaluate
        self.retries = retries
        self.backoff_s = backoff_s
        self.on_failure = on_failure
        self.sleep = sleep
        self.cap: int | None = None  # calls above this many boards are split in advance
        self.failures = 0  # failed calls, all sizes
        self.splits = 0  # batches split in two after a failure

    def __getattr__(self, name: str) -> Any:
        # `n`, `device`, `precision`... of the wrapped Evaluator stay visible.
        if name == "evaluate":
            raise AttributeError(name)
        return getattr(self.evaluate, name)

    def __call__(
        self,
        stones: np.ndarray,
        to_move: np.ndarray,
        *,
        n_policy: int | None = None,
        n_value: int | None = None,
        level: int = -1,
        **extra: Any,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The wrapped evaluate's answer for the B boards, in as many calls as it takes to succeed.

        stones [B, D] compact rows (Hex: int8 [B, N*N]), to_move [B] int8 -> logits [B, A] float64,
        values [B] float64; `extra` (e.g. the evaluator's queue_wait_s) goes through unchanged.
        """
        b = len(to_move)
        if self.cap is not None and b > self.cap:
            return self._in_parts(stones, to_move, n_policy, n_value, level, extra, self.cap)
        # Only a single board is retried as it is: a larger batch is split at its first failure.
        for attempt in range(self.retries + 1 if b == 1 else 1):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                return self.evaluate(stones, to_move, n_policy=n_policy, n_value=n_value, level=level, **extra)
            except PerfkitError:
                raise  # the user's mistake (bad device, foreign checkpoint): retrying won't help
            except Exception as exc:  # noqa: BLE001 - any failing forward is retried smaller
                self.failures += 1
                last = exc
                _free_device_memory(exc, getattr(self.evaluate, "backend", None))
                if self.on_failure is not None:
                    self.on_failure(b, exc)
        if b == 1:
            raise ForwardFailed(
                f"network call failed on a single board after {self.retries} retries: {_cause(last)}"
            ) from last
        self.splits += 1
        half = (b + 1) // 2
        self.cap = half if self.cap is None else min(self.cap, half)
        return self._in_parts(stones, to_move, n_policy, n_value, level, extra, half)

    def _in_parts(
        self, stones: np.ndarray, to_move: np.ndarray, n_policy: int | None, n_value: int | None, level: int,
        extra: dict[str, Any], size: int,
    ) -> tuple[np.ndarray, np.ndarray]:  # [B, A], [B] float64
        b = len(to_move)
        logits, values = [], []
        for lo in range(0, b, size):
            hi = min(b, lo + size)
            # The policy/value counts only feed call accounting; split them in proportion.
            lg, vl = self(
                stones[lo:hi], to_move[lo:hi], level=level,
                n_policy=None if n_policy is None else _share(n_policy, lo, hi, b),
                n_value=None if n_value is None else _share(n_value, lo, hi, b), **extra,
            )
            logits.append(lg)
            values.append(vl)
        return np.concatenate(logits), np.concatenate(values)


def _share(count: int, lo: int, hi: int, b: int) -> int:
    return count * hi // b - count * lo // b
