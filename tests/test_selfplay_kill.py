"""Crash safety of `perfkit selfplay` as a real process: kill -9 at random moments, SIGINT, SIGTERM."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from perfkit import load_selfplay
from perfkit.analysis.summary import game_digest
from perfkit.game import Positions, play, winner_by_flood_fill
from perfkit.measure.bench import BenchSettings
from perfkit.selfplay import SelfplaySettings, selfplay

N = 24
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny float64 nets are fastest on one thread


def command(out, games=N) -> list[str]:
    return [
        sys.executable, "-m", "perfkit", "selfplay", "--games", str(games), "--out", str(out),
        "--preset", "tiny", "--precision", "float64", "--concurrency", "4",
        "--shard-games", "2", "--flush-s", "0.1", "--no-progress",
    ]


def start_playing(out, games=N, timeout_s=60.0) -> subprocess.Popen:
    """A selfplay process, returned once it is playing games (its pid is in progress.json)."""
    proc = subprocess.Popen(command(out, games), env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads((out / "progress.json").read_text()).get("pid") == proc.pid:
                return proc
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    return proc


def stored_games(out) -> int:
    return len(load_selfplay(out).games) if (out / "settings.json").exists() else 0


def assert_legal(data, n: int = 5) -> None:
    for (game, moves), winner in zip(data.moves.groupby("game"), data.games.set_index("game")["winner"], strict=True):
        pos = Positions.empty(n, 1)
        for player, move in zip(moves["player"], moves["move"], strict=True):
            assert not pos.terminal[0] and player == pos.to_move[0], f"game {game}"
            pos = play(pos, np.array([move]))  # raises on an occupied cell
        assert pos.terminal[0] and winner == winner_by_flood_fill(pos.stones[0], n) == pos.winner[0], f"game {game}"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "sp"
    w = BenchSettings(preset="tiny", games=N, precision="float64", concurrency=4)
    selfplay(SelfplaySettings(workload=w), out, progress=False)
    return load_selfplay(out)


def progress_games(out) -> int:
    try:
        return json.loads((out / "progress.json").read_text())["games_done"]
    except (OSError, ValueError, KeyError):
        return 0


def test_kill9_at_random_moments_then_resume(tmp_path, uninterrupted):
    out = tmp_path / "sp"
    rng = random.Random(20240607)
    # Kill once a session has finished a random number of games, plus a random instant
    # (so that some kills land in the middle of a shard write): wherever the machine's speed.
    history = []
    for _ in range(4):
        proc = start_playing(out)
        target = progress_games(out) + rng.randint(0, 4)
        while proc.poll() is None and progress_games(out) < target:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        history.append((proc.returncode, stored_games(out)))
        if proc.returncode == 0:
            break
    print("kills (return code, games stored after):", history)
    assert any(rc == -signal.SIGKILL for rc, _ in history), history
    assert all(a <= b for (_, a), (_, b) in itertools.pairwise(history)), history  # nothing is ever lost

    final = subprocess.run(command(out) + ["--json"], env=ENV, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout)
    assert summary["games"] == summary["unique_games"] == N, history
    data = load_selfplay(out)
    assert list(data.games["game"]) == list(range(N))
    assert not data.games["game"].duplicated().any()
    assert_legal(data)
    assert summary["game_digest"] == game_digest(data.moves) == game_digest(uninterrupted.moves)
    np.testing.assert_allclose(data.moves["root_value"], uninterrupted.moves["root_value"], rtol=0, atol=1e-9)
    assert not [p for p in out.rglob("*") if p.name.endswith((".tmp", ".damaged"))]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_stop_cleanly(tmp_path, sig, code):
    out = tmp_path / "sp"
    proc = start_playing(out, games=200)
    assert proc.poll() is None, proc.communicate()
    time.sleep(0.5)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"perfkit selfplay: interrupted by {signal.Signals(sig).name}; ")
    assert "run the same command again to resume" in last
    progress = json.loads((out / "progress.json").read_text())
    assert progress["state"] == "interrupted"
    data = load_selfplay(out)
    assert progress["games_stored"] == len(data.games) and f"{len(data.games)} of 200 games are stored" in last
    assert_legal(data)
