"""The story's notebooks: committed clean, parametrised papermill-style, and each one runs
top to bottom (nbclient, at tiny sizes) and exports to an offline HTML page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from perfkit.report.notebooks import (
    INJECTED_TAG,
    PARAMETERS_TAG,
    default_notebooks,
    export_notebooks,
    inject_parameters,
    parse_parameters,
)
from perfkit.types import PerfkitError

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ["01_baseline", "02_permove", "03_crossgame", "04_projection", "05_your_engine", "06_mcts"]

# Small enough for CI: the tiny network, a game or two, one torch thread (a shared CPU
# oversubscribed by torch's default threads is many times slower on single-board calls).
TINY = {
    "preset": "tiny",
    "games": 2,
    "profile_games": 1,
    "threads": 1,
    "curve_max_batch": 16,
    "curve_budget_s": 1.0,
    "concurrency": [1, 2],
    "crossgame_games": 2,
    "crossgame_concurrency": 2,
    "simulations": 4,  # 05: the engine's MCTS simulations per move
}


def tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def test_the_story_has_its_notebooks():
    assert [p.stem for p in default_notebooks(NOTEBOOKS)] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_clean_and_parametrised(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown", "the first cell tells the story"
    params = [c for c in nb.cells if PARAMETERS_TAG in tags(c)]
    assert len(params) == 1 and params[0].cell_type == "code"
    assert re.search(r"^preset = ", params[0].source, re.M)
    assert not any(INJECTED_TAG in tags(c) for c in nb.cells)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "commit notebooks without outputs"


def test_parameters_are_injected_after_the_parameters_cell_and_replace_old_ones():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# story"),
        nbformat.v4.new_code_cell("games = 8", metadata={"tags": [PARAMETERS_TAG]}),
        nbformat.v4.new_code_cell("print(games)"),
    ])
    inject_parameters(nb, {"games": 2})
    inject_parameters(nb, {"games": 3, "preset": "tiny"})
    assert [tags(c) for c in nb.cells] == [[], [PARAMETERS_TAG], [INJECTED_TAG], []]
    assert "games = 3\npreset = 'tiny'\n" in nb.cells[2].source


def test_parameter_values_are_python_literals_or_text():
    assert parse_parameters(["games=2", "preset=tiny", "concurrency=[1, 2]", "runs_dir=../runs"]) == {
        "games": 2, "preset": "tiny", "concurrency": [1, 2], "runs_dir": "../runs",
    }
    with pytest.raises(PerfkitError, match="NAME=VALUE"):
        parse_parameters(["games"])


def test_export_refuses_to_overwrite_the_committed_notebooks():
    with pytest.raises(PerfkitError, match="overwrite"):
        export_notebooks([NOTEBOOKS / "02_permove.ipynb"], NOTEBOOKS, execute=False)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom_and_exports_offline_html(name, tmp_path):
    [html_path] = export_notebooks([NOTEBOOKS / f"{name}.ipynb"], tmp_path, parameters=TINY, timeout_s=300)
    executed = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "every cell ran"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert any(INJECTED_TAG in tags(c) for c in executed.cells)
    images = [o for c in code for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the notebook draws its charts"

    html = html_path.read_text()
    assert html.count('src="data:image/png;base64,') >= len(images)
    # Opens offline: nothing is fetched (the lab template's CDN scripts are left out).
    assert not re.search(r'<script[^>]+src="', html)
    assert not re.search(r'<link[^>]+href="(https?:)?//', html)


def test_a_notebook_plays_another_game(tmp_path):
    """The `game` parameter: notebook 02 tells the per-move story on Connect Four."""
    pytest.importorskip("pyspiel")
    export_notebooks([NOTEBOOKS / "02_permove.ipynb"], tmp_path, parameters={**TINY, "game": "connect_four"}, timeout_s=300)
    executed = nbformat.read(tmp_path / "02_permove.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    text = json.dumps([c.outputs for c in code])
    assert re.search(r"calls for one move; chose cell [0-6] ", text), "a Connect Four column was chosen"
