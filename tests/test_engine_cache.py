"""The exact evaluation cache in front of engines perfkit did not write (`ObservationCache`).

- float64 games are identical with and without the cache, for OpenSpiel's `MCTSBot` under
  naive, crossgame and crossgame with 2 worker processes, and for the alpha-zero-general
  example; the moves are charged with every lookup and row asked, the calls table keeps
  what was asked and what was sent;
- hits and misses are counted exactly: on a hand-made sequence of lookups, and over real
  games against a counting network and a counting engine (the network sees each distinct
  observation once; asked is every predict);
- the cache never holds more than a tiny bound, and the games stay the same;
- a bad cache size with --engine is one line and a non-zero exit, with nothing written.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from perfkit.batching.cache import ObservationCache, obs_keys
from perfkit.model import build_game_model
from perfkit.search.engines import EngineOptions, make_engine, play_engine
from perfkit.search.engines import run as engine_run
from perfkit.types import PerfkitError

pytest.importorskip("pyspiel")

ROOT = Path(__file__).resolve().parent.parent
AZG = f"{ROOT / 'examples' / 'azg_mcts.py'}:engine"
GAMES, SIMULATIONS = 8, 4
RECIPE = {"spec": "openspiel-mcts", "game": "connect_four", "simulations": SIMULATIONS, "seed": 0}
MODES = {  # name -> (strategy, EngineOptions keywords)
    "naive": ("naive", {}),
    "crossgame": ("crossgame", {"concurrency": 4}),
    "crossgame-workers2": ("crossgame", {"concurrency": 4, "workers": 2}),
}


@pytest.fixture(scope="module")
def mcts():
    engine = make_engine("openspiel-mcts", game="connect_four", simulations=SIMULATIONS, seed=0)
    return engine, build_game_model(engine.obs_shape, engine.actions, preset="tiny", seed=0)


def play(engine, net, mode: str, *, recipe=RECIPE, **options):
    strategy, keywords = MODES[mode]
    return play_engine(
        engine, net, strategy, EngineOptions(games=GAMES, **keywords, **options), precision="float64", recipe=recipe,
    )


@pytest.fixture(scope="module")
def uncached(mcts):
    return play(*mcts, "naive", cache=False)


@pytest.fixture(scope="module")
def cached_naive(mcts):
    return play(*mcts, "naive")


def check_accounting(on, off) -> None:
    """What a cached run records: asked and sent, moves charged with every lookup and row asked."""
    cache = on.manifest["cache"]
    assert on.summary["boards_asked"] == cache["cache_asked"] == off.summary["boards"] == off.summary["boards_asked"]
    assert on.summary["boards"] == cache["cache_sent"] < cache["cache_asked"]  # games repeat openings
    assert on.summary["cache_hit_share"] == pytest.approx(1 - on.summary["boards"] / on.summary["boards_asked"])
    assert on.summary["cache_entries"] == on.manifest["strategy_settings"]["cache_entries"]
    assert off.summary["cache_hit_share"] is None and off.manifest["cache"] is None
    # The calls table keeps what was asked and what was sent.
    assert (on.calls["asked"] >= on.calls["batch"]).all()
    assert int(on.calls["batch"].sum()) == on.summary["boards"]
    assert cache["cache_calls"] == len(on.calls) == on.summary["calls"]
    assert off.calls["asked"].isna().all()
    # The moves: every row asked is a board of its move; a cache hit is not a call: the moves' calls
    # add up to the calls table (a lookup the cache answered wholly is no call).
    assert int(on.moves["boards"].sum()) == cache["cache_asked"]
    assert on.moves["calls"].sum() == pytest.approx(cache["cache_calls"], abs=1e-9)
    assert int(off.moves["boards"].sum()) == off.summary["boards"]
    assert off.moves["calls"].sum() == pytest.approx(off.summary["calls"], abs=1e-9)


# --------------------------------------------------------------------------- same games


@pytest.mark.parametrize("mode", list(MODES))
def test_float64_mcts_games_identical_with_and_without_the_cache(mcts, uncached, cached_naive, mode):
    on, off = (play(*mcts, mode, cache=c) for c in (True, False))
    assert on.summary["game_digest"] == off.summary["game_digest"] == uncached.summary["game_digest"]
    assert list(on.games["winner"]) == list(uncached.games["winner"])
    check_accounting(on, off)
    # Like with like: whoever batches them, the network is sent each distinct observation once.
    assert on.summary["boards"] == cached_naive.summary["boards"]


def test_float64_azg_example_games_identical_with_and_without_the_cache():
    engine = make_engine(AZG, game="connect_four", simulations=8, seed=0)
    net = build_game_model(engine.obs_shape, engine.actions, preset="tiny", seed=0)
    runs = {
        (mode, cache): play(engine, net, mode, cache=cache, max_wait_s=60.0)
        for mode in ("naive", "crossgame") for cache in (True, False)
    }
    digests = {key: run.summary["game_digest"] for key, run in runs.items()}
    assert len(set(digests.values())) == 1, digests
    for mode in ("naive", "crossgame"):
        check_accounting(runs[mode, True], runs[mode, False])
    assert runs["naive", True].summary["boards"] == runs["crossgame", True].summary["boards"]


# --------------------------------------------------------------------------- exact counts


class Network:
    """A fake network: an observation's answer is a function of its values; every call is kept."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, planes, *, owners=None, queue_wait_s=None, asked=None):
        self.calls.append(len(planes))
        flat = np.asarray(planes, np.float64).reshape(len(planes), -1)
        return np.stack([flat.sum(1), flat[:, 0]], axis=1), flat.sum(1) / 10


