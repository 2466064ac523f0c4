"""crossgame with worker processes feeding one batch server (perfkit.strategies.workers).

- the equivalence contract: float64 games identical to naive for any workers, max batch
  (including one smaller than a search level) and max wait;
- no request lost or duplicated: both sides count, and the counts, rows and calls agree
  with what the evaluator saw and with what the games' moves were charged;
- a worker that dies (or fails) is reported clearly, stops the run and leaves no process behind;
- `perfkit bench --workers` works from the command line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal

import pytest

from perfkit.analysis.summary import game_digest
from perfkit.cli import main
from perfkit.instrument.run import load_run
from perfkit.model import Evaluator, build_model
from perfkit.strategies import Engine, make_strategy
from perfkit.strategies.base import play_games
from perfkit.strategies.workers import CRASH_ENV
from perfkit.types import CallRecord, GameRecord, PerfkitError, SearchConfig, get_preset

GAMES = 6
CONFIG = SearchConfig(temperature=1.0, temperature_plies=4)


@pytest.fixture(autouse=True)
def deadline():
    """No test may hang: SIGALRM fails it after 60 s (the whole file takes well under that)."""

    def expire(signum, frame):
        raise TimeoutError("test ran past 60 s: something hangs")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


class Counting:
    """A float64 tiny-net evaluator that keeps every call's record."""

    def __init__(self) -> None:
        preset = get_preset("tiny")
        self.calls: list[CallRecord] = []
        self.evaluator = Evaluator(build_model(preset, seed=0), n=preset.board, precision="float64",
                                   on_call=self.calls.append)

    def engine(self) -> Engine:
        return Engine(evaluate=self.evaluator, game=self.evaluator.n, config=CONFIG, seed=0)


@pytest.fixture(scope="module")
def counting() -> Counting:
    return Counting()


@pytest.fixture(scope="module")
def naive(counting) -> list[GameRecord]:
    return sorted(make_strategy("naive").play(range(GAMES), counting.engine()), key=lambda g: g.game)


def children() -> list[int]:
    """Live (not zombie) child processes of this one, from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def play(counting: Counting, **options) -> tuple[list[GameRecord], dict]:
    counting.calls.clear()
    strategy = make_strategy("crossgame", **options)
    games = sorted(strategy.play(range(GAMES), counting.engine()), key=lambda g: g.game)
    assert [g.game for g in games] == list(range(GAMES)), "every game played exactly once"
    return games, strategy.stats()


def assert_nothing_lost(stats: dict, counting: Counting, games: list[GameRecord]) -> None:
    """Both sides' counts agree, and agree with the evaluator's calls and the moves' charges."""
    for w in stats["per_worker"]:
        assert w["requests_sent"] == w["requests_received"] == w["requests_answered"] == w["answers_received"], w
        assert w["rows_sent"] == w["rows_received"], w
        assert w["imports_torch"] is False, "a worker must not load torch"
    total = sum(w["requests_sent"] for w in stats["per_worker"])
    assert stats["requests_sent"] == stats["requests_answered"] == stats["answers_received"] == total
    moves = [m for g in games for m in g.moves]
    boards = sum(c.batch for c in counting.calls)
    assert stats["rows"] == boards == sum(w["rows_received"] for w in stats["per_worker"])
    assert sum(m.boards for m in moves) == boards, "every evaluated board is charged to exactly one move"
    assert stats["calls"] == len(counting.calls)
    assert sum(m.calls for m in moves) == pytest.approx(len(counting.calls)), "each call's shares sum to one"
    assert sum(w["games"] for w in stats["per_worker"]) == len(games)
    assert all(c.queue_wait_s is not None and c.queue_wait_s >= 0 for c in counting.calls)
    assert 0 <= stats["worker_idle_share"] <= 1


@pytest.mark.parametrize(
    ("workers", "max_batch", "max_wait_s"),
    [(1, None, 0.002), (2, 7, 0.0), (3, 1024, 0.02), (2, 40, 0.002)],
    ids=["w1-unbounded", "w2-batch7-nowait", "w3-batch1024-wait20ms", "w2-batch40"],
)
def test_games_identical_to_naive(counting, naive, workers, max_batch, max_wait_s):
    games, stats = play(counting, workers=workers, concurrency=4, max_batch=max_batch, max_wait_s=max_wait_s)
    assert [g.move_list for g in games] == [g.move_list for g in naive]
    for a, b in zip(naive, games, strict=True):
        assert b.winner == a.winner
        for x, y in zip(a.moves, b.moves, strict=True):
            assert (y.candidates, y.chosen_rank) == (x.candidates, x.chosen_rank)
            assert y.root_value == pytest.approx(x.root_value, abs=1e-9)
            assert y.policy_move_values == pytest.approx(x.policy_move_values, abs=1e-9, nan_ok=True)
    assert stats["workers"] == workers
    assert_nothing_lost(stats, counting, games)
    if max_batch is not None:
        assert max(c.batch for c in counting.calls) <= max_batch
        assert stats["batch_fill"] == pytest.approx(stats["rows"] / stats["calls"] / max_batch)


