"""A new strategy is one module plus one registry line, and then runs under `bench` like the others.

The toy, `singles`, sends every position in a call of its own: the opposite of crossgame. The
test writes its module (below, whole) into a temporary folder, registers it with one line,
and benches it beside permove on the same games: the same positions reach the network (the
equivalence contract), one call each, so its calls equal permove's boards exactly.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

import perfkit
from perfkit.measure.bench import BenchSettings
from perfkit.strategies import STRATEGIES, make_strategy, register
from perfkit.types import PerfkitError

TOY_MODULE = '''\
"""`singles`: every position its own network call."""

from dataclasses import dataclass

from perfkit.strategies.base import batched, for_strategy, play_games


@dataclass(frozen=True)
class Singles:
    name = "singles"
    serves = ("minimax", "mcts")  # perfkit's own searches; not a user's engine (no play_engine)

    def play(self, game_ids, engine):
        return play_games(game_ids, engine=for_strategy(engine, self.name), concurrency=1, schedule=batched(1))

    def settings(self):
        return {"concurrency": 1, "max_batch": 1}
'''


@pytest.fixture
def singles(tmp_path):
    """The toy strategy's module, imported from where the test wrote it, and registered: one line."""
    path = tmp_path / "toy_singles.py"
    path.write_text(TOY_MODULE)
    spec = importlib.util.spec_from_file_location("toy_singles", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    register(module.Singles)  # the one registry line
    yield module.Singles
    STRATEGIES.pop("singles")
    sys.modules.pop("toy_singles", None)


def test_a_registered_strategy_runs_under_bench_with_exact_call_counts(singles, tmp_path):
    settings = BenchSettings(preset="tiny", games=2, device="cpu", precision="float64", cache=False, threads=1)
    toy, permove = perfkit.bench(["singles", "permove"], settings, out=tmp_path / "runs", progress=False)
    assert toy.manifest["strategy"] == "singles"
    assert list(toy.games["winner"]) == list(permove.games["winner"])
    assert list(toy.moves["move"]) == list(permove.moves["move"])  # the same games (SPEC §1.4)
    assert set(toy.calls["batch"]) == {1}  # every call carries one position
    assert len(toy.calls) == toy.summary["calls"] == permove.summary["boards"] == toy.summary["boards"]
    assert len(permove.calls) == permove.summary["calls"] < toy.summary["calls"]
    assert toy.moves["calls"].sum() == pytest.approx(len(toy.calls))  # each call charged to its move
    assert (tmp_path / "runs").is_dir() and len(list((tmp_path / "runs").iterdir())) >= 2  # stored as the others are


def test_the_registry_refuses_what_a_strategy_does_not_serve_in_one_line(singles):
    from perfkit.strategies import USER_ENGINE, check_serves, serving

    assert "singles" in serving("minimax") and "singles" not in serving(USER_ENGINE)
    with pytest.raises(PerfkitError, match=r"^engine is served by naive, crossgame; not by singles$"):
        check_serves("singles", USER_ENGINE)
    with pytest.raises(PerfkitError, match=r"^engine is served by naive, crossgame; not by permove$"):
        check_serves("permove", USER_ENGINE)
    assert isinstance(make_strategy("singles"), singles)


def test_unregistered_names_stay_unknown():
    with pytest.raises(PerfkitError, match="unknown strategy 'singles'"):
        make_strategy("singles")
