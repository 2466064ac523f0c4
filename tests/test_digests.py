"""Golden float64 game digests: every search, strategy, game, engine and worker layout.

The digests in `tests/data/digests.json` were recorded from the code before the "one
pipeline" refactor (issue 19, commit f240d92). A refactor that moves code around must not
change one game: same moves, candidates, ranks and winners, values equal to 1e-9.

To record them again (only when a game is meant to change, and say why in the commit):
    PYTHONPATH=. python tests/test_digests.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from perfkit.model import Evaluator, build_model
from perfkit.model.net import build_game_model
from perfkit.search.engines import EngineOptions, make_engine, play_engine
from perfkit.strategies import Engine, make_strategy
from perfkit.types import GameRecord, SearchConfig, get_preset

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "digests.json"
AZG = f"{ROOT / 'examples' / 'azg_mcts.py'}:engine"
DECIMALS = 9  # values equal to 1e-9 (SPEC §1.4)
HEX_GAMES, OPENSPIEL_GAMES, ENGINE_GAMES = 6, 3, 4
HEX_CONFIG = SearchConfig(temperature=1.0, temperature_plies=4)  # default widths: the reference search
FAST = SearchConfig(value_topk=3, widths=(2, 2), temperature=1.0, temperature_plies=4)
# (strategy, its options): every schedule and game loop perfkit's own search runs through.
LAYOUTS: dict[str, tuple[str, dict]] = {
    "naive": ("naive", {}),
    "permove": ("permove", {}),
    "crossgame": ("crossgame", {"concurrency": 3, "max_batch": 16}),
    "crossgame-groups2-inflight2": ("crossgame", {"concurrency": 4, "max_batch": 32, "groups": 2, "inflight": 2}),
    "crossgame-workers2": ("crossgame", {"concurrency": 4, "workers": 2, "max_wait_s": 0.002}),
}


def _number(x: float) -> float | str:
    if x != x:  # NaN: a value that was never computed, equal to itself here
        return "nan"
    return round(float(x), DECIMALS) + 0.0  # + 0.0: -0.0 and 0.0 are the same value


def record_digest(records: list[GameRecord]) -> str:
    """sha256 of the games' moves, candidates, ranks, winners and values (rounded to 1e-9)."""
    games = []
    for g in sorted(records, key=lambda r: r.game):
        moves = [
            [m.ply, m.player, m.move, _number(m.root_value), _number(m.minimax_value), list(m.candidates),
             [_number(v) for v in m.policy_move_values], m.chosen_rank]
            for m in g.moves
        ]
        games.append([g.game, g.winner, moves])
    return hashlib.sha256(json.dumps(games).encode()).hexdigest()


def run_digest(run) -> str:
    """sha256 of an engine run's games: each one's (ply, player, move) sequence and winner."""
    games = []
    for game, winner in sorted(zip(run.games["game"], run.games["winner"], strict=True)):
        moves = run.moves[run.moves["game"] == game].sort_values("ply")
        seq = [[int(p), int(q), int(a)] for p, q, a in zip(moves["ply"], moves["player"], moves["move"], strict=True)]
        games.append([int(game), int(winner), seq])
    return hashlib.sha256(json.dumps(games).encode()).hexdigest()


def hex_engine() -> Engine:
    preset = get_preset("tiny")
    evaluator = Evaluator(build_model(preset, seed=0), n=preset.board, precision="float64")
    return Engine(evaluate=evaluator, game=preset.board, config=HEX_CONFIG, seed=0)


def openspiel_engine(name: str) -> Engine:
    # Built through the adapter on purpose: a native game of the same name must not change these games.
    from perfkit.game.openspiel import OpenSpielGame

    game = OpenSpielGame(name)
    model = build_game_model(game.obs_shape, game.actions, preset="tiny", seed=0)
    return Engine(evaluate=Evaluator(model, game=game, precision="float64"), game=game, config=FAST, seed=0)


def strategy_digest(engine: Engine, layout: str, games: int) -> str:
    name, options = LAYOUTS[layout]
    records = list(make_strategy(name, **options).play(range(games), engine))
    assert sorted(g.game for g in records) == list(range(games)), "every game played exactly once"
    return record_digest(records)


def engine_digest(spec: str, strategy: str, **options) -> str:
    game, simulations = "connect_four", 4
    engine = make_engine(spec, game=game, simulations=simulations, seed=0)
    net = build_game_model(engine.obs_shape, engine.actions, preset="tiny", seed=0)
    recipe = {"spec": spec, "game": game, "simulations": simulations, "seed": 0}
    run = play_engine(
        engine, net, strategy, EngineOptions(games=ENGINE_GAMES, **options), precision="float64",
        recipe=recipe if options.get("workers") else None,
    )
    return run_digest(run)


def _cases() -> dict[str, Callable[[], str]]:
    cases: dict[str, Callable[[], str]] = {}
    for layout in LAYOUTS:
        cases[f"minimax/hex-tiny/{layout}"] = lambda layout=layout: strategy_digest(hex_engine(), layout, HEX_GAMES)
        cases[f"minimax/openspiel-connect_four/{layout}"] = (
            lambda layout=layout: strategy_digest(openspiel_engine("connect_four"), layout, OPENSPIEL_GAMES)
        )
    for label, spec in (("openspiel-mcts", "openspiel-mcts"), ("azg_mcts", AZG)):
        cases[f"engine/{label}/naive"] = lambda spec=spec: engine_digest(spec, "naive")
        cases[f"engine/{label}/crossgame"] = lambda spec=spec: engine_digest(spec, "crossgame", concurrency=ENGINE_GAMES)
        cases[f"engine/{label}/crossgame-workers2"] = (
            lambda spec=spec: engine_digest(spec, "crossgame", concurrency=ENGINE_GAMES, workers=2)
        )
    return cases


CASES = _cases()


def golden() -> dict[str, str]:
    return json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("case", list(CASES))
def test_digest_is_unchanged(case):
    if "openspiel" in case or case.startswith("engine/"):
        pytest.importorskip("pyspiel")
    expected = golden().get(case)
    assert expected is not None, f"no golden digest for {case}: record it (see this module's docstring)"
    assert CASES[case]() == expected, f"{case}: the games changed"


def test_every_layout_of_one_game_plays_the_same_games():
    """The equivalence contract in the golden file itself: one digest per game and search."""
    by_game: dict[str, set[str]] = {}
    for case, digest in golden().items():
        by_game.setdefault(case.rsplit("/", 1)[0], set()).add(digest)
    assert set(by_game) == {c.rsplit("/", 1)[0] for c in CASES}
    assert all(len(d) == 1 for d in by_game.values()), by_game


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps({case: compute() for case, compute in CASES.items()}, indent=2) + "\n")
    print(f"wrote {len(CASES)} digests to {GOLDEN}")
