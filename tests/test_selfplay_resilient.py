"""A failing network call: split the batch and retry; a persistent failure stops cleanly (SPEC §6)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from perfkit import load_selfplay
from perfkit.measure.bench import BenchSettings
from perfkit.model.resilient import ForwardFailed, Resilient
from perfkit.selfplay import SelfplaySettings, selfplay
from perfkit.types import PerfkitError

CELLS = 25


class Fake:
    """A deterministic network that fails on demand and remembers every call's batch size."""

    def __init__(self, *, fail_above: int | None = None, fail_first: int = 0, fail_from: int | None = None):
        self.fail_above, self.fail_first, self.fail_from = fail_above, fail_first, fail_from
        self.attempts: list[int] = []  # batch size of every call, failed or not
        self.served: list[int] = []  # batch size of every call that succeeded
        self.kwargs: list[dict] = []

    def __call__(self, stones, to_move, **kwargs):
        b = len(to_move)
        self.attempts.append(b)
        k = len(self.attempts)
        if k <= self.fail_first or (self.fail_from is not None and k >= self.fail_from):
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        if self.fail_above is not None and b > self.fail_above:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        self.served.append(b)
        self.kwargs.append(kwargs)
        logits = np.sin(np.arange(CELLS) + stones.astype(np.float64).sum(axis=1, keepdims=True))
        return logits, np.tanh(stones.astype(np.float64) @ np.linspace(-1, 1, CELLS) / 10)


def boards(b: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, (b, CELLS)).astype(np.int8), np.ones(b, np.int8)


def test_splits_a_failing_batch_and_remembers_the_size_that_fits():
    stones, to_move = boards(40)
    want = Fake()(stones, to_move)
    fake = Fake(fail_above=8)
    failures = []
    wrapped = Resilient(fake, on_failure=lambda b, exc: failures.append(b))
    got = wrapped(stones, to_move, n_policy=40, n_value=30, level=2, queue_wait_s=0.5)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert fake.attempts == [40, 20, 10, 5, 5, 5, 5, 5, 5, 5, 5]
    assert sum(fake.served) == 40 and max(fake.served) <= 8
    assert failures == [40, 20, 10] and wrapped.failures == 3 and wrapped.splits == 3
    assert sum(k["n_policy"] for k in fake.kwargs) == 40 and sum(k["n_value"] for k in fake.kwargs) == 30
    assert {k["level"] for k in fake.kwargs} == {2} and {k["queue_wait_s"] for k in fake.kwargs} == {0.5}
    # The next big call goes straight to the size that worked: no failed attempt.
    fake.attempts.clear()
    wrapped(*boards(12, seed=1))
    assert fake.attempts == [5, 5, 2] and wrapped.failures == 3


def test_a_transient_failure_is_retried():
    stones, to_move = boards(1)
    fake = Fake(fail_first=2)
    sleeps = []
    got = Resilient(fake, retries=2, sleep=sleeps.append, backoff_s=0.1)(stones, to_move)
    np.testing.assert_array_equal(got[1], Fake()(stones, to_move)[1])
    assert fake.attempts == [1, 1, 1] and sleeps == [0.1, 0.2]


def test_a_persistent_failure_raises_a_clear_error():
    fake = Fake(fail_from=1)
    wrapped = Resilient(fake, retries=2, sleep=lambda s: None)
    with pytest.raises(ForwardFailed, match=r"failed on a single board after 2 retries: RuntimeError: CUDA out of memory"):
        wrapped(*boards(4))
    assert fake.attempts == [4, 2, 1, 1, 1]  # halves down to one board, then the retries


def test_a_users_mistake_is_not_retried():
    def bad(stones, to_move, **kwargs):
        calls.append(len(to_move))
        raise PerfkitError("--device cuda asked for, but CUDA is not available")

    calls = []
    with pytest.raises(PerfkitError, match="CUDA is not available"):
        Resilient(bad)(*boards(8))
    assert calls == [8]


# -- in a self-play run ----------------------------------------------------------------------


class Flaky:
    """Wraps the real evaluator: fails on batches above `fail_above`, or on every call from `fail_from`."""

    def __init__(self, evaluate, *, fail_above=None, fail_from=None):
        self.evaluate, self.fail_above, self.fail_from = evaluate, fail_above, fail_from
        self.calls = 0

    def __call__(self, stones, to_move, **kwargs):
        self.calls += 1
        if (self.fail_above is not None and len(to_move) > self.fail_above) or (
            self.fail_from is not None and self.calls >= self.fail_from
        ):
            raise RuntimeError("CUDA out of memory (injected)")
        return self.evaluate(stones, to_move, **kwargs)


def run_settings(games=6) -> SelfplaySettings:
    w = BenchSettings(preset="tiny", games=games, precision="float64", concurrency=3)
    return SelfplaySettings(workload=w, shard_games=1, retries=1)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "sp"
    selfplay(run_settings(), out, progress=False)
    return load_selfplay(out)


def test_selfplay_splits_and_plays_the_same_games(tmp_path, clean):
    notes = []
    summary = selfplay(
        run_settings(), tmp_path / "sp", progress=False, log=notes.append,
        wrap_evaluate=lambda ev: Flaky(ev, fail_above=16),
    )
    assert summary["batch_splits"] > 0 and summary["forward_failures"] >= summary["batch_splits"]
    assert summary["unique_games"] == 6
    assert len(notes) == 1 and "splitting batches and retrying" in notes[0]
    got = load_selfplay(tmp_path / "sp")
    np.testing.assert_array_equal(got.moves["move"], clean.moves["move"])
    np.testing.assert_allclose(got.moves["minimax_value"], clean.moves["minimax_value"], rtol=0, atol=1e-9)


def test_persistent_failure_stops_cleanly_keeping_completed_games(tmp_path, clean):
    out = tmp_path / "sp"
    # Three games in flight, ~60 calls per wave of games: the first games end, then it breaks.
    with pytest.raises(ForwardFailed) as failed:
        selfplay(run_settings(), out, progress=False, wrap_evaluate=lambda ev: Flaky(ev, fail_from=80))
    message = str(failed.value)
    assert "network call failed on a single board after 1 retries" in message
    kept = load_selfplay(out)
    assert 0 < len(kept.games) < 6
    assert f"{len(kept.games)} of 6 games are stored in {out}" in message and "every completed game kept" in message
    assert json.loads((out / "progress.json").read_text())["state"] == "failed"
    want = clean.moves[clean.moves["game"].isin(kept.games["game"])].reset_index(drop=True)
    np.testing.assert_array_equal(kept.moves["move"], want["move"])
    # Fixed, the same command finishes the run with the same games as an unbroken one.
    summary = selfplay(run_settings(), out, progress=False)
    assert summary["unique_games"] == summary["games"] == 6
    assert summary["session_games"] == 6 - len(kept.games)
    np.testing.assert_array_equal(load_selfplay(out).moves["move"], clean.moves["move"])
