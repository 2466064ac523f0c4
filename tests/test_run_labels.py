"""Runs of one strategy told apart in tables and charts by what differs: game, search, engine..."""

from __future__ import annotations

import pandas as pd

from perfkit.analysis.runs import Run
from perfkit.analysis.tables import unique_labels


def _run(game: str, search: str = "minimax", engine: str | None = None) -> Run:
    settings = {"precision": "float32", "preset": "small", "games": 8, "game": game, "search": search, "engine": engine}
    manifest = {"strategy": "naive", "strategy_settings": {}, "settings": settings, "network": {},
                "environment": {}, "summary": {"game_digest": "d", "games": 8}}
    return Run(manifest=manifest, calls=pd.DataFrame(), moves=pd.DataFrame(), games=pd.DataFrame(), gpu=pd.DataFrame())


def test_workloads_of_one_strategy_are_named_by_what_differs() -> None:
    runs = [_run("hex"), _run("connect_four", "mcts"), _run("connect_four", engine="examples/azg_mcts.py:engine"),
            _run("hex")]
    assert unique_labels(runs) == ["naive hex minimax", "naive connect_four mcts", "naive connect_four azg_mcts",
                                   "naive hex minimax #2"]
    assert unique_labels([_run("hex"), _run("hex", "mcts")]) == ["naive minimax", "naive mcts"]
