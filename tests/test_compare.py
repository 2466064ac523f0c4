"""`bench --repeat` keeps every repeat and takes its spread from them; `perfkit compare` gates regressions.

Regressions are planted in stored runs (their clocks stretched), so no test depends on how
fast or steady this machine is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from perfkit.analysis.compare import compare, repeat_fields, spread
from perfkit.cli import EXIT_REGRESSION, main
from perfkit.instrument.run import Run, load_run
from perfkit.measure.bench import BenchSettings, bench

SETTINGS = BenchSettings(preset="tiny", games=2, device="cpu", precision="float64")


@pytest.fixture(scope="module")
def repeated(tmp_path_factory) -> tuple[list[Run], Path]:
    out = tmp_path_factory.mktemp("runs")
    return bench(["naive", "crossgame"], SETTINGS, out=out, progress=False, repeat=3), out


def test_repeat_stores_every_repeat_and_takes_the_spread_from_them(repeated):
    runs, out = repeated
    assert sorted(p.name.split("-")[2] for p in out.iterdir()) == ["crossgame", "naive"]
    for run in runs:
        stored = [load_run(run.path / "repeats" / str(i)) for i in (1, 2, 3)]
        assert not (run.path / "repeats" / "4").exists()
        assert {r.manifest["strategy"] for r in stored} == {run.manifest["strategy"]}
        assert len({r.summary["game_digest"] for r in stored}) == 1  # float64: the same games each time
        rates = [r.summary["moves_per_s"] for r in stored]
        s = load_run(run.path).summary
        assert s["repeats"] == 3 and run.manifest["repeats"]["count"] == 3
        assert s["moves_per_s"] == pytest.approx(float(np.median(rates)))
        assert s["moves_per_s_spread"] == pytest.approx((max(rates) - min(rates)) / np.median(rates))
        assert s["boards_per_s_spread"] is not None and s["games_per_s_spread"] is not None
    naive_reps = [load_run(runs[0].path / "repeats" / str(i)) for i in (1, 2, 3)]
    cross_reps = [load_run(runs[1].path / "repeats" / str(i)) for i in (1, 2, 3)]
    # Interleaved: naive, crossgame | crossgame, naive | naive, crossgame.
    starts = [(r.manifest["perf_counter_start_s"], r.manifest["strategy"]) for r in naive_reps + cross_reps]
    assert [name for _, name in sorted(starts)] == ["naive", "crossgame", "crossgame", "naive", "naive", "crossgame"]


def test_unstable_names_its_reason():
    def fake(rate: float, warning=None) -> Run:
        summary = {"moves_per_s": rate, "boards_per_s": rate, "games_per_s": rate, "speedup_vs_naive": None,
                   "oversubscription_warning": warning}
        return Run(manifest={"summary": summary}, calls=None, moves=None, games=None)

    steady = repeat_fields([fake(100), fake(102), fake(98)])
    assert steady["unstable"] is None and steady["moves_per_s"] == 100
    assert steady["speedup_vs_naive"] is None and steady["speedup_vs_naive_spread"] is None
    shaky = repeat_fields([fake(100), fake(60), fake(98, warning="slow")])
    assert "moves/s varied 41% across 3 repeats" in shaky["unstable"]
    assert "1 of 3 repeats had oversubscribed batch-1 calls" in shaky["unstable"]
    assert spread([5.0]) is None


def slowed(run_dir: Path, dest: Path, factor: float) -> Path:
    """A copy of a stored run (and its repeats) whose clock ran `factor` times slower."""
    shutil.copytree(run_dir, dest)
    for manifest_path in dest.rglob("manifest.json"):
        run = load_run(manifest_path.parent)
        t0 = run.manifest["perf_counter_start_s"]
        calls = run.calls.assign(
            start_s=t0 + (run.calls["start_s"] - t0) * factor, end_s=t0 + (run.calls["end_s"] - t0) * factor
        )
        summary = dict(run.summary, wall_s=run.summary["wall_s"] * factor)
        for key in ("moves_per_s", "boards_per_s", "games_per_s"):
            summary[key] = run.summary[key] / factor
        manifest = dict(run.manifest, wall_s=run.manifest["wall_s"] * factor, summary=summary)
        calls.to_parquet(manifest_path.parent / "calls.parquet", index=False)
        manifest_path.write_text(json.dumps(manifest))
    return dest


def three_copies(repeat_dir: Path, dest: Path) -> Path:
    """A strategy's run whose three repeats are one stored repeat: no spread between them."""
    shutil.copytree(repeat_dir, dest)
    for i in (1, 2, 3):
        shutil.copytree(repeat_dir, dest / "repeats" / str(i))
    return dest


