"""`perfkit profile`: line_profiler on a strategy's hot functions, the table and the .lprof."""

from __future__ import annotations

import pytest
from line_profiler import load_stats

from perfkit.bench import BenchSettings, Workload
from perfkit.cli import main
from perfkit.profile import hot_functions, profile_strategy
from perfkit.strategies import STRATEGIES


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_hot_functions_cover_search_game_evaluator_and_the_strategy(name):
    names = [f"{f.__module__}.{f.__qualname__}" for f in hot_functions(name)]
    for must in (
        "perfkit.search.minimax.search",
        "perfkit.game.hex.play",
        "perfkit.strategies.base.play_games",
        "perfkit.model.evaluator.Evaluator.__call__",
        "perfkit.devices.cpu.CpuRunner.forward",  # unwrapped from inference_mode
    ):
        assert must in names
    assert any(n.startswith(f"perfkit.strategies.{name}.") for n in names)
    assert len(names) == len(set(names))
    if name == "naive":
        assert "perfkit.strategies.naive.one_call_per_node" in names


@pytest.mark.parametrize("kind", ["cuda", "sim"])
def test_hot_functions_profile_the_device_call_path(kind):
    names = [f.__qualname__ for f in hot_functions("crossgame", device_kind=kind)]
    assert f"{kind.capitalize()}Runner.forward" in names and "CpuRunner.forward" not in names


def test_profile_prints_the_table_and_saves_the_lprof(tmp_path):
    workload = Workload.prepare(BenchSettings(preset="tiny", games=1, device="cpu"))
    result = profile_strategy("naive", workload, output=tmp_path / "naive.lprof")
    assert result.path.is_file()
    assert "Timer unit" in result.text
    for fn in ("Function: search", "Function: play at", "Function: one_call_per_node", "Function: Evaluator.__call__"):
        assert fn in result.text
    stats = load_stats(str(result.path))
    profiled = {key[2] for key, lines in stats.timings.items() if lines}  # key: (file, line, name)
    assert {"search", "play", "one_call_per_node"} <= profiled


def test_perfkit_profile_command(tmp_path, capsys):
    path = tmp_path / "deep" / "p.lprof"
    code = main(["profile", "--strategy", "crossgame", "--preset", "tiny", "--games", "1", "--device", "cpu",
                 "-o", str(path)])
    out = capsys.readouterr().out
    assert code == 0 and path.is_file()
    assert "Function: search" in out and f"saved {path}" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--strategy", "fastest"], "unknown strategy 'fastest'"),
        (["--strategy", "naive", "-o", "{tmp}"], "is a directory"),
    ],
)
def test_profile_bad_input_is_one_line(tmp_path, capsys, args, message):
    argv = ["profile", "--preset", "tiny", "--device", "cpu", *[a.format(tmp=tmp_path) for a in args]]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
