"""The Python API and stored runs speak PerfkitError (issue 15): misuse and damaged files are one
clear line, never a TypeError, KeyError or a report of "None on ?"."""

from __future__ import annotations

import json
import shutil

import pytest

from perfkit.cli import main
from perfkit.instrument.run import load_run
from perfkit.measure.bench import BenchSettings, bench
from perfkit.selfplay import SelfplaySettings
from perfkit.types import PerfkitError


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"games": "8"}, r"games must be a whole number, got '8' \(str\)"),
        ({"games": 2.5}, r"games must be a whole number, got 2\.5 \(float\)"),
        ({"games": True}, r"games must be a whole number, got True \(bool\)"),
        ({"threads": -3}, r"threads must be >= 1, got -3"),
        ({"concurrency": 0}, r"concurrency must be >= 1, got 0"),
        ({"seed": -1}, r"seed must be >= 0, got -1"),
        ({"max_wait_s": "1"}, r"max_wait_s must be a number of seconds >= 0"),
        ({"device": None}, r"device must be a string, got None"),
        ({"checkpoint": 3}, r"checkpoint must be a file path, got 3"),
        ({"search": {"widths": (2, 2)}}, r"search must be a perfkit\.SearchConfig or MCTSConfig, got dict"),
    ],
)
def test_bench_settings_validate_their_arguments(kwargs, message):
    with pytest.raises(PerfkitError, match=message):
        BenchSettings(preset="tiny", **kwargs)


@pytest.mark.parametrize(
    ("strategies", "settings", "message"),
    [
        ([], BenchSettings(preset="tiny"), r"bench needs a non-empty list of strategy names"),
        ("naive", BenchSettings(preset="tiny"), r"got the string 'naive'; pass \['naive'\]"),
        (["naive"], None, r"bench needs a BenchSettings, got NoneType"),
        ([None], BenchSettings(preset="tiny"), r"bench needs a non-empty list of strategy names"),
    ],
)
def test_bench_validates_its_arguments_before_anything_runs(tmp_path, strategies, settings, message):
    with pytest.raises(PerfkitError, match=message):
        bench(strategies, settings, out=tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workload": None}, r"workload must be a perfkit\.BenchSettings, got NoneType"),
        ({"shard_games": "8"}, r"shard_games must be a whole number, got '8'"),
        ({"shard_games": None}, r"shard_games must be a whole number, got None"),
        ({"flush_s": "1"}, r"flush_s must be a number of seconds"),
        ({"strategy": None}, r"unknown strategy None"),
    ],
)
def test_selfplay_settings_validate_their_arguments(kwargs, message):
    with pytest.raises(PerfkitError, match=message):
        SelfplaySettings(**{"workload": BenchSettings(preset="tiny"), **kwargs})


def test_load_run_of_none_is_perfkit_error():
    with pytest.raises(PerfkitError, match=r"load_run needs a run directory path \(str or Path\), got NoneType"):
        load_run(None)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    (run,) = bench(["naive"], BenchSettings(preset="tiny", games=1, device="cpu"), out=out, progress=False)
    return run.path


def damaged(run_dir, tmp_path, *, manifest=None, table=None):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    if manifest is not None:
        (copy / "manifest.json").write_text(json.dumps(manifest))
    if table is not None:  # another table under the calls table's name
        shutil.copy(copy / f"{table}.parquet", copy / "calls.parquet")
    return copy


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"manifest": [1, 2]}, "manifest.json holds a list, not a run manifest object"),
        ({"manifest": {}}, "manifest.json lacks kind, strategy, settings, network, environment, summary, wall_s"),
        ({"manifest": {"kind": "perfkit-run", "strategy": None, "settings": {}, "network": {}, "environment": {},
                       "summary": {}, "wall_s": 1.0}}, "manifest.json: strategy is NoneType"),
        ({"table": "games"}, "calls.parquet lacks column(s) batch, forward_s (is it another table?)"),
    ],
)
def test_a_damaged_run_is_refused_with_one_line_by_load_report_and_project(run_dir, tmp_path, capsys, change, message):
    copy = damaged(run_dir, tmp_path, **change)
    with pytest.raises(PerfkitError) as err:
        load_run(copy)
    assert str(err.value) == f"run directory {copy} is damaged: {message}"
    for argv in (["report", str(copy), "-o", str(tmp_path / "r.html")], ["project", str(copy)]):
        assert main(argv) == 1
        err_lines = capsys.readouterr().err.strip().splitlines()
        assert len(err_lines) == 1 and message in err_lines[0], err_lines
    assert not (tmp_path / "r.html").exists()


def test_an_intact_run_still_loads(run_dir):
    run = load_run(run_dir)
    assert run.manifest["strategy"] == "naive" and len(run.games) == 1
