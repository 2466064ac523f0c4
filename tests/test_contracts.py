"""The contracts of perfkit.types: the run summary's JSON form and the user-engine Protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfkit.search.engines import check_engine, make_engine
from perfkit.types import PerfkitError, RunSummary, UserEngine

EXAMPLE = str(Path(__file__).resolve().parent.parent / "examples" / "azg_mcts.py") + ":engine"


def summary(**extra) -> RunSummary:
    return RunSummary(
        games=2, moves=10, calls=40, boards=90, calls_per_move=4.0, boards_per_move=9.0, mean_batch=2.25,
        p50_batch=1.0, p95_batch=9.0, max_batch_seen=27, wall_s=1.5, games_per_s=1.3, moves_per_s=6.7,
        boards_per_s=60.0, forward_share=0.5, transfer_share=None, encode_share=0.1, cpu_share=0.5,
        outside_network_share=0.4, game_digest="ab" * 32, batch1_median_s=0.001, projected_days_500k=4.4,
        projected_days_500k_low=4.0, projected_days_500k_high=5.0, gpu_util_mean=None,
        gpu_status="unavailable: no NVIDIA GPU", peak_rss_mb=300.0, device="cpu", device_name="cpu",
        recorder_s=0.01, recorder_share=0.007, extra=dict(extra),
    )


def test_the_summary_round_trips_through_its_json_keys():
    typed = summary(torch_threads=2, cache_hit_share=None)
    stored = typed.to_dict()
    assert stored["torch_threads"] == 2 and "extra" not in stored and stored["efficiency"] is None
    assert RunSummary.from_dict(stored) == typed and RunSummary.from_dict(stored).to_dict() == stored


def test_a_summary_without_a_metric_every_run_has_is_refused_in_one_line():
    stored = summary().to_dict()
    del stored["boards"], stored["wall_s"]
    with pytest.raises(PerfkitError, match="has no boards, wall_s"):
        RunSummary.from_dict(stored)


class NoPlay:
    obs_shape = (3, 5, 5)
    actions = 25


def test_an_engine_is_checked_against_the_protocol_where_it_is_made():
    assert isinstance(make_engine(EXAMPLE, game="connect_four", simulations=2), UserEngine)
    assert not isinstance(NoPlay(), UserEngine)
    with pytest.raises(PerfkitError, match="lacks play_game .*UserEngine"):
        check_engine(NoPlay())

    class Plays(NoPlay):
        def play_game(self, game_id, predict, tracer):
            return 0

    assert isinstance(Plays(), UserEngine) and check_engine(Plays()) is not None


def test_a_renderer_reads_any_metric_of_the_summary_by_its_json_key():
    s = summary(torch_threads=2)
    assert s.get("boards_per_s") == 60.0 and s.get("torch_threads") == 2 and s.get("transfer_share") is None
    assert s.get("no_such_metric") is None and s.get("no_such_metric", 0) == 0 and s.get("extra") is None
