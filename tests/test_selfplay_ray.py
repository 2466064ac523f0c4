"""The Ray backend (a local 2-CPU instance): the same games as local, dead actors, failing forwards."""

from __future__ import annotations

import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from perfkit import load_selfplay  # noqa: E402
from perfkit.measure.bench import BenchSettings  # noqa: E402
from perfkit.model.resilient import ForwardFailed  # noqa: E402
from perfkit.selfplay import SelfplaySettings, selfplay  # noqa: E402

N = 8

# The actors unpickle the fakes below: ship this module by value, the tests folder isn't importable there.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def run_settings(backend: str, games: int = N, *, cache: bool = True) -> SelfplaySettings:
    w = BenchSettings(preset="tiny", games=games, precision="float64", concurrency=2, cache=cache)
    return SelfplaySettings(workload=w, backend=backend, ray_workers=2, chunk_games=2, shard_games=2, retries=0)


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "sp"
    summary = selfplay(run_settings("local"), out, progress=False)
    return summary, load_selfplay(out)


def assert_same_games(got, want) -> None:
    assert list(got.games["game"]) == list(want.games["game"])
    np.testing.assert_array_equal(got.moves["move"], want.moves["move"])
    np.testing.assert_array_equal(got.games["winner"], want.games["winner"])
    for col in ("root_value", "minimax_value"):
        np.testing.assert_allclose(got.moves[col], want.moves[col], rtol=0, atol=1e-9)


def test_ray_plays_the_same_games_as_local(cluster, local, tmp_path):
    summary = selfplay(run_settings("ray"), tmp_path / "sp", progress=False)
    assert summary["backend"] == "ray" and summary["workers"] == 2
    assert summary["games"] == summary["unique_games"] == N
    assert summary["game_digest"] == local[0]["game_digest"]
    assert_same_games(load_selfplay(tmp_path / "sp"), local[1])


def test_a_dead_actor_is_replaced_and_its_games_replayed(cluster, local, tmp_path):
    killed = []

    def kill_once(backend):
        if not killed:
            killed.append(backend.actors[0])
            ray.kill(backend.actors[0], no_restart=True)

    notes = []
    summary = selfplay(run_settings("ray"), tmp_path / "sp", progress=False, on_ray_result=kill_once, log=notes.append)
    assert killed and summary["actor_restarts"] >= 1
    assert any("died" in n for n in notes)
    assert summary["games"] == summary["unique_games"] == N
    assert summary["game_digest"] == local[0]["game_digest"]


class BreaksAfter:
    """The real evaluator, failing for good from the `n`-th call of each actor."""

    def __init__(self, evaluate, n):
        self.evaluate, self.n, self.calls = evaluate, n, 0

    def __call__(self, stones, to_move, **kwargs):
        self.calls += 1
        if self.calls >= self.n:
            raise RuntimeError("CUDA error: an illegal memory access was encountered (injected)")
        return self.evaluate(stones, to_move, **kwargs)


def test_a_persistent_failure_on_an_actor_stops_keeping_completed_games(cluster, local, tmp_path):
    out = tmp_path / "sp"
    # Each actor's first chunk (2 games, ~60 calls) completes; its second one breaks. The
    # cache is off: it would answer repeated positions and move the failure's call count.
    with pytest.raises(ForwardFailed, match="every completed game kept") as failed:
        selfplay(run_settings("ray", cache=False), out, progress=False, wrap_evaluate=lambda ev: BreaksAfter(ev, 100))
    assert "illegal memory access" in str(failed.value)
    kept = load_selfplay(out)
    assert 0 < len(kept.games) < N
    want = local[1]
    sub = want.moves[want.moves["game"].isin(kept.games["game"])].reset_index(drop=True)
    np.testing.assert_array_equal(kept.moves["move"], sub["move"])
