"""The exact evaluation cache (perfkit.batching.cache): same games, exact counts, a hard bound.

- float64 games are identical with and without the cache, for every strategy and with workers;
- hits and misses are counted exactly on a hand-made sequence of calls (OpenSpiel's
  evaluator_test style), and only the misses reach the network, each distinct position once;
- the cache never holds more than its bound, even a tiny one, over real games;
- a bad cache size is one line and a non-zero exit, with nothing written.
"""

from __future__ import annotations

import numpy as np
import pytest

from perfkit.batching.cache import EvalCache, row_keys
from perfkit.measure.bench import BenchSettings, bench
from perfkit.strategies import STRATEGIES, Engine, make_strategy
from perfkit.types import PerfkitError, SearchConfig

GAMES = 4


def tiny(**changes) -> BenchSettings:
    return BenchSettings(preset="tiny", games=GAMES, precision="float64", device="cpu", threads=1, **changes)


# --------------------------------------------------------------------------- same games


@pytest.fixture(scope="module")
def uncached_digest() -> str:
    return bench(["naive"], tiny(cache=False), out=None, progress=False)[0].summary["game_digest"]


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_float64_games_identical_with_and_without_the_cache(strategy, uncached_digest):
    on, off = (bench([strategy], tiny(cache=c), out=None, progress=False)[0] for c in (True, False))
    assert on.summary["game_digest"] == off.summary["game_digest"] == uncached_digest
    assert on.summary["boards_asked"] == off.summary["boards"] == off.summary["boards_asked"]
    assert on.summary["boards"] < on.summary["boards_asked"]  # the search repeats itself
    assert on.summary["cache_hit_share"] == pytest.approx(1 - on.summary["boards"] / on.summary["boards_asked"])
    assert off.summary["cache_hit_share"] is None
    # The calls table keeps what was asked and what was sent.
    calls = on.calls
    assert (calls["asked"] >= calls["batch"]).all()
    assert int(calls["batch"].sum()) == on.summary["boards"]
    assert off.calls["asked"].isna().all()
    # Moves are charged with what they asked for: every lookup, every board asked.
    cache = on.manifest["cache"]
    assert int(on.moves["boards"].sum()) == cache["cache_asked"] == on.summary["boards_asked"]
    assert on.moves["calls"].sum() == pytest.approx(cache["cache_calls"] + cache["cache_full_hits"], abs=1e-9)
    assert cache["cache_calls"] == len(calls)


def test_float64_games_identical_with_workers_and_the_cache(uncached_digest):
    run = bench(["crossgame"], tiny(workers=2, concurrency=4, max_batch=16), out=None, progress=False)[0]
    assert run.summary["game_digest"] == uncached_digest
    assert run.summary["cache_hit_share"] > 0


def test_selfplay_writes_the_same_games_with_and_without_the_cache(tmp_path):
    from perfkit.selfplay import SelfplaySettings, selfplay

    digests = {}
    for cache in (True, False):
        s = SelfplaySettings(workload=tiny(cache=cache, concurrency=2), strategy="crossgame", shard_games=2)
        digests[cache] = selfplay(s, tmp_path / str(cache), progress=False)["game_digest"]
    assert digests[True] == digests[False]


# --------------------------------------------------------------------------- exact counts


