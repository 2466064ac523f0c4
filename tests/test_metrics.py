"""The typed summary (`perfkit.analysis.metrics.METRICS`) drives the JSON keys' documentation, the
console table, the HTML report and the notebooks' frame: a metric added in that one place shows in all."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re

import pandas as pd
import pytest

from perfkit.analysis import keys, metrics, tables
from perfkit.analysis.metrics import Metric
from perfkit.cli import main
from perfkit.instrument.run import Run, load_run
from perfkit.report import html
from perfkit.report.console import same_games_line
from perfkit.types import RunSummary

bench_module = importlib.import_module("perfkit.measure.bench")
BENCH = ["bench", "--strategy", "naive", "--preset", "tiny", "--games", "1", "--no-progress", "--device", "cpu"]


@pytest.mark.parametrize("verbose", [False, True], ids=["leading", "verbose"])
def test_a_metric_added_in_one_place_shows_in_json_docs_console_and_report(verbose, monkeypatch, tmp_path, capsys):
    fake = Metric("fake_metric", "float", "a metric made up by the test", "fake col", "{:.3f} fk", verbose=verbose)
    monkeypatch.setattr(metrics, "METRICS", (*metrics.METRICS, fake))  # the one edit
    finish_summary = bench_module.finish_summary  # its computation, which the one edit leaves aside

    def finish(**kw):
        summary = finish_summary(**kw)
        summary.extra["fake_metric"] = 0.125
        return summary

    monkeypatch.setattr(bench_module, "finish_summary", finish)

    assert keys.BENCH_JSON_KEYS["fake_metric"] == ("float", "a metric made up by the test")
    assert main([*BENCH, "--json", "--out", str(tmp_path / "runs")]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["runs"]
    assert sorted(entry) == sorted(keys.BENCH_JSON_KEYS) and entry["fake_metric"] == 0.125

    def console(*flags: str) -> tuple[list[str], str]:
        assert main([*BENCH, "--out", str(tmp_path / "console"), *flags]) == 0
        table = capsys.readouterr().out
        return re.split(r"\s{2,}", table.splitlines()[0].strip()), table.splitlines()[2]

    header, row = console()
    assert ("fake col" in header) is ("0.125 fk" in row) is (not verbose)  # a leading column: without --verbose
    if not verbose:
        assert header[-1] == "fake col" and row.endswith("0.125 fk")  # after the leading ones before it
    header, row = console("--verbose")
    assert header.index("fake col") == (len(header) - 1 if verbose else len(metrics.columns()))
    assert "0.125 fk" in row

    out = tmp_path / "report.html"
    assert main(["report", entry["run_dir"], "-o", str(out)]) == 0
    page = out.read_text()
    table = page[page.index('<h3 id="details">' if verbose else '<h2 id="comparison">'):]
    table = table[:table.index("</table>")]
    assert "<th>fake col</th>" in table and "0.125 fk" in table
    assert tables.summary_frame([load_run(entry["run_dir"])])["fake col"].tolist() == [0.125]


def test_every_column_is_a_documented_json_key_with_a_format():
    documented = keys.bench_json_keys()
    for m in metrics.columns(verbose=None):
        assert m.key in documented and m.fmt != "{}", m.key
        assert m.interval is None or set(m.interval) <= set(documented)
    assert len(metrics.columns()) <= 10  # the report's comparison must fit 1,400 px (tests/test_report_layout.py)


# A summary every typed metric of which is there (zero, or "" for the strings): renderers read it typed.
WHOLE = {f.name: "" if f.type == "str" else 0 for f in dataclasses.fields(RunSummary) if f.name != "extra"}


def fake_run(strategy: str, *, digest: str, games: int = 2, precision: str = "float64", rate: float = 10.0,
             speedup: float | None = None, seed: int = 0) -> Run:
    """A run with only what the derived figures read: its workload, digest, games and moves/s."""
    summary = {**WHOLE, "game_digest": digest, "games": games, "moves_per_s": rate, "speedup_vs_naive": speedup}
    manifest = {"strategy": strategy, "settings": {"preset": "tiny", "precision": precision, "seed": seed},
                "environment": {"device_name": "cpu"}, "search": {}, "summary": summary}
    return Run(manifest=manifest, calls=pd.DataFrame(), moves=pd.DataFrame(), games=pd.DataFrame())


@pytest.mark.parametrize(("runs", "verdict", "console", "report"), [
    ([fake_run("naive", digest="a" * 64), fake_run("permove", digest="a" * 64)], "same",
     "yes (digest aaaaaaaaaaaa)", "naive, permove on tiny: same games"),
    ([fake_run("naive", digest="a", precision="float32"), fake_run("permove", digest="b", precision="float32")],
     "drift", "not expected in float32", "float32 drift: expected"),
    ([fake_run("naive", digest="a"), fake_run("permove", digest="b")], "differ", "NO, although float64", "please report"),
    ([fake_run("naive", digest="a"), fake_run("permove", digest="b", games=3)], "game counts",
     "different numbers of games", "different game counts"),
], ids=["same", "drift", "differ", "game-counts"])
def test_the_same_games_verdict_is_made_once_and_worded_by_each_renderer(runs, verdict, console, report):
    (v,) = tables.same_games(runs)
    assert v.verdict == verdict and v.labels == ("naive", "permove")
    assert console in same_games_line(v)
    (line,) = html.same_games(runs)
    assert report in line


def test_runs_of_other_workloads_get_their_own_verdict_or_none():
    runs = [fake_run("naive", digest="a"), fake_run("permove", digest="a"), fake_run("permove", digest="c", seed=1)]
    assert [v.labels for v in tables.same_games(runs)] == [("naive", "permove")]  # the seed-1 run: alone


def test_speed_up_is_the_stored_one_else_against_naive_of_the_same_workload():
    naive, faster = fake_run("naive", digest="a", rate=10.0), fake_run("permove", digest="a", rate=25.0)
    other_seed = fake_run("permove", digest="b", rate=30.0, seed=1)
    stored = fake_run("permove", digest="a", rate=40.0, speedup=3.5)  # a median over repeats, kept as measured
    assert tables.speedups([naive, faster, other_seed, stored]) == [1.0, 2.5, None, 3.5]
    assert [s.speedup_vs_naive for s in tables.compared_summaries([naive, faster])] == [1.0, 2.5]
