"""Issue 22, part B: data that must not be lost or recorded wrongly, numbers that must not be
accepted, one damaged run that must not sink a folder, and tracebacks that must be one line.

Each test is one reproduction of the issue; subprocesses run under a timeout, nothing sleeps to
wait for an outcome.
"""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from perfkit.bench import BenchSettings
from perfkit.cli import main
from perfkit.selfplay import SelfplayDir, SelfplaySettings, selfplay, verify_selfplay
from perfkit.selfplay.store import IDENTITY_DEFAULTS
from perfkit.types import PerfkitError

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
