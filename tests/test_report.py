"""`perfkit report`: one self-contained HTML page rendered from runs stored in the test."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import perfkit
import perfkit.strategies
from perfkit.analysis import tables
from perfkit.analysis.reference import seed_reference
from perfkit.cli import main
from perfkit.report import charts
from perfkit.report.html import render_html

STRATEGIES = list(perfkit.strategies.STRATEGIES)  # a new strategy is in the report test by default


@pytest.fixture(scope="module")
def run_root(tmp_path_factory) -> Path:
    """Three strategies' runs on the tiny preset, saved the way `perfkit bench` saves them."""
    root = tmp_path_factory.mktemp("runs")
    # No cache: the calls by purpose below are the seed's own count.
    settings = perfkit.BenchSettings(preset="tiny", games=2, concurrency=2, seed=0, cache=False)
    perfkit.bench(STRATEGIES, settings, out=root, progress=False)
    return root


@pytest.fixture(scope="module")
def run_dirs(run_root) -> list[Path]:
    dirs = sorted(p for p in run_root.iterdir() if (p / "manifest.json").is_file())
    assert len(dirs) == len(STRATEGIES)
    return dirs


@pytest.fixture(scope="module")
def report(run_dirs, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", *map(str, run_dirs), "-o", str(out)]) == 0
    return out.read_text()


def embedded_pngs(html: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_report_embeds_its_charts_as_png(report):
    pngs = embedded_pngs(report)
    # projection, throughput, calls by purpose, batch sizes, time breakdown, latency (no GPU here)
    assert len(pngs) >= 6
    assert all(p.startswith(b"\x89PNG\r\n\x1a\n") and len(p) > 5_000 for p in pngs)


def test_report_has_every_run_and_section(report):
    for name in STRATEGIES:
        assert f">{name}" in report
    for heading in ("Comparison", "Projection: days for 500,000 games", "Batch sizes", "Where the time goes",
                    "GPU utilisation", "The seed's figures"):
        assert heading in report
    assert "unavailable: the run uses the CPU" in report  # said, not charted as zeros
    assert "same games" in report


def test_report_loads_nothing_from_outside(report):
    lowered = report.lower()
    for ref in ("http://", "https://", 'src="//', "href=\"//", "<script", "<link", "@import", "url("):
        assert ref not in lowered, ref
    srcs = re.findall(r'\bsrc="([^"]*)"', report)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert all(h.startswith("#") for h in re.findall(r'\bhref="([^"]*)"', report))


def test_a_folder_of_runs_stands_for_its_runs(run_root, run_dirs, tmp_path, capsys):
    out = tmp_path / "sub" / "r.html"
    assert main(["report", str(run_root), "-o", str(out), "--seed-calibration"]) == 0
    html = out.read_text()
    assert "what-if" in html
    assert all(f">{name}" in html for name in STRATEGIES)
    assert "3 runs" in capsys.readouterr().out


def test_a_folder_finds_runs_in_its_subfolders(run_dirs, tmp_path, capsys):
    """`perfkit report runs/` where bench wrote to runs/mcts and runs/bot; a run's own repeats stay its own."""
    shutil.copytree(run_dirs[0], tmp_path / "runs" / "mcts" / run_dirs[0].name)
    shutil.copytree(run_dirs[1], tmp_path / "runs" / "bot" / run_dirs[1].name)
    shutil.copytree(run_dirs[2], tmp_path / "runs" / "bot" / run_dirs[1].name / "repeats" / "1")
    (tmp_path / "runs" / "curves").mkdir()
    out = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "runs"), "-o", str(out)]) == 0
    assert "2 runs" in capsys.readouterr().out


def test_renderer_reads_only_stored_data(run_dirs, tmp_path):
    """Numbers edited in a stored run are the numbers the report shows: nothing is re-measured."""
    runs = [perfkit.load_run(d) for d in run_dirs]
    assert render_html(runs, generated_at="T") == render_html([perfkit.load_run(d) for d in run_dirs], generated_at="T")
    edited = tmp_path / run_dirs[-1].name
    shutil.copytree(run_dirs[-1], edited)
    manifest = json.loads((edited / "manifest.json").read_text())
    stored = manifest["summary"]
    assert stored["moves_per_s"] != 4321.98 and stored["peak_rss_mb"] != 98765
    stored["moves_per_s"], stored["peak_rss_mb"] = 4321.98, 98765
    (edited / "manifest.json").write_text(json.dumps(manifest))
    html = render_html([*(perfkit.load_run(d) for d in run_dirs[:-1]), perfkit.load_run(edited)], generated_at="T")
    assert "4321.98" in html and "98,765" in html