def test_compare_fails_on_a_planted_30_percent_slowdown(repeated, tmp_path, capsys):
    base = three_copies(repeated[0][1].path / "repeats" / "1", tmp_path / "base")  # crossgame
    slow = slowed(base, tmp_path / "slow", 1 / 0.7)
    code = main(["compare", str(base), str(slow), "--fail-if-slower", "10"])
    out = capsys.readouterr().out
    assert code == EXIT_REGRESSION
    assert "-30.0%" in out and "SLOWER beyond 10%" in out and "regression: 3 rate(s)" in out


def test_a_slowdown_within_the_noise_is_not_a_regression(repeated, tmp_path):
    """30% slower, but the baseline's own repeats span more than that: no verdict either way."""
    from perfkit.analysis.compare import Measured, RateDiff

    a = Measured(100.0, 60.0, 140.0, (60.0, 100.0, 140.0), "3 repeats")
    b = Measured(70.0, 65.0, 75.0, (65.0, 70.0, 75.0), "3 repeats")
    diff = RateDiff("naive", "moves_per_s", a, b)
    assert diff.change == pytest.approx(-0.3) and not diff.beyond_noise and not diff.regression(10)
    assert RateDiff("naive", "moves_per_s", a, Measured(50.0, 45.0, 55.0, (50.0,), "3 repeats")).regression(10)


def test_compare_passes_on_two_repeats_of_the_same_run(repeated, tmp_path, capsys):
    runs, _ = repeated
    base = runs[0].path  # naive, 3 repeats: each side is the same three repeats
    again = tmp_path / "again"
    shutil.copytree(base, again)
    code = main(["compare", str(base), str(again), "--fail-if-slower", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "+0.0%" in out and "no rate slower by more than 5%" in out
    # A single run against itself: the noise comes from its windows, and nothing is flagged.
    single = repeated[0][0].path / "repeats" / "1"
    assert main(["compare", str(single), str(single), "--fail-if-slower", "0"]) == 0
    assert "windows of 1 run" in capsys.readouterr().out


def test_a_small_planted_slowdown_within_the_threshold_passes(repeated, tmp_path):
    base = repeated[0][1].path
    slow = slowed(base, tmp_path / "slow", 1 / 0.97)
    result = compare(base, slow)
    assert all(d.change == pytest.approx(-0.03) for d in result.diffs)
    assert result.regressions(10) == []


def test_compare_json_chart_and_folders(repeated, capsys, tmp_path):
    runs, out = repeated
    chart = tmp_path / "compare.png"
    assert main(["compare", str(out), str(out), "--json", "--chart", str(chart)]) == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(capsys.readouterr().out)
    assert [d["strategy"] for d in doc["diffs"]][::3] == ["naive", "crossgame"]  # the registry's order
    assert {(d["strategy"], d["rate"]) for d in doc["diffs"]} == {
        (s, r) for s in ("naive", "crossgame") for r in ("moves_per_s", "boards_per_s", "games_per_s")
    }
    assert all(d["a"]["noise_from"] == "3 repeats" for d in doc["diffs"])


@pytest.mark.parametrize("args,message", [
    (["compare", "nowhere", "nowhere"], "is not a perfkit run directory"),
    (["compare", ".", "."], "holds no perfkit run directories"),
])
def test_compare_errors_are_one_line(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("perfkit compare: error:")


def test_an_unwritable_chart_is_one_line(repeated, tmp_path, capsys):
    run = str(repeated[0][0].path)
    assert main(["compare", run, run, "--chart", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "is a directory; give a file name such as" in err and "compare.png" in err and err.count("\n") == 1
    (tmp_path / "a-file").write_text("")
    assert main(["compare", run, run, "--chart", str(tmp_path / "a-file" / "c.png")]) == 1
    err = capsys.readouterr().err
    assert "a-file is a file, not a directory" in err and err.count("\n") == 1


def test_a_folder_mixing_workloads_is_refused_not_pooled_as_repeats(repeated, tmp_path, capsys):
    """A new user's `compare runs/ runs/` with small and tiny runs of each strategy in runs/: one line, no number."""
    runs, _ = repeated
    mixed = tmp_path / "runs"
    shutil.copytree(runs[0].path / "repeats" / "1", mixed / "a")
    other = shutil.copytree(runs[0].path / "repeats" / "2", mixed / "b")
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["settings"]["preset"] = "small"
    (other / "manifest.json").write_text(json.dumps(manifest))
    assert main(["compare", str(mixed), str(mixed)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "naive runs of 2 different workloads" in err and "small hex" in err
