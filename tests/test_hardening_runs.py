"""Issue 22, part B: data that must not be lost or recorded wrongly, numbers that must not be
accepted, one damaged run that must not sink a folder, and tracebacks that must be one line.

Each test is one reproduction of the issue; subprocesses run under a timeout, nothing sleeps to
wait for an outcome.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from perfkit.bench import BenchSettings
from perfkit.cli import main
from perfkit.instrument.run import load_run
from perfkit.selfplay import SelfplayDir, SelfplaySettings, selfplay, verify_selfplay
from perfkit.selfplay.store import IDENTITY_DEFAULTS
from perfkit.types import PerfkitError

ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
SELFPLAY = ["--preset", "tiny", "--precision", "float64", "--shard-games", "4", "--concurrency", "4",
            "--no-progress"]


def run_main(argv: list[str], capsys) -> tuple[int, str, list[str]]:
    """`perfkit.cli.main(argv)` in-process: (exit code, stdout, stderr lines)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


def shard_names(out) -> list[str]:
    return sorted(p.name for p in (out / "shards").iterdir())


# -- item 1: the game is part of a self-play directory's identity --------------------------------


def test_selfplay_refuses_another_game_in_a_hex_directory(tmp_path, capsys):
    out = tmp_path / "D"
    code, _, err = run_main(["selfplay", "--games", "8", "--out", str(out), *SELFPLAY], capsys)
    assert code == 0, err
    before = shard_names(out)
    code, _, err = run_main(["selfplay", "--games", "12", "--out", str(out), *SELFPLAY, "--game", "connect_four"],
                            capsys)
    assert code == 1
    assert len(err) == 1 and err[0].startswith("perfkit selfplay: error: ")
    assert "made with other settings (game 'hex' in DIR vs 'connect_four' now)" in err[0]
    assert shard_names(out) == before
    assert json.loads((out / "settings.json").read_text())["identity"]["game"] == "hex"


def test_a_directory_written_before_game_was_in_the_identity_still_resumes_and_refuses(tmp_path):
    """settings.json written without `game`/`engine` means Hex and perfkit's search (IDENTITY_DEFAULTS)."""
    out = tmp_path / "D"
    hex_ = SelfplaySettings(workload=BenchSettings(preset="tiny", games=4, precision="float64", concurrency=4))
    old = {k: v for k, v in hex_.identity().items() if k not in IDENTITY_DEFAULTS}
    store = SelfplayDir.open(out, identity=old, created_with={})
    store.claim()
    store.close()
    assert selfplay(hex_, out, progress=False)["unique_games"] == 4
    assert verify_selfplay(out)["ok"]  # its shards carry the old identity's run hash
    c4 = hex_.replace(workload=BenchSettings(preset="tiny", games=8, precision="float64", game="connect_four"))
    with pytest.raises(PerfkitError, match="game 'hex' in DIR vs 'connect_four' now"):
        selfplay(c4, out, progress=False)


def test_verify_is_not_ok_for_game_ids_beyond_the_request(tmp_path, capsys):
    small, big = tmp_path / "small", tmp_path / "big"
    assert run_main(["selfplay", "--games", "8", "--out", str(small), *SELFPLAY], capsys)[0] == 0
    assert run_main(["selfplay", "--games", "12", "--out", str(big), *SELFPLAY], capsys)[0] == 0
    code, out, err = run_main(["selfplay", "--verify", str(big), "--games", "8"], capsys)
    assert code == 1 and "beyond the request" in out
    assert err and all("beyond the 8 games requested (--games)" in line for line in err)
    assert sum(int(line.split(" holds ")[1].split()[0]) for line in err) == 4  # ids 8..11, each named once

    # A shard with ids 8..11 of the same run copied into the 8-game directory: progress.json's request says no.
    extra = next(p for p in sorted((big / "shards").iterdir()) if _ids(p) and max(_ids(p)) >= 8)
    shutil.copy(extra, small / "shards" / "shard-000099.parquet")
    code, _, err = run_main(["selfplay", "--verify", str(small)], capsys)
    assert code == 1
    assert any("shard-000099.parquet holds" in line and "(progress.json's games_requested)" in line for line in err)
    assert not verify_selfplay(small)["ok"] and verify_selfplay(small, games=12)["ok"]


def _ids(shard) -> set[int]:
    return set(pq.read_table(shard, columns=["game"]).column("game").to_pylist())


# -- item 4: an interrupted `bench --repeat` keeps the finished repeats ---------------------------


def test_interrupted_bench_repeat_keeps_the_finished_repeats(tmp_path):
    out = tmp_path / "runs"
    argv = [sys.executable, "-m", "perfkit", "bench", "--strategy", "naive", "--repeat", "1000", "--games", "1",
            "--preset", "tiny", "--precision", "float64", "--device", "cpu", "--threads", "1", "--no-progress",
            "--out", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ONE_THREAD)
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("*/repeats/2/manifest.json")):  # two repeats saved: the run is under way
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no repeat was saved within 240 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "perfkit bench: interrupted"
    assert "interrupted; kept the repeats that finished: naive (" in err
    (run_dir,) = [p for p in out.iterdir() if p.name != "curves"]
    kept = sorted(int(p.name) for p in (run_dir / "repeats").iterdir())
    assert len(kept) >= 2 and kept == list(range(1, len(kept) + 1))  # no gap, no half-written repeat
    for i in kept:
        assert len(load_run(run_dir / "repeats" / str(i)).games) == 1
    run = load_run(run_dir)
    assert run.summary["repeats"] == len(kept)
    assert run.manifest["repeats"]["count"] == len(kept) and run.manifest["repeats"]["requested"] == 1000
    assert not [p.name for p in out.rglob("*") if p.name.endswith((".tmp", ".whole"))]
