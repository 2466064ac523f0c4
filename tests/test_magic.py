"""The `%%perfkit` cell magic traces the network calls a cell makes (IPython, no kernel)."""

from __future__ import annotations

import pytest

IPython = pytest.importorskip("IPython")


@pytest.fixture()
def shell():
    from IPython.core.interactiveshell import InteractiveShell

    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "perfkit")
    sh.run_cell("import torch\nfrom perfkit.model import build_game_model\nnet = build_game_model((3, 6, 7), 7, preset='tiny')")
    yield sh
    InteractiveShell.clear_instance()


CELL = """
held = net  # the engine keeps its own reference: hooks still see the calls
with tracer.game(0):
    for k in range(3):
        with tracer.move() as move:
            for b in (1, 2):
                held(torch.zeros(b, 3, 6, 7))
            move.action = k
"""


def test_magic_records_every_call_of_a_module(shell, tmp_path, capsys):
    shell.run_cell_magic("perfkit", f"net --as tracer --save {tmp_path / 'run'} --no-charts", CELL)
    run = shell.user_ns["tracer"].last_run
    assert list(run.calls["batch"]) == [1, 2] * 3
    assert run.moves["calls"].tolist() == [2.0, 2.0, 2.0] and run.moves["move"].tolist() == [0, 1, 2]
    from perfkit import load_run

    assert load_run(tmp_path / "run").summary["calls"] == 6
    net = shell.user_ns["net"]
    assert not net._forward_hooks and not net._forward_pre_hooks, "hooks removed after the cell"


def test_magic_wraps_a_plain_callable_and_restores_it(shell):
    shell.run_cell("import numpy as np\ncalls = []\ndef predict(x):\n    calls.append(len(x))\n    return np.zeros((len(x), 7)), np.zeros(len(x))")
    original = shell.user_ns["predict"]
    shell.run_cell_magic("perfkit", "predict --no-charts", "for b in (4, 1):\n    predict(np.zeros((b, 3, 6, 7)))")
    assert list(shell.user_ns["tracer"].last_run.calls["batch"]) == [4, 1]
    assert shell.user_ns["predict"] is original and shell.user_ns["calls"] == [4, 1]


def test_magic_names_a_missing_network_in_one_line(shell, capsys):
    shell.run_cell_magic("perfkit", "nothing_here", "pass")
    out = capsys.readouterr().out
    assert "perfkit: error: %%perfkit: no variable 'nothing_here'" in out


@pytest.mark.parametrize(
    ("save", "message"),
    [('"/x', "usage: %%perfkit NET"), ("/proc/x", "%%perfkit --save /proc/x: cannot "),
     ("{file}", "already exists; name a new directory"), ("{file}/run", "%%perfkit --save ")],
)
def test_magic_save_to_a_bad_place_is_one_line(shell, tmp_path, capsys, save, message):
    (tmp_path / "file").write_text("")
    save = save.format(file=tmp_path / "file")
    shell.run_cell("ran = []")
    shell.run_cell_magic("perfkit", f"net --no-charts --save {save}", "ran.append(1)")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("perfkit: error: ") and message in out[0]
    assert "Traceback" not in capsys.readouterr().err
    assert shell.user_ns["ran"] == []  # refused before the cell ran


def test_magic_shows_its_charts_as_images_without_matplotlib_inline(shell):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:  # no `%matplotlib inline` in this shell: a bare Figure would print its repr
        shell.run_cell_magic("perfkit", "net --as tracer", CELL)
    kinds = [sorted(out.data) for out in captured.outputs]
    assert sum("image/png" in k for k in kinds) == 2, kinds
    assert any("text/html" in k for k in kinds)
    assert "<Figure size" not in captured.stdout


SLOW_CELL = """
def slow_search(k):
    total = 0
    for i in range(200_000):
        total += i % (k + 2)
    return total

def quick_helper():
    return 1
"""


def test_magic_profile_names_the_notebooks_slow_function_first(shell):
    shell.run_cell(SLOW_CELL)
    cell = """
with tracer.game(0):
    for k in range(4):
        with tracer.move() as move:
            net(torch.zeros(2, 3, 6, 7))
            slow_search(k)
            quick_helper()
            move.action = k
"""
    shell.run_cell_magic("perfkit", "net --no-charts --profile --lines", cell)
    text = shell.user_ns["tracer"].last_profile
    assert "your search's CPU side caps this run at" in text and "the network is" in text
    first = text.split("function (file:line)\n", 1)[1].splitlines()[0]
    assert first.split()[2] == "slow_search"
    assert "Function: slow_search" in text  # --lines: its line table


def test_magic_lines_without_profile_is_one_line(shell, capsys):
    shell.run_cell_magic("perfkit", "net --lines", "pass")
    assert "--lines goes with --profile" in capsys.readouterr().out


ENGINE_CELL = """
from perfkit.search.engines.run import play_one
for g in range(2):
    play_one(engine, g, lambda obs: engine.network(torch.as_tensor(obs)[None].float()), tracer)
"""


@pytest.mark.parametrize("kind", ["module", "callable"])
def test_magic_engine_traces_the_network_the_engine_brings(shell, kind):
    shell.run_cell(
        "import numpy as np, torch\n"
        "class Engine:\n"
        "    obs_shape, actions = (3, 6, 7), 7\n"
        "    def __init__(self, network): self.network = network\n"
        "    def play_game(self, game_id, predict, tracer):\n"
        "        for ply in range(3):\n"
        "            with tracer.move() as move:\n"
        "                predict(np.zeros(self.obs_shape, np.float32))\n"
        "                move.action = ply\n"
        "        return 1\n"
        + ("engine = Engine(net)\n" if kind == "module" else
           "def plain(x):\n    return x.flatten(1)[:, :7], x.flatten(1).sum(1)\nengine = Engine(plain)\n")
    )
    own = shell.user_ns["engine"].network
    shell.run_cell_magic("perfkit", "engine --engine --no-charts", ENGINE_CELL)
    run = shell.user_ns["tracer"].last_run
    assert list(run.calls["batch"]) == [1] * 6 and len(run.games) == 2 and run.summary["moves"] == 6
    assert shell.user_ns["engine"].network is own  # a callable is swapped back after the cell


def test_magic_engine_without_a_network_is_one_line(shell, capsys):
    shell.run_cell("class Bare:\n    actions = 7\n    def play_game(self, *a): return 0\nbare = Bare()")
    shell.run_cell_magic("perfkit", "bare --engine", "pass")
    out = capsys.readouterr().out.strip()
    assert out == ("perfkit: error: %%perfkit --engine: engine 'bare' brings no network (no callable `network` attribute): "
                   "name the network's variable instead, %%perfkit NET")
    shell.run_cell_magic("perfkit", "net --engine", "pass")
    assert "is no engine" in capsys.readouterr().out
