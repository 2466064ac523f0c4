"""The live rate and days estimate of `perfkit selfplay` leave out warm-up (issue 13, item 5).

Every test runs on a fake clock: the games "end" when the test says so, so the estimate is
checked exactly, never against this machine's speed.
"""

from __future__ import annotations

import pytest

from perfkit.analysis.summary import DAY_S, PROJECTION_GAMES
from perfkit.measure.bench import BenchSettings
from perfkit.selfplay import SelfplaySettings
from perfkit.selfplay.backends import LocalBackend, RayBackend
from perfkit.selfplay.run import Progress, RateEstimator, games_in_flight


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class FakeStore:
    """Keeps every progress.json snapshot instead of writing it."""

    def __init__(self) -> None:
        self.snapshots: list[dict] = []

    def write_progress(self, progress: dict, *, last: bool = False) -> bool:
        self.snapshots.append(progress)
        return True


def end_times(*, in_flight: int, game_s: float, startup_s: float, games: int) -> list[float]:
    """When each game of a steady crossgame-like run ends: the first wave together, then one every game_s / in_flight."""
    first = startup_s + game_s
    return [first if i < in_flight else first + (i - in_flight + 1) * game_s / in_flight for i in range(games)]


def test_the_rate_counts_only_games_after_warm_up():
    clock = FakeClock()
    est = RateEstimator(warmup_games=4, clock=clock)
    assert est.rate() is None and "warming up: 0 of the first 4" in est.basis()
    clock.t = 10.0  # start-up and the first wave: four games end together after 10 s
    for _ in range(4):
        est.game_done()
    assert est.rate() is None and "no game finished since" in est.basis()
    for _ in range(10):  # then one a second
        clock.t += 1.0
        est.game_done()
    assert est.rate() == pytest.approx(1.0)
    assert est.session_rate() == pytest.approx(14 / 20)  # what counting from the start would say: 30 % slow
    assert est.basis().startswith("games after the first 4 of this session")


def test_the_live_days_estimate_is_right_from_the_first_game_after_warm_up():
    """64 games in flight, 64 s a game (1 game/s steady), 20 s of start-up, 1,000 games."""
    clock, store = FakeClock(), FakeStore()
    total = 1000
    progress = Progress(store, SelfplaySettings(BenchSettings(preset="tiny", games=total)), stored=0, bar=False,
                        clock=clock, warmup_games=64)
    truth_days = PROJECTION_GAMES / 1.0 / DAY_S
    live, from_start = [], []
    for k, t in enumerate(end_times(in_flight=64, game_s=64.0, startup_s=20.0, games=total), start=1):
        clock.t = t
        progress.game_done(buffered=k)
        r = progress.rates()
        if k <= 64:
            assert r["games_per_s"] is None and r["projected_days_500k"] is None and r["eta_s"] is None
            assert r["rate_basis"].startswith("warming up") or "no game finished since" in r["rate_basis"]
        else:
            live.append(r["projected_days_500k"])
            from_start.append(PROJECTION_GAMES / (k / t) / DAY_S)
            assert r["eta_s"] == pytest.approx((total - k) / 1.0)
    assert live == pytest.approx([truth_days] * (total - 64))  # every estimate after warm-up
    off = [abs(d / truth_days - 1) > 0.05 for d in from_start]
    assert sum(off) > total // 3, "counting from the start would be >5 % off for over a third of this run"
    assert store.snapshots and store.snapshots[-1]["warmup_games"] == 64


def test_a_session_shorter_than_its_warm_up_reports_its_whole_rate_at_the_end():
    clock, store = FakeClock(), FakeStore()
    progress = Progress(store, SelfplaySettings(BenchSettings(preset="tiny", games=6)), stored=0, bar=False,
                        clock=clock, warmup_games=64)
    assert progress.estimator.warmup_games == 6  # no more warm-up than games to play
    clock.t = 12.0
    for k in range(1, 7):
        progress.game_done(buffered=k)
    assert progress.rates()["games_per_s"] is None
    final = progress.write("finished")
    assert final["games_per_s"] == pytest.approx(6 / 12.0) and final["eta_s"] == 0
    assert final["rate_basis"].startswith("the whole session, warm-up included")


def test_a_resumed_session_warms_up_again_and_only_for_the_games_it_lacks():
    clock = FakeClock()
    progress = Progress(FakeStore(), SelfplaySettings(BenchSettings(preset="tiny", games=100)), stored=98,
                        bar=False, clock=clock, warmup_games=16)
    assert progress.estimator.warmup_games == 2


def test_warm_up_is_one_game_per_game_in_flight():
    def local(strategy: str) -> int:
        s = SelfplaySettings(BenchSettings(preset="tiny", games=10, concurrency=24), strategy=strategy)
        return games_in_flight(s, LocalBackend(s))

    assert local("crossgame") == 24
    assert local("naive") == local("permove") == 1
    s = SelfplaySettings(BenchSettings(preset="tiny", games=10, concurrency=8), backend="ray", chunk_games=40)
    ray = RayBackend.__new__(RayBackend)  # not started: no Ray needed to count its games in flight
    ray.workers = 3
    assert games_in_flight(s, ray) == 3 * 40  # each actor hands back a whole chunk at once
