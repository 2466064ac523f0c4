"""`perfkit profile --engine`: where an engine's search spends its time.

An engine with one deliberately slow function (tests/data/slow_engine.py): the profile names
that function first, in the functions table and in the line tables, whether the games play as
greenlets or threads; the Amdahl line and the saved files come with it; `--torch-profile` adds
the forward's operators; what cannot be profiled is one line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perfkit.cli import main
from perfkit.measure.engine_profile import (
    engine_files,
    engine_functions,
    profile_engine,
    render_engine_profile,
)
from perfkit.search.engines.run import EngineOptions

SLOW = str(Path(__file__).parent / "data" / "slow_engine.py")


@pytest.mark.parametrize("scheduler", ["greenlet", "threads"])
def test_profiling_names_the_slow_function_first(tmp_path, scheduler):
    result = profile_engine(
        f"{SLOW}:engine", strategy="crossgame", game="tictac", simulations=1,
        options=EngineOptions(games=4, concurrency=4, cache=False, scheduler=scheduler), precision="float32",
        device="cpu", threads=1, output=tmp_path / "slow.lprof",
    )
    assert result.functions[0].function == "slow_heuristic"
    assert result.functions[0].share > 0.5
    assert result.line_text.index("Function: slow_heuristic") < result.line_text.index("Function: SlowEngine.play_game")
    assert result.lprof_path.is_file() and result.call_tree_path.is_file()
    text = render_engine_profile(result)
    assert "crossgame: your search's CPU side caps this run at" in text and "the network is" in text
    table = text.split("function (file:line)\n", 1)[1]
    assert table.splitlines()[0].split()[2] == "slow_heuristic"
    assert "Net.forward" not in table.split("CPU time sampled", 1)[0]  # the network's code is not the search's


def test_the_engines_own_functions_are_those_of_its_file():
    from perfkit.search.engines import make_engine

    engine = make_engine(f"{SLOW}:engine", game="tictac", simulations=1)
    assert engine_files(engine) == [str(Path(SLOW).resolve())]
    names = {f.__qualname__ for f in engine_functions(engine)}
    assert {"slow_heuristic", "cheap_planes", "SlowEngine.play_game", "engine", "Net.forward"} <= names


def test_the_command_line_profile_with_the_forwards_operators(tmp_path, capsys):
    code = main(["profile", "--engine", f"{SLOW}:engine", "--game", "tictac", "--games", "2", "--device", "cpu",
                 "--threads", "1", "--scheduler", "greenlet", "--torch-profile", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.split("function (file:line)\n", 1)[1].splitlines()[0].split()[2] == "slow_heuristic"
    assert "aten::addmm" in out  # the forward's Linear, by operator
    assert {p.name for p in tmp_path.iterdir()} >= {
        "profile-slow_engine-crossgame.lprof", "profile-slow_engine-crossgame.html",
        "profile-slow_engine-crossgame-operators.txt",
    }


def test_what_cannot_be_profiled_is_one_line(tmp_path, capsys):
    code = main(["profile", "--engine", f"{SLOW}:engine", "--game", "tictac", "--workers", "1", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "drop --workers" in err and len(err.strip().splitlines()) == 1
    code = main(["profile", "--torch-profile", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "--torch-profile applies to an engine's network" in err