def obs(*values: float, dtype=np.float32) -> np.ndarray:
    """One observation [2, 2] per value."""
    return np.stack([np.full((2, 2), v, dtype) for v in values])


def test_hits_and_misses_are_counted_exactly():
    net = Network()
    charged: list[tuple[list, list[float]]] = []
    cache = ObservationCache(net, entries=3, attribute=lambda owners, shares: charged.append((list(owners), list(shares))))
    a, b, c, d = 1.0, 2.0, 3.0, 4.0

    logits, values = cache(obs(a, b, a, c), owners=["m1", "m1", "m2", "m2"])  # a repeats inside the lookup
    expect = Network()(obs(a, b, a, c))
    np.testing.assert_array_equal(logits, expect[0])
    np.testing.assert_array_equal(values, expect[1])
    assert net.calls == [3]  # a, b, c: each distinct observation once
    assert (cache.asked, cache.hits, cache.sent, cache.calls, len(cache)) == (4, 1, 3, 1, 3)
    assert charged[-1] == (["m1", "m1", "m2", "m2"], [0.25] * 4)  # every row asked, 1/4 of the lookup each

    assert cache.lookup(obs(b, d), ["m3", "m3"]) is None  # d is not cached: nothing counted, nothing charged
    assert (cache.asked, len(charged)) == (4, 1)
    got = cache.lookup(obs(c, b), ["m3", "m3"])  # both cached: answered without a call
    assert got is not None and list(got[2]) == [0.0, 0.0]  # a cache hit is not a call
    assert charged[-1] == (["m3", "m3"], [0.0, 0.0])  # boards of their move, no call
    np.testing.assert_array_equal(got[1], Network()(obs(c, b))[1])
    assert (cache.asked, cache.hits, cache.full_hits, net.calls) == (6, 3, 1, [3])

    cache(obs(d))  # d misses and drops a, the least recently used
    assert net.calls == [3, 1] and len(cache) == 3
    logits, value = cache.predict(obs(a)[0])  # a was dropped: a miss
    assert net.calls == [3, 1, 1] and value == Network()(obs(a))[1][0]
    cache(obs(a, dtype=np.float64))  # the same values in another dtype are another input
    assert net.calls == [3, 1, 1, 1]
    assert (cache.asked, cache.hits, cache.sent, cache.calls) == (9, 3, 6, 4)
    assert cache.hit_share == pytest.approx(3 / 9)
    assert len(cache) == 3
    assert len(set(obs_keys(np.concatenate([obs(a), obs(a)])))) == 1


class CountingNet(torch.nn.Module):
    """A network that keeps the bytes of every observation it is given, outside perfkit."""

    def __init__(self, net) -> None:
        super().__init__()
        self.net, self.seen = net, []

    def forward(self, x):
        self.seen += [row.to(torch.float32).numpy().tobytes() for row in x]
        return self.net(x)


class CountingEngine:
    """The engine with every observation its predicts ask about kept, whoever answers them."""

    def __init__(self, engine) -> None:
        self.engine, self.asked, self._lock = engine, [], threading.Lock()
        self.obs_shape, self.actions = engine.obs_shape, engine.actions

    def play_game(self, game_id, predict, tracer):
        def counted(o):
            with self._lock:
                self.asked.append(np.asarray(o, np.float32).tobytes())
            return predict(o)

        return self.engine.play_game(game_id, counted, tracer)


