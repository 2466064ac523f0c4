"""A new search is one module and one registry line: a toy (one-ply greedy) played under bench
by every strategy, with exact network calls."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from perfkit.measure.bench import BenchSettings, bench
from perfkit.search import SEARCHES, SearchKind
from perfkit.types import PerfkitError

MODULE = Path(__file__).resolve().parent / "data" / "toy_search.py"
GAMES = 3


def toy():
    spec = importlib.util.spec_from_file_location("toy_search", MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def greedy(monkeypatch):
    module = toy()
    monkeypatch.setitem(SEARCHES, "greedy", SearchKind(  # the one registry line
        "greedy", module.GreedyConfig, ("naive", "permove", "crossgame"), True, "one-ply greedy", module.Greedy))
    return module.GreedyConfig()


def test_a_toy_search_runs_under_bench_with_exact_calls(greedy):
    settings = BenchSettings(preset="tiny", games=GAMES, device="cpu", precision="float64", cache=False,
                             concurrency=GAMES, search=greedy)
    runs = {r.manifest["strategy"]: r for r in bench(["naive", "permove", "crossgame"], settings, out=None,
                                                     progress=False)}
    naive = runs["naive"]
    moves = len(naive.moves)
    longest = int(naive.moves.groupby("game")["ply"].max().max()) + 1
    for name, run in runs.items():
        s = run.summary
        assert s["game_digest"] == naive.summary["game_digest"], name  # every strategy plays the same games
        assert s["moves"] == moves and s["boards"] == moves, name  # one position per move, never a terminal one
        assert run.moves["boards"].tolist() == [1] * moves, name
    assert runs["naive"].summary["calls"] == runs["permove"].summary["calls"] == moves  # one call per move
    assert runs["crossgame"].summary["calls"] == longest  # one call per step, all games in flight in it
    assert runs["crossgame"].calls["batch"].max() == GAMES


def test_a_strategy_the_toy_does_not_list_is_refused_in_one_line(greedy, monkeypatch):
    monkeypatch.setitem(SEARCHES, "greedy", SearchKind(
        "greedy", type(greedy), ("naive",), True, "one-ply greedy", toy().Greedy))
    settings = BenchSettings(preset="tiny", games=1, device="cpu", search=greedy)
    with pytest.raises(PerfkitError, match="greedy is served by naive; not by permove"):
        bench(["permove"], settings, out=None, progress=False)
