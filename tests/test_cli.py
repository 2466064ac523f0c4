"""The `perfkit bench` command-line contract (SPEC §4.1).

The CLI runs three ways here: the `perfkit` console script and `python -m perfkit` in
subprocesses (a few cases each, they cost a Python start), and `perfkit.cli.main` in-process.
Torch runs on one thread: on a shared, loaded machine extra threads make tiny calls far slower.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import perfkit
from perfkit.analysis import game_digest
from perfkit.cli import main
from perfkit.types import MoveRecord

TINY = ["--preset", "tiny", "--precision", "float64", "--no-progress"]
STRATEGIES = list(perfkit.strategies.STRATEGIES)  # the registry, in the order `--strategy all` plays it
RUN_KEYS = {
    "strategy": str, "games": int, "moves": int, "calls": int, "boards": int, "calls_per_move": float,
    "mean_batch": float, "boards_per_s": float, "wall_s": float, "game_digest": str, "run_dir": str,
}
TABLE_COLUMNS = ["moves/s", "vs naive", "efficiency", "days/500k [interval]", "peak RSS MB", "boards/s", "calls/move"]
VERBOSE_COLUMNS = ["games", "moves", "calls", "boards", "p95 batch", "wall s", "forward", "threads"]
MOVE_COLUMNS = ["game", "ply", "player", "move"] + [f.name for f in dataclasses.fields(MoveRecord)]
CONSOLE_SCRIPT = Path(sys.executable).with_name("perfkit")
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def cli(*argv: str, how: str = "script", cwd: Path) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess: `perfkit ...` (how="script") or `python -m perfkit ...`."""
    head = [str(CONSOLE_SCRIPT)] if how == "script" else [sys.executable, "-m", "perfkit"]
    return subprocess.run(head + list(argv), capture_output=True, text=True, cwd=cwd, env=ONE_THREAD, timeout=120)


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """`perfkit.cli.main(argv)` in-process: (exit code, stdout, stderr); argparse exits count."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def entries(out: Path) -> list[str]:
    return sorted(os.listdir(out)) if out.exists() else []


# --------------------------------------------------------------------------- a good run, all three


@pytest.fixture(scope="module")
def json_all(tmp_path_factory):
    """`perfkit bench --strategy all ... --json` through the console script."""
    tmp = tmp_path_factory.mktemp("json_all")
    assert CONSOLE_SCRIPT.is_file(), f"console script not installed next to {sys.executable}"
    proc = cli("bench", "--strategy", "all", *TINY, "--games", "3", "--out", str(tmp / "runs"), "--json", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout), tmp


def test_json_is_one_object_with_a_run_per_strategy(json_all):
    doc, _ = json_all
    assert set(doc) == {"runs"}
    assert [r["strategy"] for r in doc["runs"]] == STRATEGIES
    for run in doc["runs"]:
        for key, kind in RUN_KEYS.items():
            assert key in run, key
            assert isinstance(run[key], kind) and not isinstance(run[key], bool), (key, run[key])
        assert run["games"] == 3
        assert run["moves"] >= 3 * 3  # no game of Hex on 5x5 ends before move 9
        assert run["calls"] >= 1 and run["boards"] >= run["calls"]
        assert run["calls_per_move"] == pytest.approx(run["calls"] / run["moves"])
        assert run["mean_batch"] == pytest.approx(run["boards"] / run["calls"])
        assert run["wall_s"] > 0 and run["boards_per_s"] > 0
        assert len(run["game_digest"]) >= 16


def test_all_strategies_play_the_same_games(json_all):
    doc, _ = json_all
    runs = doc["runs"]
    assert len({r["game_digest"] for r in runs}) == 1
    assert len({r["moves"] for r in runs}) == 1
    # The strategies differ in how they batch: naive makes the most calls, crossgame the fewest.
    calls = {r["strategy"]: r["calls"] for r in runs}
    assert calls["naive"] > calls["permove"] > calls["crossgame"]


def test_each_run_directory_holds_the_tables_and_manifest(json_all):
    doc, tmp = json_all
    dirs = set()
    for entry in doc["runs"]:
        run_dir = Path(entry["run_dir"])
        if not run_dir.is_absolute():
            run_dir = tmp / run_dir
        assert run_dir.is_dir() and run_dir.parent == tmp / "runs"
        dirs.add(run_dir)
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["strategy"] == entry["strategy"]

        run = perfkit.load_run(run_dir)
        for column in ("game", "winner", "moves"):
            assert column in run.games.columns
        for column in MOVE_COLUMNS:
            assert column in run.moves.columns, column
        assert sorted(run.games["game"]) == [0, 1, 2]
        assert len(run.games) == entry["games"]
        assert int(run.games["moves"].sum()) == entry["moves"] == len(run.moves)
        assert set(run.games["winner"]) <= {1, 2}
        assert set(run.moves["player"]) == {1, 2}
        for game, moves in run.moves.groupby("game"):
            assert list(moves["ply"]) == list(range(len(moves)))
            assert len(moves) == int(run.games.set_index("game").loc[game, "moves"])
        assert game_digest(run.moves) == entry["game_digest"]
        assert len(run.calls) == entry["calls"] and int(run.calls["batch"].sum()) == entry["boards"]
    assert len(dirs) == 3
    assert sorted(p.name for p in (tmp / "runs").iterdir()) == sorted(p.name for p in dirs)  # no leftovers


def test_table_and_progress_bar_with_python_m(tmp_path):
    """`python -m perfkit bench --strategy all` without --json: a table, the verdict, a bar on stderr."""
    args = ["bench", "--strategy", "all", "--preset", "tiny", "--precision", "float64", "--games", "2"]
    proc = cli(*args, "--out", str(tmp_path / "runs"), how="module", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["strategy"])
    for column in TABLE_COLUMNS:
        assert column in header, column
    for column in VERBOSE_COLUMNS:
        assert f" {column} " not in header, column  # the rest is for --verbose / --json
    for name in STRATEGIES:
        assert any(line.split()[:1] == [name] for line in lines), name  # a row per strategy
    assert "same games across strategies: yes" in proc.stdout
    assert "torch threads: 1 (OMP_NUM_THREADS=1 in the environment)" in proc.stdout
    assert "game" in proc.stderr and "%" in proc.stderr  # tqdm: "crossgame: 50%|... 1/2 [..., ?game/s]"
    assert len(entries(tmp_path / "runs")) == 3


def test_single_strategy_prints_no_verdict_and_json_progress_stays_off_stdout(tmp_path, capsys):
    out = tmp_path / "runs"
    code, stdout, stderr = run_main(
        ["bench", "--strategy", "permove", "--preset", "tiny", "--games", "1", "--out", str(out), "--json"], capsys
    )
    assert code == 0, stderr
    doc = json.loads(stdout)  # the progress bar went to stderr, stdout is pure JSON
    assert [r["strategy"] for r in doc["runs"]] == ["permove"]
    assert "permove" in stderr
    assert len(entries(out)) == 1

    code, stdout, stderr = run_main(
        ["bench", "--strategy", "naive", *TINY, "--games", "1", "--out", str(out), "--verbose"], capsys
    )
    assert code == 0, stderr
    assert "same games across strategies" not in stdout
    header = next(line for line in stdout.splitlines() if line.split()[:1] == ["strategy"])
    assert all(column in header for column in TABLE_COLUMNS + VERBOSE_COLUMNS)
    assert stderr == ""  # --no-progress: nothing on stderr
    assert len(entries(out)) == 2


def test_crossgame_respects_max_batch(tmp_path, capsys):
    argv = ["bench", "--strategy", "crossgame", *TINY, "--games", "3", "--concurrency", "2", "--max-batch", "7",
            "--out", str(tmp_path), "--json"]
    code, stdout, stderr = run_main(argv, capsys)
    assert code == 0, stderr
    (entry,) = json.loads(stdout)["runs"]
    run = perfkit.load_run(entry["run_dir"])
    assert run.calls["batch"].max() <= 7
    assert run.manifest["settings"]["concurrency"] == 2 and run.manifest["settings"]["max_batch"] == 7
    assert entry["mean_batch"] <= 7


def test_valid_checkpoint_plays_the_same_games_as_the_seeded_weights(tmp_path, capsys):
    tiny = perfkit.get_preset("tiny")
    seed0, seed3 = tmp_path / "seed0.pt", tmp_path / "seed3.pt"
    perfkit.save_checkpoint(perfkit.build_model(tiny, seed=0), seed0)
    perfkit.save_checkpoint(perfkit.build_model(tiny, seed=3), seed3)

    def digest(*extra: str) -> str:
        argv = ["bench", "--strategy", "crossgame", *TINY, "--games", "2", "--seed", "0",
                "--out", str(tmp_path / "runs"), "--json", *extra]
        code, stdout, stderr = run_main(argv, capsys)
        assert code == 0, stderr
        (entry,) = json.loads(stdout)["runs"]
        manifest = json.loads((Path(entry["run_dir"]) / "manifest.json").read_text())
        assert manifest["settings"]["checkpoint"] == (extra[1] if extra else None)
        return entry["game_digest"]

    plain = digest()
    assert digest("--checkpoint", str(seed0)) == plain  # the same weights play the same games
    assert digest("--checkpoint", str(seed3)) != plain  # the checkpoint's weights are the ones used


# --------------------------------------------------------------------------- bad inputs


def corrupt(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def foreign(path: Path) -> None:
    torch.save({"hello": 1}, path)


def mismatched(path: Path) -> None:
    perfkit.save_checkpoint(perfkit.build_model(perfkit.get_preset("small")), path)


def empty(path: Path) -> None:
    path.write_bytes(b"")


def truncated(path: Path) -> None:
    perfkit.save_checkpoint(perfkit.build_model(perfkit.get_preset("tiny")), path)
    path.write_bytes(path.read_bytes()[:2000])


def misfit(path: Path) -> None:
    """The right format and sizes, weights of the wrong shapes."""
    sd = perfkit.build_model(perfkit.get_preset("tiny")).state_dict()
    data = {"format": "perfkit-checkpoint-v1", "board": 5, "blocks": 2, "channels": 16}
    torch.save({**data, "state_dict": {k: torch.zeros(1) for k in sd}}, path)


no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")

# extra argv, what the one line must mention, a writer of {tmp}/ckpt.pt (or None)
BAD = [
    pytest.param(["--strategy", "foo"], "foo", None, id="strategy"),
    pytest.param(["--strategy", ""], "strategy", None, id="strategy-empty"),
    pytest.param(["--preset", "huge"], "huge", None, id="preset"),
    pytest.param(["--preset", ""], "preset", None, id="preset-empty"),
    pytest.param(["--device", "tpu"], "tpu", None, id="device"),
    pytest.param(["--device", "cuda:x"], "cuda:x", None, id="device-index"),
    pytest.param(["--device", "cuda"], "cuda", None, marks=no_cuda, id="cuda"),
    pytest.param(["--device", "cuda:0"], "cuda:0", None, marks=no_cuda, id="cuda:0"),
    pytest.param(["--board", "2"], "board", None, id="board-small"),
    pytest.param(["--board", "20"], "board", None, id="board-large"),
    pytest.param(["--board", "x"], "board", None, id="board-nan"),
    pytest.param(["--widths", "0,3"], "width", None, id="widths-zero"),
    pytest.param(["--widths", "3,3,3,3,3"], "width", None, id="widths-deep"),
    pytest.param(["--widths", "a,b"], "a,b", None, id="widths-text"),
    pytest.param(["--widths", ""], "widths", None, id="widths-empty"),
    pytest.param(["--widths", "6,3"], "value_topk", None, id="widths-root"),
    pytest.param(["--value-topk", "0"], "value-topk", None, id="value-topk"),
    pytest.param(["--games", "0"], "games", None, id="games-zero"),
    pytest.param(["--games", "-1"], "games", None, id="games-negative"),
    pytest.param(["--games", "x"], "games", None, id="games-text"),
    pytest.param(["--games", "1.5"], "games", None, id="games-float"),
    pytest.param(["--concurrency", "0"], "concurrency", None, id="concurrency-zero"),
    pytest.param(["--max-batch", "-5"], "max-batch", None, id="max-batch-negative"),
    pytest.param(["--seed", "-1"], "seed", None, id="seed-negative"),
    pytest.param(["--temperature", "-1"], "temperature", None, id="temperature-negative"),
    pytest.param(["--temperature", "nan"], "temperature", None, id="temperature-nan"),
    pytest.param(["--precision", "float8"], "float8", None, id="precision"),
    pytest.param(["--checkpoint", "{tmp}/missing.pt"], "missing.pt", None, id="checkpoint-missing"),
    pytest.param(["--checkpoint", "{tmp}/ckpt.pt"], "ckpt.pt", corrupt, id="checkpoint-corrupt"),
    pytest.param(["--checkpoint", "{tmp}/ckpt.pt"], "ckpt.pt", empty, id="checkpoint-empty"),
    pytest.param(["--checkpoint", "{tmp}/ckpt.pt"], "ckpt.pt", truncated, id="checkpoint-truncated"),
    pytest.param(["--checkpoint", "{tmp}/ckpt.pt"], "ckpt.pt", foreign, id="checkpoint-foreign"),
    pytest.param(["--checkpoint", "{tmp}/ckpt.pt"], "ckpt.pt", misfit, id="checkpoint-misfit"),
    pytest.param(["--checkpoint", "{tmp}/ckpt.pt"], "pass the matching --preset", mismatched, id="checkpoint-mismatched"),
    pytest.param(["--checkpoint", "{tmp}/ckpt.pt", "--preset", "small", "--board", "7"], "pass the matching --board",
                 mismatched, id="checkpoint-board"),
    pytest.param(["--checkpoint", "{tmp}"], "is a directory", None, id="checkpoint-dir"),
    pytest.param(["--out", "{tmp}/file.txt/sub"], "file.txt", None, id="out-under-file"),
    pytest.param(["--out", "{tmp}/file.txt"], "file.txt", None, id="out-is-file"),
    pytest.param(["--out", ""], "out", None, id="out-empty"),
    pytest.param(["--strategy", "all", "--checkpoint", "{tmp}/missing.pt"], "missing.pt", None, id="all-checkpoint-missing"),
]


def check_one_clear_line(code, stdout: str, stderr: str, mention: str) -> None:
    assert code not in (0, None), (code, stdout, stderr)
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].strip(), stderr
    assert stderr.startswith("perfkit"), stderr
    assert mention.lower() in lines[0].lower(), (mention, lines[0])
    assert stdout == ""


@pytest.mark.parametrize("extra, mention, writer", BAD)
def test_bad_input_is_one_line_and_writes_nothing(extra, mention, writer, tmp_path, capsys, monkeypatch):
    (tmp_path / "file.txt").write_text("not a directory\n")
    if writer is not None:
        writer(tmp_path / "ckpt.pt")
    work = tmp_path / "cwd"  # where `--out ''` would land
    work.mkdir()
    monkeypatch.chdir(work)
    out = tmp_path / "runs"
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    defaults = ["--games", "1", "--no-progress", "--out", str(out)] + ([] if "--preset" in extra else ["--preset", "tiny"])
    code, stdout, stderr = run_main(["bench", *defaults, *extra], capsys)
    check_one_clear_line(code, stdout, stderr, mention)
    assert entries(out) == [] and entries(work) == []  # nothing half-written (an empty --out may remain)
    assert set(os.listdir(tmp_path)) - {"runs"} == {"cwd", "file.txt"} | ({"ckpt.pt"} if writer else set())
    assert (tmp_path / "file.txt").read_text() == "not a directory\n"


def test_checkpoints_of_random_bytes_are_one_line(tmp_path, capsys):
    """torch's unpickler fails on arbitrary bytes in arbitrary ways (IndexError, KeyError, ...)."""
    rng = np.random.default_rng(2024)
    path, out = tmp_path / "noise.pt", tmp_path / "runs"
    with warnings.catch_warnings(record=True) as caught:  # a warning would be more lines on stderr
        warnings.simplefilter("always")
        for size in rng.integers(1, 3000, 40):
            path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            argv = ["bench", *TINY, "--games", "1", "--out", str(out), "--checkpoint", str(path)]
            code, stdout, stderr = run_main(argv, capsys)
            check_one_clear_line(code, stdout, stderr, "noise.pt")
    assert [str(w.message) for w in caught] == []
    assert entries(out) == []


@pytest.mark.parametrize(
    "how, extra, mention",
    [
        pytest.param("script", ["--device", "tpu"], "tpu", id="perfkit-device"),
        pytest.param("module", ["--games", "0"], "games", id="python-m-games"),
    ],
)
def test_bad_input_in_a_subprocess(how, extra, mention, tmp_path):
    out = tmp_path / "runs"
    proc = cli("bench", "--preset", "tiny", "--no-progress", "--out", str(out), *extra, how=how, cwd=tmp_path)
    check_one_clear_line(proc.returncode, proc.stdout, proc.stderr, mention)
    assert entries(out) == []


def test_usage_errors_are_one_line(capsys):
    for argv in (["frobnicate"], ["bench", "--no-such-option"]):  # `perfkit` alone: tests/test_usage.py
        code, stdout, stderr = run_main(argv, capsys)
        assert code == 2, argv
        assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
