"""`perfkit profile`: line_profiler on a strategy's hot functions (the table, costliest lines
first, and the .lprof) and pyinstrument's call tree (an .html beside the .lprof)."""

from __future__ import annotations

import re

import pytest
from line_profiler import load_stats

from perfkit.cli import main
from perfkit.measure.bench import BenchSettings, Workload
from perfkit.measure.profile import (
    call_tree_path,
    hot_functions,
    line_costs,
    profile_strategy,
    render_line_profile,
)
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


@pytest.fixture(scope="module")
def naive_profile(tmp_path_factory):
    workload = Workload.prepare(BenchSettings(preset="tiny", games=1, device="cpu"))
    return profile_strategy("naive", workload, output=tmp_path_factory.mktemp("profile") / "naive.lprof")


def test_profile_prints_the_table_and_saves_the_lprof(naive_profile):
    result = naive_profile
    assert result.path.is_file()
    assert "Timer unit" in result.text
    for fn in ("Function: search", "Function: play at", "Function: one_call_per_node", "Function: Evaluator.__call__"):
        assert fn in result.text
    stats = load_stats(str(result.path))
    profiled = {key[2] for key, lines in stats.timings.items() if lines}  # key: (file, line, name)
    assert {"search", "play", "one_call_per_node"} <= profiled


def test_the_most_expensive_lines_come_first(naive_profile):
    result = naive_profile
    times = [c.time_s for c in result.lines]
    assert len(times) > 20 and times == sorted(times, reverse=True)
    head, tables = result.text.split("Timer unit", 1)
    rows = [line for line in head.splitlines()[2:] if line.strip()]
    assert len(rows) == 20
    shown = [float(row.split()[0]) for row in rows]  # the "time ms" column
    assert shown == sorted(shown, reverse=True)
    assert f"{result.lines[0].function}" in rows[0] and f":{result.lines[0].line} " in rows[0]
    # line_profiler's own tables follow, the costliest function first
    totals = [float(t) for t in re.findall(r"^Total time: ([0-9.e+-]+) s", tables, flags=re.M)]
    assert len(totals) >= 4 and totals == sorted(totals, reverse=True)


def test_line_order_is_by_cost_not_by_file(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def cheap():\n    x = 1\n    y = 2\n")
    b.write_text("def dear():\n    z = 3\n    w = 4\n")
    unit = 1e-6
    timings = {
        (str(a), 1, "cheap"): [(2, 1, 10.0), (3, 1, 500.0)],
        (str(b), 1, "dear"): [(2, 1, 2000.0), (3, 5, 1.0)],
    }
    lines = line_costs(timings, unit)
    assert [(c.file, c.line) for c in lines] == [(str(b), 2), (str(a), 3), (str(a), 2), (str(b), 3)]
    assert [c.source for c in lines] == ["z = 3", "y = 2", "x = 1", "w = 4"]
    assert lines[0].time_s == pytest.approx(2000e-6) and lines[0].share == pytest.approx(2000 / 2001)
    text = render_line_profile(timings, unit, lines, top=2)
    head, tables = text.split("Timer unit")
    assert head.index("b.py:2 dear") < head.index("a.py:3 cheap") and "a.py:2" not in head
    assert tables.index("Function: dear") < tables.index("Function: cheap")


def test_the_call_tree_is_html_beside_the_lprof_and_names_the_search(naive_profile):
    result = naive_profile
    assert result.call_tree_path == result.path.with_suffix(".html") and result.call_tree_path.is_file()
    html = result.call_tree_path.read_text()
    assert re.search(r"search\\u0000[^\"]*perfkit/search/minimax\.py", html), "minimax.search is in the tree"
    frames, seen = [result.call_tree.root_frame()], []
    while frames:
        frame = frames.pop()
        seen.append((frame.function, frame.file_path or ""))
        frames.extend(frame.children)
    assert any(name == "search" and file.endswith("minimax.py") for name, file in seen)
    assert call_tree_path(result.path.with_name("x.html")).name == "x-calltree.html"


def test_perfkit_profile_command(tmp_path, capsys):
    path = tmp_path / "deep" / "p.lprof"
    code = main(["profile", "--strategy", "crossgame", "--preset", "tiny", "--games", "1", "--device", "cpu",
                 "-o", str(path)])
    out = capsys.readouterr().out
    assert code == 0 and path.is_file() and path.with_suffix(".html").is_file()
    assert "Function: search" in out and f"saved {path}" in out
    assert out.startswith("Most expensive lines") and "call tree of the CPU side" in out


def test_perfkit_profile_without_the_call_tree(tmp_path, capsys):
    path = tmp_path / "p.lprof"
    code = main(["profile", "--strategy", "naive", "--preset", "tiny", "--games", "1", "--device", "cpu",
                 "-o", str(path), "--no-call-tree"])
    out = capsys.readouterr().out
    assert code == 0 and path.is_file() and not path.with_suffix(".html").exists()
    assert "call tree of the CPU side" not in out


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