@pytest.mark.parametrize("mode", ["naive", "crossgame"])
def test_the_network_sees_each_distinct_observation_once(mcts, mode):
    engine, net = mcts
    counting_engine, counting_net = CountingEngine(engine), CountingNet(net)
    run = play(counting_engine, counting_net, mode)
    distinct = set(counting_engine.asked)
    assert len(counting_net.seen) == len(set(counting_net.seen)) == len(distinct) < len(counting_engine.asked)
    assert set(counting_net.seen) == distinct
    cache = run.manifest["cache"]
    assert cache["cache_asked"] == len(counting_engine.asked) == run.summary["boards_asked"]
    assert cache["cache_sent"] == run.summary["boards"] == len(distinct)
    assert cache["cache_hits"] == len(counting_engine.asked) - len(distinct)


def test_with_workers_the_network_sees_each_distinct_observation_once(mcts):
    engine, net = mcts
    counting_engine = CountingEngine(engine)
    play(counting_engine, net, "naive", cache=False)  # what the games ask, counted in this process
    counting_net = CountingNet(net)
    run = play(engine, counting_net, "crossgame-workers2")
    assert len(counting_net.seen) == len(set(counting_net.seen))
    assert set(counting_net.seen) == set(counting_engine.asked)
    assert run.summary["boards_asked"] == len(counting_engine.asked)
    assert run.manifest["cache"]["cache_hits"] == len(counting_engine.asked) - len(counting_net.seen)


# --------------------------------------------------------------------------- the bound


@pytest.mark.parametrize("mode", list(MODES))
def test_a_tiny_cache_never_exceeds_its_bound_and_plays_the_same_games(mcts, uncached, mode, monkeypatch):
    held: list[int] = []

    class Watched(ObservationCache):
        def answer(self, keys, send):
            out = super().answer(keys, send)
            held.append(len(self))
            return out

    monkeypatch.setattr(engine_run, "ObservationCache", Watched)
    run = play(*mcts, mode, cache_size=3)
    assert held and max(held) == 3
    assert run.summary["game_digest"] == uncached.summary["game_digest"]
    assert run.manifest["cache"]["cache_held"] <= 3 and run.summary["cache_entries"] == 3


# --------------------------------------------------------------------------- sizes and flags


@pytest.mark.parametrize("size", [0, -1, 2.5, "100", True])
def test_bad_cache_sizes_in_the_api(size):
    with pytest.raises(PerfkitError, match="cache size"):
        EngineOptions(cache_size=size)
    with pytest.raises(PerfkitError, match="cache must be True or False"):
        EngineOptions(cache="yes")  # type: ignore[arg-type]


def cli(argv, capsys):
    from perfkit.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


ENGINE_ARGS = ["bench", "--engine", "openspiel-mcts", "--game", "connect_four", "--simulations", "2", "--games", "2",
               "--preset", "tiny", "--precision", "float64", "--device", "cpu", "--threads", "1", "--no-progress"]


@pytest.mark.parametrize("size", ["0", "-1", "abc"])
def test_bad_cache_sizes_with_an_engine_are_one_line(size, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = cli([*ENGINE_ARGS, "--cache-size", size, "--out", str(out)], capsys)
    assert code != 0
    assert stdout == ""
    assert len(err.strip().splitlines()) == 1 and "--cache-size" in err
    assert not out.exists()


def test_no_cache_and_cache_size_reach_an_engine_run(tmp_path, capsys):
    def runs(*flags):
        code, stdout, err = cli([*ENGINE_ARGS, "--strategy", "all", "--json", *flags, "--out", str(tmp_path)], capsys)
        assert code == 0, err
        return {r["strategy"]: r for r in json.loads(stdout)["runs"]}

    default, sized, off = runs(), runs("--cache-size", "5"), runs("--no-cache")
    for strategy in ("naive", "crossgame"):
        assert default[strategy]["cache_entries"] == 100_000 and default[strategy]["cache_hit_share"] > 0
        assert sized[strategy]["cache_entries"] == 5
        assert off[strategy]["cache_entries"] is None and off[strategy]["cache_hit_share"] is None
        assert off[strategy]["boards"] == off[strategy]["boards_asked"] == default[strategy]["boards_asked"]
        assert default[strategy]["game_digest"] == off[strategy]["game_digest"]
