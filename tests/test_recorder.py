"""The recorder: one for every strategy, totals equal to the strategies' own counts, self-timed.

Also: a run written to disk loads back equal (tables and manifest), so notebooks and reports
read exactly what bench wrote.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
import torch

from perfkit.instrument.recorder import CALL_COLUMNS, GAME_COLUMNS, MOVE_COLUMNS, Recorder
from perfkit.instrument.run import TABLES, load_run
from perfkit.measure.bench import BenchSettings, Workload, recorder_overhead, run_strategy
from perfkit.strategies import STRATEGIES
from perfkit.types import CallRecord, GameRecord, MoveRecord


@pytest.fixture(scope="module")
def workload() -> Workload:
    # No cache: these tests count the strategies' own calls (tests/test_cache.py counts them with it).
    return Workload.prepare(BenchSettings(preset="tiny", games=2, device="cpu", precision="float64", cache=False))


@pytest.fixture(scope="module")
def runs(workload) -> dict:
    return {name: run_strategy(name, workload, progress=False) for name in STRATEGIES}


class FakeClock:
    """Advances by `step` seconds at every reading."""

    def __init__(self, step: float = 1.0) -> None:
        self.t, self.step = 0.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


def call_record(batch: int, start: float = 0.0) -> CallRecord:
    return CallRecord(
        batch=batch, n_policy=batch, n_value=batch, level=0, encode_s=1e-4, h2d_s=None, forward_s=1e-3,
        d2h_s=None, queue_wait_s=None, start_s=start, end_s=start + 2e-3,
    )


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_recorder_totals_equal_the_strategys_own_counts(runs, name):
    run = runs[name]
    calls, moves, games, s = run.calls, run.moves, run.games, run.summary
    assert (calls["strategy"] == name).all()  # one recorder, told which strategy it watches
    # The strategy attributes every call and board to the moves that sent them (its Tally).
    assert moves["calls"].sum() == pytest.approx(len(calls), abs=1e-9)
    assert int(moves["boards"].sum()) == int(calls["batch"].sum())
    assert s["calls"] == len(calls) and s["boards"] == int(calls["batch"].sum())
    assert s["moves"] == len(moves) == int(games["moves"].sum())
    assert s["games"] == len(games) == 2
    assert (calls["n_policy"] <= calls["batch"]).all() and (calls["n_value"] <= calls["batch"]).all()
    assert (calls["end_s"] >= calls["start_s"]).all()
    # The CPU has no transfer: None ("n/a"), never an invented zero.
    assert calls["h2d_s"].isna().all() and calls["d2h_s"].isna().all()
    assert s["transfer_share"] is None


def test_naive_makes_the_seeds_calls_on_the_first_move(runs):
    """SPEC §1.3: 18 single-board calls and one batch of 27 leaves on a mid-game move."""
    calls = runs["naive"].calls
    first_move = calls.iloc[:19]
    assert list(first_move["batch"]) == [1] * 18 + [27]


def test_strategies_record_the_same_games(runs):
    digests = {r.summary["game_digest"] for r in runs.values()}
    assert len(digests) == 1


def test_recorder_times_itself_with_an_injected_clock():
    rec = Recorder("naive", clock=FakeClock(step=1.0))
    rec.on_call(call_record(3))
    rec.on_call(call_record(5))
    assert (rec.n_calls, rec.n_boards) == (2, 8)
    assert rec.own_s == 2.0  # one tick per hook
    game = GameRecord(game=0, winner=1, moves=[
        MoveRecord(game=0, ply=0, player=1, move=4, root_value=0.1, minimax_value=0.2, candidates=[4, 3],
                   policy_move_values=[0.2, 0.1], chosen_rank=0, calls=2.0, boards=8),
    ], start_s=10.0, end_s=12.5)
    rec.on_game(game)
    assert rec.own_s == 3.0
    calls = rec.calls_table()
    assert list(calls.columns) == ["strategy", *CALL_COLUMNS]
    assert list(calls["batch"]) == [3, 5]
    assert list(rec.moves_table().columns) == MOVE_COLUMNS
    games = rec.games_table()
    assert list(games.columns) == GAME_COLUMNS
    assert games.loc[0, "duration_s"] == 2.5
    assert rec.own_s == 6.0  # and one per table built


def test_recording_off_keeps_totals_but_no_call_rows():
    rec = Recorder("crossgame", record_calls=False)
    for b in (1, 5, 9, 27):
        rec.on_call(call_record(b))
    assert (rec.n_calls, rec.n_boards) == (4, 42)
    assert rec.calls_table().empty


def test_recorder_counts_calls_from_several_threads():
    rec = Recorder("crossgame")
    record = call_record(2)

    def worker():
        for _ in range(2000):
            rec.on_call(record)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (rec.n_calls, rec.n_boards, len(rec.calls)) == (8000, 16000, 8000)


def test_every_run_records_the_recorders_own_time(runs):
    """The recorder's own time (hooks + tables) is in every run's summary, consistently.

    How much it costs is a benchmark, not a test: `perfkit bench --recorder-overhead`
    measures it (figures in data/results/); a test asserting a share of wall time fails on
    a busy machine for no fault of the change.
    """
    for run in runs.values():
        s = run.summary
        assert 0 < s["recorder_s"] < s["wall_s"]
        assert s["recorder_share"] == pytest.approx(s["recorder_s"] / s["wall_s"])


def test_recorder_overhead_compares_on_and_off(workload):
    """The A/B measurement runs (its value is noise on a busy CPU, so only its shape is checked)."""
    out = recorder_overhead("permove", workload, pairs=1)
    assert out["pairs"] == 1 and len(out["wall_on_s"]) == len(out["wall_off_s"]) == 1
    assert all(w > 0 for w in out["wall_on_s"] + out["wall_off_s"])
    assert out["overhead"] == pytest.approx(out["wall_on_s"][0] / out["wall_off_s"][0] - 1)
    assert 0 < out["recorder_share"] < 1


def test_a_loaded_run_equals_what_was_written(runs, tmp_path):
    run = runs["crossgame"]
    path = run.save(tmp_path / "run")
    back = load_run(path)
    assert back.manifest == run.manifest
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(run, name), check_exact=True)
    # List cells come back as lists (parquet hands them out as numpy arrays).
    assert back.moves["candidates"].map(type).eq(list).all()
    assert back.moves["candidates"].tolist() == run.moves["candidates"].tolist()
    assert back.moves["policy_move_values"].tolist() == run.moves["policy_move_values"].tolist()
    # The GPU table on the CPU: empty, float columns, no zeros pretending to be samples.
    assert back.gpu.empty and all(back.gpu.dtypes == np.float64)
    assert back.summary["gpu_util_mean"] is None
    assert back.summary["gpu_status"].startswith("unavailable:")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_calls_time_transfers_with_events_and_reuse_pinned_buffers():
    from perfkit.model import Evaluator, build_model
    from perfkit.types import get_preset

    model = build_model(get_preset("tiny"), seed=0)
    records: list[CallRecord] = []
    cuda = Evaluator(model, n=5, device="cuda", on_call=records.append)
    cpu = Evaluator(build_model(get_preset("tiny"), seed=0), n=5)
    stones = np.random.default_rng(0).integers(0, 3, size=(27, 25), dtype=np.int8)
    to_move = np.ones(27, np.int8)
    logits, values = cuda(stones, to_move)
    pinned = cuda.runner._pinned_in.data_ptr()
    cuda(stones[:5], to_move[:5])
    assert cuda.runner._pinned_in.data_ptr() == pinned  # a smaller call reuses the buffer
    ref_logits, ref_values = cpu(stones, to_move)
    np.testing.assert_allclose(logits, ref_logits, atol=1e-4)
    np.testing.assert_allclose(values, ref_values, atol=1e-4)
    for r in records:
        assert r.h2d_s is not None and r.h2d_s > 0 and r.d2h_s is not None and r.d2h_s > 0
        assert 0 < r.forward_s <= r.end_s - r.start_s
