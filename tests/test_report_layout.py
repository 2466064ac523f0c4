"""The HTML report's comparison leads with the key ratios in a table narrow enough for a
1,400 px window; everything else is in a details table below it."""

from __future__ import annotations

import re

import pytest

from perfkit.bench import BenchSettings, bench
from perfkit.report.html import write_report


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("runs")
    runs = bench(["naive", "crossgame"], BenchSettings(preset="tiny", games=1, device="cpu"), out=out, progress=False)
    return write_report(runs, out / "report.html").read_text()


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