class Network:
    """A fake network: a position's answer is a function of its row; every call is kept."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[bytes], dict]] = []

    def __call__(self, stones, to_move, **kwargs):
        self.calls.append((row_keys(stones, to_move), kwargs))
        s = stones.astype(np.float64)
        return np.stack([s.sum(1), s[:, 0] + to_move], axis=1), s.sum(1) / 10 - to_move


def rows(*cells: int, to_move: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """One row per cell: stones with that cell set, and the side to move."""
    stones = np.zeros((len(cells), 4), np.int8)
    stones[np.arange(len(cells)), cells] = 1
    return stones, np.full(len(cells), to_move, np.int8)


def test_hits_and_misses_are_counted_exactly():
    net = Network()
    cache = EvalCache(net, entries=3)
    a, b, c, d = 0, 1, 2, 3

    logits, values = cache(*rows(a, b, a, c), n_policy=4, n_value=2, level=1)  # a repeats inside the call
    expect = net(*rows(a, b, a, c))
    net.calls.pop()
    np.testing.assert_array_equal(logits, expect[0])
    np.testing.assert_array_equal(values, expect[1])
    assert len(net.calls) == 1 and len(net.calls[0][0]) == 3  # a, b, c: each distinct position once
    assert net.calls[0][1] == {"n_policy": 3, "n_value": 2, "level": 1, "asked": 4}
    assert (cache.asked, cache.hits, cache.sent, cache.calls, len(cache)) == (4, 1, 3, 1, 3)

    cache(*rows(b, d))  # b hits (now most recent), d misses and drops a, the least recently used
    assert len(net.calls[1][0]) == 1
    assert (cache.asked, cache.hits, cache.sent, len(cache)) == (6, 2, 4, 3)

    cache(*rows(b, c, d))  # all three cached: no call at all
    assert len(net.calls) == 2
    assert (cache.asked, cache.hits, cache.full_hits) == (9, 5, 1)

    cache(*rows(a))  # a was dropped: a miss
    cache(*rows(a, to_move=2))  # the side to move is part of the key
    assert len(net.calls) == 4
    assert (cache.asked, cache.hits, cache.sent, cache.calls) == (11, 5, 6, 4)
    assert cache.hit_share == pytest.approx(5 / 11)
    assert len(cache) == 3


# --------------------------------------------------------------------------- the bound


def test_a_tiny_cache_never_exceeds_its_bound_and_plays_the_same_games(uncached_digest):
    from perfkit.measure.bench import Workload

    workload = Workload.prepare(tiny())
    evaluator = workload.evaluator()
    held = []

    def network(stones, to_move, **kwargs):
        held.append(len(cache))
        return evaluator(stones, to_move, **{k: v for k, v in kwargs.items() if k != "asked"})

    cache = EvalCache(network, entries=7)
    engine = Engine(evaluate=cache, game=evaluator.game, config=SearchConfig(), seed=0)
    games = list(make_strategy("permove").play(range(GAMES), engine))
    held.append(len(cache))
    assert max(held) == 7
    assert cache.hits > 0
    bounded = bench(["permove"], tiny(cache_size=7), out=None, progress=False)[0]
    assert bounded.summary["game_digest"] == uncached_digest
    assert sorted(g.game for g in games) == list(range(GAMES))


# --------------------------------------------------------------------------- bad sizes


@pytest.mark.parametrize("size", [0, -1, 2.5, "100", True])
def test_bad_cache_sizes_in_the_api(size):
    with pytest.raises(PerfkitError, match="cache size"):
        BenchSettings(cache_size=size)
    with pytest.raises(PerfkitError, match="cache size"):
        EvalCache(lambda *a, **k: None, entries=size)


@pytest.mark.parametrize("command", ["bench", "selfplay", "profile"])
@pytest.mark.parametrize("size", [["0"], ["-3"], ["many"], ["10", "--no-cache"]])
def test_bad_cache_sizes_on_the_command_line(command, size, tmp_path, capsys):
    from perfkit.cli import main

    out = tmp_path / "out"
    argv = [command, "--preset", "tiny", "--cache-size", *size, "--out", str(out)]
    if command == "selfplay":
        argv += ["--games", "2"]
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    assert code != 0
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "--cache-size" in captured.err
    assert not out.exists()


def test_no_cache_and_cache_size_reach_the_settings():
    import argparse

    from perfkit.cli import add_workload_args, bench_settings

    p = argparse.ArgumentParser()
    add_workload_args(p)
    p.add_argument("--games", type=int, default=1)
    assert bench_settings(p.parse_args(["--device", "cpu"])).cache is True
    assert bench_settings(p.parse_args(["--device", "cpu", "--no-cache"])).cache is False
    assert bench_settings(p.parse_args(["--device", "cpu", "--cache-size", "9"])).cache_size == 9
