"""Faults a careless user and a failing disk bring (issue 15): each is one line, nothing stored is lost,
and a failed start leaves nothing that blocks the corrected command."""

from __future__ import annotations

import errno
import json
import os

import pytest

from perfkit import load_selfplay
from perfkit.cli import main
from perfkit.measure.bench import BenchSettings
from perfkit.selfplay import DiskFull, SelfplaySettings, selfplay
from perfkit.selfplay import store as store_module
from perfkit.types import PerfkitError

N = 8


def settings(games=N, **workload) -> SelfplaySettings:
    w = BenchSettings(preset="tiny", games=games, precision="float64", concurrency=4, **workload)
    return SelfplaySettings(workload=w, shard_games=2)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return selfplay(settings(), tmp_path_factory.mktemp("ref") / "sp", progress=False)["game_digest"]


class FullDisk:
    """The store's `open` on a disk that is full now, or fills at the shard after `after_shards` more.

    Creating or replacing a file then fails with ENOSPC; rewriting an existing file in place
    does not (its blocks are already allocated), as on a real full disk.
    """

    def __init__(self, monkeypatch, *, after_shards: int | None = None) -> None:
        self.left = after_shards
        self.full = after_shards is None
        monkeypatch.setattr(store_module, "open", self, raising=False)

    def __call__(self, path, mode="r", *args, **kwargs):
        if "w" in mode:
            if not self.full and "shard-" in os.fspath(path):
                self.full = self.left == 0
                self.left -= 1
            if self.full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))
        return open(path, mode, *args, **kwargs)


def progress_of(out) -> dict:
    return json.loads((out / "progress.json").read_text())


def test_disk_full_at_start_writes_nothing_and_the_same_command_then_works(tmp_path, monkeypatch, reference):
    out = tmp_path / "new" / "sp"
    with monkeypatch.context() as m:
        FullDisk(m)
        with pytest.raises(DiskFull) as err:
            selfplay(settings(), out, progress=False)
    assert str(err.value) == (f"disk full: no space left to write {out / 'settings.json'}; nothing was written; "
                              "free space or choose another --out, then run the same command again")
    assert not (tmp_path / "new").exists()  # every folder it made is gone again
    assert selfplay(settings(), out, progress=False)["game_digest"] == reference


def test_disk_full_on_resume_stops_before_playing_and_says_so(tmp_path, monkeypatch, reference):
    out = tmp_path / "sp"
    selfplay(settings(4), out, progress=False)
    with monkeypatch.context() as m:
        FullDisk(m)
        with pytest.raises(DiskFull, match=r"^disk full: no space left to write .*progress\.json; 4 of 8 games are "
                                           r"stored in .*; free space and run the same command again to resume$"):
            selfplay(settings(), out, progress=False)
    progress = progress_of(out)
    assert progress["state"] == "disk_full" and progress["stopped"].startswith("disk full")
    assert progress["games_stored"] == 4 and progress["session_games"] == 0
    assert selfplay(settings(), out, progress=False)["game_digest"] == reference


def test_disk_full_mid_run_keeps_every_stored_game(tmp_path, monkeypatch, reference):
    out = tmp_path / "sp"
    with monkeypatch.context() as m:
        FullDisk(m, after_shards=2)
        with pytest.raises(DiskFull, match=r"shard-000002\.parquet; 4 of 8 games are stored"):
            selfplay(settings(), out, progress=False)
    progress = progress_of(out)
    assert progress["state"] == "disk_full" and progress["games_stored"] == 4
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["shard-000000.parquet", "shard-000001.parquet"]
    assert len(load_selfplay(out).games) == 4
    assert selfplay(settings(), out, progress=False)["game_digest"] == reference


def test_a_bad_checkpoint_leaves_nothing_that_blocks_the_corrected_command(tmp_path, capsys):
    from perfkit.model import build_model, save_checkpoint
    from perfkit.types import get_preset

    bad, good = tmp_path / "bad.pt", tmp_path / "good.pt"
    bad.write_bytes(b"not a checkpoint at all")
    save_checkpoint(build_model(get_preset("tiny"), seed=1), good)
    out = tmp_path / "sp"
    argv = ["selfplay", "--games", "2", "--out", str(out), "--preset", "tiny", "--no-progress"]
    assert main([*argv, "--checkpoint", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read checkpoint" in err[0]
    assert not out.exists()
    assert main([*argv, "--device", "cuda:7"]) == 1  # a device that is not there: nothing written either
    assert len(capsys.readouterr().err.strip().splitlines()) == 1 and not out.exists()
    assert main([*argv, "--checkpoint", str(good)]) == 0
    assert load_selfplay(out).settings["identity"]["checkpoint_sha256"] is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", "settings.json is damaged: it holds a list, not a settings object"),
        ('{"kind": "perfkit-selfplay", "format": 1, "identity": null}', "identity is null, not an object"),
        ('{"kind": "perfkit-selfplay", "format": 1, "identity": {}}', "identity has no 'preset'"),
        ("{", "settings.json is unreadable"),
        ('{"kind": "other"}', "is not a perfkit self-play directory"),
    ],
)
def test_damaged_settings_json_is_one_line_everywhere(tmp_path, capsys, text, message):
    out = tmp_path / "sp"
    selfplay(settings(2), out, progress=False)
    (out / "settings.json").write_text(text)
    with pytest.raises(PerfkitError, match=message):
        load_selfplay(out)
    for argv in (["selfplay", "--games", "2", "--out", str(out), "--preset", "tiny", "--precision", "float64",
                  "--concurrency", "4", "--no-progress"], ["selfplay", "--verify", str(out)]):
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0] and err[0].startswith("perfkit selfplay: error: ")
    assert len(list((out / "shards").glob("shard-*.parquet"))) == 1  # nothing stored was touched


def test_python_api_misuse_of_selfplay_is_perfkit_error(tmp_path):
    with pytest.raises(PerfkitError, match="needs a SelfplaySettings"):
        selfplay(BenchSettings(preset="tiny"), tmp_path / "sp")
    with pytest.raises(PerfkitError, match="needs an output directory path"):
        selfplay(settings(), None)
    with pytest.raises(PerfkitError, match="needs a self-play directory path"):
        load_selfplay(None)
    with pytest.raises(PerfkitError, match="does not exist"):
        load_selfplay(tmp_path / "missing")

def test_selfplay_cli_without_out_is_one_line(capsys):
    assert main(["selfplay", "--games", "3"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["perfkit selfplay: error: --games and --out are required (or --verify DIR to check a directory)"]