def test_gpu_utilisation_is_charted_where_it_was_measured(run_dirs):
    import dataclasses

    import pandas as pd

    run = perfkit.load_run(run_dirs[0])
    assert "GPU utilisation over time" not in render_html([run])  # CPU run: the reason, no chart
    t = np.arange(20) * 0.1
    gpu = pd.DataFrame({"t_s": 100 + t, "util_pct": 50 + 40 * np.sin(t), "mem_used_mb": 1000.0,
                        "power_w": 200.0, "sm_clock_mhz": 1800.0})
    sampled = dataclasses.replace(run, gpu=gpu, manifest={**run.manifest, "summary": {**run.summary, "gpu_status": "measured"}})
    html = render_html([sampled])
    assert 'alt="GPU utilisation over time"' in html


def test_projection_bars_are_labelled_with_whose_number_they_are(run_dirs):
    runs = [perfkit.load_run(d) for d in run_dirs]
    bars = tables.projection_bars(runs, reference=seed_reference())
    seed = bars[bars["source"] == "seed"]
    assert list(seed["label"]) == ["seed baseline (reported, GPU)", "seed phase 1 estimate", "seed phase 2 estimate"]
    assert list(seed["days"]) == [24.1, 4.0, 1.3]
    measured = bars[bars["source"] == "measured"]
    assert len(measured) == 3 and all("(measured, CPU" in lb and "tiny preset" in lb for lb in measured["label"])
    assert (measured["low"] <= measured["days"]).all() and (measured["days"] <= measured["high"]).all()
    fig = charts.projection_chart(bars=bars, target_days=4.0)
    assert fig.axes[0].get_xlabel().startswith("days for 500,000 games")


def test_calls_by_purpose_reproduce_the_seeds_count(run_dirs):
    naive = next(perfkit.load_run(d) for d in run_dirs if "naive" in d.name)
    by = tables.calls_by_purpose(naive)
    # Per move: one root call, a value call per candidate, a policy call per tree node, one leaf batch.
    assert by.loc["root", "calls_per_move"] == 1.0
    assert by.loc["root", "mean_batch"] == by.loc["candidate values", "mean_batch"] == 1.0
    assert by.loc["tree policies", "mean_batch"] == 1.0
    assert by.loc["leaves", "calls_per_move"] <= 1.0
    assert by["calls_per_move"].sum() == pytest.approx(naive.summary["calls_per_move"])


@pytest.mark.parametrize("bad", ["missing", "not_a_run"])
def test_a_directory_that_is_not_a_run_is_one_line_and_no_file(bad, tmp_path, capsys):
    target = tmp_path / bad
    if bad == "not_a_run":
        target.mkdir()
        (target / "notes.txt").write_text("hello")
    out = tmp_path / "report.html"
    assert main(["report", str(target), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("perfkit report: error: ") and "Traceback" not in err
    assert re.search(r"does not exist|not a perfkit run directory", err)
    assert not out.exists()


def test_an_unwritable_output_is_one_line_and_leaves_nothing_behind(run_dirs, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker / "report.html", tmp_path):  # under a file; an existing directory
        assert main(["report", str(run_dirs[0]), "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("perfkit report: error: cannot write") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # no temporary left over


def test_python_dash_m_reports_errors_without_a_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "perfkit", "report", str(tmp_path), "-o", str(tmp_path / "r.html")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "r.html").exists()


def chart_pixels(image: np.ndarray, rgb: tuple[int, int, int], tol: int = 8) -> np.ndarray:
    """Mask of the pixels within `tol` of a chart colour."""
    return (np.abs(image[..., :3].astype(int) - np.array(rgb)) <= tol).all(axis=-1)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_report_renders_its_charts_in_a_browser(run_dirs, tmp_path):
    from matplotlib.image import imread

    page = tmp_path / "report.html"
    assert main(["report", *map(str, run_dirs), "-o", str(page)]) == 0
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,3000",
            page.as_uri(),
        ],
        capture_output=True, timeout=120, check=True,
    )
    image = (imread(shot) * 255).round().astype(np.uint8)  # [H, W, 3 or 4]
    assert image.shape[:2] == (3000, 1200)
    # The page itself is black text on white; only a drawn chart paints the strategies' colours.
    for name in STRATEGIES:
        mask = chart_pixels(image, tuple(int(charts.STRATEGY_COLORS[name][i:i + 2], 16) for i in (1, 3, 5)))
        assert mask.sum() > 200, f"{name}'s colour is missing: the charts did not render"
    rows = np.flatnonzero(chart_pixels(image, (44, 160, 44)).any(axis=1))
    assert rows.max() - rows.min() > 300, "more than one chart rendered down the page"
    painted = (image[..., :3] < 245).any(axis=-1)
    assert painted[rows.min():rows.max()].mean() > 0.05, "the charts' region is not blank"