def test_one_worker_sends_exactly_the_in_process_levels(counting):
    """One worker with G games issues exactly the search levels of the in-process loop with G games."""
    levels = []

    def schedule(req, evaluate, tally):
        levels.append(len(req))
        from perfkit.strategies.base import batched

        return batched()(req, evaluate, tally)

    list(play_games(range(GAMES), engine=counting.engine(), concurrency=3, schedule=schedule))
    games, stats = play(counting, workers=1, concurrency=3, max_batch=None)
    assert stats["requests_sent"] == stats["requests_answered"] == len(levels)
    assert stats["per_worker"][0]["rows_sent"] == sum(levels)
    assert stats["calls"] == len(levels), "one worker, no max batch: one call per level"


def test_many_workers_lose_and_duplicate_nothing(counting, naive):
    games, stats = play(counting, workers=5, concurrency=5, max_batch=9, max_wait_s=0.005)
    assert [g.move_list for g in games] == [g.move_list for g in naive]
    assert_nothing_lost(stats, counting, games)
    assert sum(stats["fired"].values()) == stats["calls"]


def test_a_dead_worker_stops_the_run_with_a_clear_message(counting, monkeypatch):
    monkeypatch.setenv(CRASH_ENV, "1:5")
    strategy = make_strategy("crossgame", workers=2, concurrency=4)
    reached: list[GameRecord] = []
    # No clock here (item 7 of issue 13): "stops the run" is checked by what got through. A
    # server that waited on the dead worker instead would hang, and the file's 60 s alarm
    # (deadline above) fails it.
    with pytest.raises(PerfkitError, match=r"worker 1 died \(exit code 3\) after 5 requests; .* games completed") as err:
        reached.extend(strategy.play(range(GAMES), counting.engine()))
    assert len(reached) < GAMES, "the run stopped at the death instead of playing on with the other worker"
    assert f"{len(reached)} games completed" in str(err.value)
    assert children() == [], "no worker left behind"


def test_a_failing_worker_reports_its_error(counting, monkeypatch):
    monkeypatch.setenv(CRASH_ENV, "0:2:raise")
    with pytest.raises(PerfkitError, match=r"worker 0 failed: RuntimeError: test hook: failing before request 3"):
        list(make_strategy("crossgame", workers=2, concurrency=4).play(range(GAMES), counting.engine()))
    assert children() == []


def test_stopping_early_stops_the_workers(counting):
    games = make_strategy("crossgame", workers=2, concurrency=2).play(range(100), counting.engine())
    first = next(games)
    assert isinstance(first, GameRecord)
    games.close()
    assert children() == []


def test_settings_are_checked():
    with pytest.raises(PerfkitError, match="workers must be >= 0"):
        make_strategy("crossgame", workers=-1)
    with pytest.raises(PerfkitError, match="max wait"):
        make_strategy("crossgame", workers=2, max_wait_s=-1.0)
    with pytest.raises(PerfkitError, match="in-process only"):
        make_strategy("crossgame", workers=2, inflight=2)
    assert make_strategy("crossgame").stats() == {}


def bench_json(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["bench", "--preset", "tiny", "--games", "4", "--precision", "float64", "--device", "cpu",
                     "--json", "--no-progress", *args]) == 0
    return json.loads(out.getvalue())["runs"][0]


def test_cli_workers_play_the_naive_games(tmp_path):
    run = bench_json("--strategy", "crossgame", "--workers", "2", "--concurrency", "4", "--max-wait-ms", "1",
                     "--out", str(tmp_path))
    ref = bench_json("--strategy", "naive", "--out", str(tmp_path))
    assert run["game_digest"] == ref["game_digest"]
    assert run["requests_sent"] == run["requests_answered"] > 0
    assert 0 < run["batch_fill"] <= 1 and 0 <= run["worker_idle_share"] <= 1
    assert ref["requests_sent"] is None and ref["batch_fill"] is None  # not applicable: no workers
    stored = load_run(run["run_dir"])
    assert stored.manifest["strategy_settings"]["workers"] == 2
    assert stored.manifest["strategy_settings"]["max_wait_s"] == pytest.approx(0.001)
    assert stored.manifest["strategy_stats"]["requests_received"] == run["requests_sent"]
    assert game_digest(stored.moves) == ref["game_digest"]
    assert stored.calls["queue_wait_s"].notna().all()
