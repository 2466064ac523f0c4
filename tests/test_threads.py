"""The torch thread count: chosen by a stated rule, honoured when asked, recorded in every run.

The rule is tested with an injected probe, core count, busy cores and environment (no timing);
the CLI tests check that the choice reaches the run's summary and manifest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from perfkit.cli import main
from perfkit.devices.threads import choose_threads, curve_oversubscription, oversubscription_warning


class FakeProbe:
    """A batch-1 call's seconds by thread count; counts the thread counts it was asked about."""

    def __init__(self, seconds: dict[int, float]) -> None:
        self.seconds, self.asked = seconds, []

    def __call__(self, threads: int) -> float:
        self.asked.append(threads)
        return self.seconds[threads]


def choose(probe=None, **kw):
    args = {"device_type": "cpu", "requested": None, "cores": 4, "busy": 0.0, "env": {}, **kw}
    return choose_threads(probe=probe, **args)


def test_requested_threads_are_honoured_and_timed():
    probe = FakeProbe({3: 0.002})
    c = choose(probe, requested=3, env={"OMP_NUM_THREADS": "1"})
    assert (c.threads, c.source, c.reason) == (3, "requested", "--threads 3")
    assert c.expected_batch1_s == 0.002 and set(probe.asked) == {3}


def test_omp_num_threads_is_a_users_choice():
    c = choose(FakeProbe({1: 0.001}), env={"OMP_NUM_THREADS": "1"})
    assert (c.threads, c.source) == (1, "environment")
    assert "OMP_NUM_THREADS=1" in c.reason


def test_cuda_uses_one_host_thread():
    c = choose(FakeProbe({1: 0.001}), device_type="cuda")
    assert (c.threads, c.source) == (1, "device") and "GPU" in c.reason


def test_a_busy_machine_gets_one_thread_without_a_race():
    probe = FakeProbe({1: 0.001})
    c = choose(probe, cores=2, busy=1.6)
    assert (c.threads, c.source) == (1, "rule")
    assert "busy" in c.reason and "1.6 of 2 cores" in c.reason and set(probe.asked) == {1}


def test_oversubscribed_threads_are_measured_and_refused():
    probe = FakeProbe({1: 0.0013, 3: 0.296})
    c = choose(probe, cores=4, busy=0.2)
    assert (c.threads, c.source) == (1, "measured")
    assert "296.00 ms with 3 threads" in c.reason and "1.30 ms with 1" in c.reason
    assert probe.asked.count(1) == probe.asked.count(3) >= 2  # interleaved rounds, both counts alike


def test_an_idle_two_core_machine_keeps_a_core_of_headroom():
    probe = FakeProbe({1: 0.0013})
    c = choose(probe, cores=2, busy=0.0)
    assert (c.threads, c.source) == (1, "rule") and "one left for the search" in c.reason
    assert set(probe.asked) == {1}


def test_free_cores_less_headroom_are_used_when_they_do_not_slow_single_calls():
    c = choose(FakeProbe({1: 0.0013, 2: 0.0012}), cores=4, busy=1.2)  # 3 free, one kept
    assert (c.threads, c.source) == (2, "measured") and "one kept as headroom" in c.reason
    assert c.expected_batch1_s == 0.0012
    assert json.loads(json.dumps(c.to_dict()))["batch1_s"] == {"1": 0.0013, "2": 0.0012}


def test_small_calls_play_with_one_thread_unless_the_user_chose():
    measured = choose(FakeProbe({1: 0.0013, 3: 0.0012}), cores=8, busy=4.0)
    assert measured.for_strategy("crossgame") == (3, measured.reason)
    for name in ("naive", "permove"):
        threads, reason = measured.for_strategy(name)
        assert threads == 1 and "calls of a few boards" in reason and "3 for crossgame" in reason
    asked = choose(FakeProbe({3: 0.002}), requested=3)
    assert asked.for_strategy("naive") == (3, "--threads 3")


def test_oversubscription_warning_only_when_far_slower():
    assert oversubscription_warning(0.0015, 0.0013, expected_from="x") is None
    assert oversubscription_warning(None, 0.0013, expected_from="x") is None
    assert oversubscription_warning(0.3, None, expected_from="x") is None
    text = oversubscription_warning(0.296, 0.0013, expected_from="timed before")
    assert "296.00 ms" in text and "228x" in text and "--threads 1" in text


def test_big_calls_warn_when_they_cost_far_more_per_board_than_the_probe():
    import pandas as pd

    from perfkit.devices.threads import BIG_BATCH, big_call_warning

    def calls(seconds_per_board: float) -> pd.DataFrame:
        batch = [BIG_BATCH, 2 * BIG_BATCH, 5]  # the 5-board call is not a big call
        return pd.DataFrame({"batch": batch, "start_s": 0.0, "end_s": [b * seconds_per_board for b in batch]})

    probe_s = 0.010  # 10 ms for 128 boards
    assert big_call_warning(calls(probe_s / BIG_BATCH), probe_s) is None
    text = big_call_warning(calls(10 * probe_s / BIG_BATCH), probe_s)
    assert f"calls of {BIG_BATCH}+ boards" in text and "10x" in text
    assert big_call_warning(calls(1.0), None) is None and big_call_warning(pd.DataFrame(), probe_s) is None


def test_curve_warns_when_batch_1_costs_more_than_a_bigger_batch():
    from perfkit.analysis.curve import Curve, CurvePoint

    def curve(one_s):
        points = [CurvePoint(1, (one_s,)), CurvePoint(2, (0.0014,)), CurvePoint(64, (0.01,))]
        return Curve(device="cpu", device_name="cpu", preset="tiny", network={}, precision="float32", points=points)

    assert curve_oversubscription(curve(0.0013), 0.0013) is None
    assert "bigger batch" in curve_oversubscription(curve(0.2), None)
    assert "before the sweep" in curve_oversubscription(curve(0.2), 0.0013)


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")

    def run(*extra: str) -> dict:
        capture = out / "stdout.json"
        import contextlib

        with open(capture, "w") as f, contextlib.redirect_stdout(f):
            code = main(["bench", "--strategy", "naive", "--preset", "tiny", "--games", "1", "--no-progress",
                         "--device", "cpu", "--json", "--out", str(out), *extra])
        assert code == 0
        return json.loads(capture.read_text())["runs"][0]

    yield run
    torch.set_num_threads(1)  # what conftest set for the other tests


def test_threads_flag_is_honoured_and_recorded(bench_json):
    entry = bench_json("--threads", "2")
    assert entry["torch_threads"] == 2 and entry["threads_reason"] == "--threads 2"
    manifest = json.loads((Path(entry["run_dir"]) / "manifest.json").read_text())
    assert manifest["environment"]["torch_threads"] == 2
    assert manifest["threads"]["threads"] == 2 and manifest["threads"]["source"] == "requested"
    assert manifest["threads"]["batch1_s"]["2"] > 0 and manifest["threads"]["big_call_s"] > 0


def test_the_default_choice_is_recorded_with_its_reason(bench_json):
    entry = bench_json()  # conftest sets OMP_NUM_THREADS=1: the environment's choice
    assert entry["torch_threads"] == 1 and "OMP_NUM_THREADS=1" in entry["threads_reason"]
    manifest = json.loads((Path(entry["run_dir"]) / "manifest.json").read_text())
    assert manifest["threads"]["source"] == "environment"
