"""The what-if at a GPU's concurrency: crossgame's trace merged into fewer, bigger calls, and
notebook 04 drawing it under the 4-day line with its assumption written beside it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from perfkit.analysis.projection import at_concurrency, replay, seed_calibration
from perfkit.instrument.run import Run
from perfkit.report.notebooks import export_notebooks
from perfkit.types import PerfkitError

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "04_projection.ipynb"


def crossgame_run(batches: list[int], *, concurrency: int, games: int) -> Run:
    """A stored-run shape with one call per batch, 10 ms each, 1 ms apart."""
    starts = [0.011 * i for i in range(len(batches))]
    calls = pd.DataFrame({
        "strategy": "crossgame", "batch": batches, "n_policy": batches, "n_value": batches, "level": 0,
        "encode_s": 0.001, "h2d_s": None, "forward_s": 0.009, "d2h_s": None, "queue_wait_s": None,
        "start_s": starts, "end_s": [s + 0.01 for s in starts],
    })
    manifest = {
        "strategy": "crossgame", "strategy_settings": {"concurrency": concurrency, "max_batch": 1024},
        "wall_s": 0.011 * len(batches), "network": {"board": 5, "blocks": 2, "channels": 16},
        "settings": {"preset": "tiny", "precision": "float32"}, "environment": {"device_name": "cpu"},
        "summary": {"projected_days_500k_low": None, "projected_days_500k_high": None},
    }
    games_table = pd.DataFrame({"game": range(games), "moves": 10})
    return Run(manifest=manifest, calls=calls, moves=pd.DataFrame(), games=games_table)


def test_calls_merge_by_the_concurrency_ratio_and_keep_boards_and_call_time():
    run = crossgame_run([2, 10, 18, 54] * 4, concurrency=2, games=2)
    wide = at_concurrency(run, 8, max_batch=4096)
    assert list(wide.calls["batch"]) == [84] * 4  # 4 calls at G = 2 make one at G = 8
    assert wide.calls["batch"].sum() == run.calls["batch"].sum()
    assert (wide.calls["end_s"] - wide.calls["start_s"]).sum() == pytest.approx(0.16)  # call time carried over
    assert wide.manifest["what_if"]["calls_merged"] == 4
    assert "G = 8" in wide.manifest["what_if"]["assumes"] and "G = 2" in wide.manifest["what_if"]["assumes"]
    assert replay(wide, seed_calibration())["cpu_s"] == pytest.approx(replay(run, seed_calibration())["cpu_s"])


def test_merging_stops_at_max_batch_and_counts_only_games_that_existed():
    run = crossgame_run([300] * 6, concurrency=64, games=2)  # 64 slots, 2 games: G was 2
    capped = at_concurrency(run, 8, max_batch=700)
    assert capped.manifest["what_if"]["measured_concurrency"] == 2
    assert list(capped.calls["batch"]) == [600, 600, 600]


def test_only_crossgame_has_a_concurrency():
    run = crossgame_run([1], concurrency=1, games=1)
    run.manifest["strategy"] = "naive"
    with pytest.raises(PerfkitError, match="only a crossgame run"):
        at_concurrency(run, 512)


def test_notebook_04_draws_a_bar_under_the_target_with_its_assumption(tmp_path):
    params = {"preset": "tiny", "games": 1, "crossgame_games": 2, "crossgame_concurrency": 2, "threads": 1}
    export_notebooks([NOTEBOOK], tmp_path, parameters=params, timeout_s=300)
    executed = nbformat.read(tmp_path / "04_projection.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert "what-if assumes: calls at G = 2 merged 256 at a time" in text and "crossgame at G = 512" in text
    days = [float(line.split()[2]) for line in text.splitlines() if line.startswith("what-if bar:")]
    assert days and min(days) < 4.0
