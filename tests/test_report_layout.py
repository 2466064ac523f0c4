"""The HTML report's comparison leads with the key ratios in a table narrow enough for a
1,400 px window (checked on a headless Chromium screenshot where Debian's chromium is
installed); everything else is in a details table below it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from perfkit.measure.bench import BenchSettings, bench
from perfkit.report.html import write_report

WINDOW = (1400, 900)  # width, height: the comparison is near the top


@pytest.fixture(scope="module")
def report_path(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    runs = bench(["naive", "crossgame"], BenchSettings(preset="tiny", games=1, device="cpu"), out=out, progress=False)
    return write_report(runs, out / "report.html")


@pytest.fixture(scope="module")
def report(report_path) -> str:
    return report_path.read_text()


def headers(html: str, after: str) -> list[str]:
    table = html[html.index(after):]
    row = table[table.index("<tr>"):table.index("</tr>")]
    return re.findall(r"<th>(.*?)</th>", row)


def test_the_comparison_leads_with_the_key_ratios(report):
    key = headers(report, '<h2 id="comparison">')
    assert key[:5] == ["run", "moves/s", "vs naive", "efficiency", "days/500k (interval)"]
    assert "peak RSS MB" in key and len(key) <= 11  # ~100 px a column: fits 1,400 px with the page's margins


def test_the_rest_is_in_the_details_table(report):
    details = headers(report, '<h3 id="details">')
    assert details[:3] == ["run", "preset", "measured on"]
    for column in ("games", "calls", "p95 batch", "forward", "threads"):
        assert column in details


# Paint the comparison for the screenshot (colours only: the layout is the report's own). Its
# container spans the page's width, so where the table ends before the container, yellow shows
# to the right of the last column; a table clipped by its container (overflow) shows none.
PAINT = """<style>
#comparison + .wide { background: #ffff00 !important; }
#comparison + .wide th, #comparison + .wide td {
  background: #ff00ff !important; color: #ff00ff !important; border-color: #ff00ff !important; }
#comparison + .wide tr > :last-child {
  background: #00ffff !important; color: #00ffff !important; border-color: #00ffff !important; }
%s</style>"""
YELLOW, CYAN = (255, 255, 0), (0, 255, 255)


def screenshot(html: str, tmp_path: Path, name: str) -> np.ndarray:
    """Headless Chromium's screenshot of `html` in a WINDOW-sized window, [H, W, 3] uint8."""
    from matplotlib.image import imread

    page, shot = tmp_path / f"{name}.html", tmp_path / f"{name}.png"
    page.write_text(html)
    subprocess.run(
        [
            "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri(),
        ],
        capture_output=True, timeout=120, check=True,  # a bound for a hung browser, not a speed check
    )
    image = (imread(shot)[..., :3] * 255).round().astype(np.uint8)
    assert image.shape[:2] == (WINDOW[1], WINDOW[0])
    return image


def comparison_fits(image: np.ndarray) -> tuple[bool, int]:
    """(the comparison's last column is on screen with room to its right inside its container, its right edge px)."""

    def mask(rgb):
        return (np.abs(image.astype(int) - np.array(rgb)) <= 6).all(axis=-1)

    cyan, yellow = mask(CYAN), mask(YELLOW)
    rows, cols = np.nonzero(cyan)
    if len(rows) < 100:  # the last column is off screen (or hidden by its container)
        return False, -1
    right = int(cols.max())
    band = yellow[rows.min():rows.max() + 1, right + 1:]
    return bool(band.any(axis=0).sum() >= 4), right


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_the_comparison_fits_a_1400_px_window_in_headless_chromium(report_path, tmp_path):
    html = report_path.read_text()
    assert "</head>" in html and '<h2 id="comparison">Comparison</h2>\n<div class="wide">' in html
    fits, right = comparison_fits(screenshot(html.replace("</head>", PAINT % "" + "</head>"), tmp_path, "as-is"))
    assert fits and right < WINDOW[0], "the comparison table is wider than its place in a 1,400 px window"
    # The check can fail: the same page with the table forced wider than the page is caught.
    wide = PAINT % "#comparison + .wide table { min-width: 1300px; }\n"
    fits, _ = comparison_fits(screenshot(html.replace("</head>", wide + "</head>"), tmp_path, "forced-wide"))
    assert not fits
