"""Every key of `perfkit bench --json`, with its type, on a tiny run of all strategies."""

from __future__ import annotations

import json

import pytest

from perfkit.analysis.keys import BENCH_JSON_KEYS, json_type_ok
from perfkit.cli import main
from perfkit.instrument.run import load_run
from perfkit.strategies import STRATEGIES


@pytest.fixture(scope="module")
def entries(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    capture = tmp_path_factory.mktemp("stdout") / "bench.json"
    import contextlib

    with open(capture, "w") as f, contextlib.redirect_stdout(f):
        code = main([
            "bench", "--strategy", "all", "--preset", "tiny", "--games", "2", "--json", "--out", str(out),
            "--no-progress", "--device", "cpu",
        ])
    assert code == 0
    data = json.loads(capture.read_text())
    assert list(data) == ["runs"]
    return data["runs"]


def test_every_key_is_documented_and_every_documented_key_is_there(entries):
    assert [e["strategy"] for e in entries] == list(STRATEGIES)  # --strategy all: every registered one
    for e in entries:
        assert sorted(e) == sorted(BENCH_JSON_KEYS), (
            f"undocumented: {sorted(set(e) - set(BENCH_JSON_KEYS))}; missing: {sorted(set(BENCH_JSON_KEYS) - set(e))}"
        )


@pytest.mark.parametrize("key", sorted(BENCH_JSON_KEYS))
def test_each_key_has_its_documented_type(entries, key):
    spec, description = BENCH_JSON_KEYS[key]
    assert description
    for e in entries:
        assert json_type_ok(e[key], spec), f"{e['strategy']}: {key}={e[key]!r} is not {spec}"


def test_values_on_the_cpu(entries):
    for e in entries:
        assert e["device"] == "cpu" and e["device_name"] == "cpu"
        assert e["transfer_share"] is None  # no transfer on the CPU: "n/a", not 0
        assert e["gpu_util_mean"] is None and e["gpu_status"].startswith("unavailable: ")
        assert e["efficiency"] is None and "run perfkit curve --preset tiny" in e["efficiency_status"]
        assert e["peak_rss_mb"] > 0
        assert e["projected_days_500k_low"] <= e["projected_days_500k"] <= e["projected_days_500k_high"]
        assert e["p50_batch"] <= e["p95_batch"] <= e["max_batch_seen"]
        assert 0 < e["forward_share"] < 1 and 0 < e["cpu_share"] < 1
        assert e["forward_share"] + e["cpu_share"] == pytest.approx(1.0)
    naive = entries[0]
    assert naive["speedup_vs_naive"] == 1.0
    assert all(e["speedup_vs_naive"] == pytest.approx(e["moves_per_s"] / naive["moves_per_s"]) for e in entries)
    assert len({e["game_digest"] for e in entries}) == 1


def test_json_is_what_the_run_directory_holds(entries):
    for e in entries:
        run = load_run(e["run_dir"])
        assert run.manifest["strategy"] == e["strategy"]
        assert {k: e[k] for k in run.summary} == run.summary
