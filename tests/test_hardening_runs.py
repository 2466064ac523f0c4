"""Issue 22, part B: data that must not be lost or recorded wrongly, numbers that must not be
accepted, one damaged run that must not sink a folder, and tracebacks that must be one line.

Each test is one reproduction of the issue; subprocesses run under a timeout, nothing sleeps to
wait for an outcome.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from perfkit.analysis.curve import Curve, CurvePoint, load_curve, measure_curve
from perfkit.cli import main
from perfkit.instrument.run import TABLES, load_run
from perfkit.measure.bench import BenchSettings, bench
from perfkit.selfplay import SelfplayDir, SelfplaySettings, selfplay, verify_selfplay
from perfkit.selfplay.store import IDENTITY_DEFAULTS
from perfkit.types import PerfkitError, get_preset

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


def ctrl_c_reaches_it() -> None:
    """In the child before exec: SIGINT as Python expects it at start, also under a shell job (`cmd &`) that
    started these tests with SIGINT ignored (a child would inherit that, and no Ctrl-C would reach it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_interrupted_bench_repeat_keeps_the_finished_repeats(tmp_path):
    out = tmp_path / "runs"
    argv = [sys.executable, "-m", "perfkit", "bench", "--strategy", "naive", "--repeat", "1000", "--games", "1",
            "--preset", "tiny", "--precision", "float64", "--device", "cpu", "--threads", "1", "--no-progress",
            "--out", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ONE_THREAD,
                            preexec_fn=ctrl_c_reaches_it)
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


# -- item 5: bench on a full disk ----------------------------------------------------------------

BENCH = ["--preset", "tiny", "--precision", "float64", "--games", "1", "--device", "cpu", "--threads", "1",
         "--no-progress"]


def disk_full_after(monkeypatch, tables: int) -> None:
    """Every parquet write after the first `tables` fails as a full disk fails."""
    real, done = pd.DataFrame.to_parquet, []

    def to_parquet(self, *args, **kwargs):
        if len(done) >= tables:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)


def leftovers(out) -> list[str]:
    return [p.name for p in out.rglob("*") if p.name.endswith((".tmp", ".whole"))]


def test_bench_on_a_full_disk_keeps_what_fits_in_one_line(tmp_path, capsys, monkeypatch):
    out = tmp_path / "runs"
    disk_full_after(monkeypatch, len(TABLES))  # the first strategy's run fits, no other
    code, stdout, err = run_main(["bench", "--strategy", "all", *BENCH, "--out", str(out)], capsys)
    assert code == 1 and stdout == ""
    assert len(err) == 1 and err[0].startswith("perfkit bench: error: disk full: no space left to save the "
                                               "permove and crossgame runs in ")
    (kept,) = out.iterdir()
    assert "saved: naive in " in err[0] and str(kept) in err[0]
    assert load_run(kept).manifest["strategy"] == "naive" and not leftovers(out)


def test_bench_on_a_full_disk_leaves_no_empty_runs_folder(tmp_path, capsys, monkeypatch):
    out = tmp_path / "deep" / "runs"
    disk_full_after(monkeypatch, 0)
    code, _, err = run_main(["bench", "--strategy", "naive", *BENCH, "--out", str(out)], capsys)
    assert code == 1 and len(err) == 1 and "disk full" in err[0] and "the runs saved before it are kept" in err[0]
    assert list(tmp_path.iterdir()) == []  # neither runs/ nor deep/ left behind


def test_bench_repeat_on_a_full_disk_keeps_the_repeats_that_fit(tmp_path, capsys, monkeypatch):
    out = tmp_path / "runs"
    disk_full_after(monkeypatch, 2 * len(TABLES))  # two repeats fit
    code, _, err = run_main(["bench", "--strategy", "naive", "--repeat", "3", *BENCH, "--out", str(out)], capsys)
    assert code == 1 and len(err) == 1 and "disk full: no space left to save the naive run in " in err[0]
    (run_dir,) = out.iterdir()
    assert sorted(p.name for p in (run_dir / "repeats").iterdir()) == ["1", "2"]
    for i in ("1", "2"):
        assert len(load_run(run_dir / "repeats" / i).games) == 1
    assert not (run_dir / "manifest.json").exists() and not leftovers(out)


# -- wrong numbers accepted: a curve too short to be a limit, an empty sim curve, a string rate ------


def test_curve_refuses_a_time_budget_of_zero(capsys):
    code, _, err = run_main(["curve", "--preset", "tiny", "--device", "cpu", "--time-budget", "0"], capsys)
    assert code == 2 and err == ["perfkit curve: error: argument --time-budget: must be a number > 0, got '0'"]
    for budget in (0, -1.0, float("nan"), "5"):
        with pytest.raises(PerfkitError, match="time budget must be a number of seconds > 0"):
            measure_curve(None, network=get_preset("tiny"), time_budget_s=budget)


def tiny_curve(*batches: int) -> Curve:
    """A cpu curve for the tiny preset in float32, 1 ms per board."""
    return Curve(device="cpu", device_name="cpu", preset="tiny", network={"board": 5, "blocks": 2, "channels": 16},
                 precision="float32", points=[CurvePoint(b, (1e-3 * b,)) for b in batches],
                 stopped_by="time budget 1e-06 s (batch 1: 1 of 5 repeats)")


@pytest.mark.parametrize(
    ("batches", "message"),
    [((1,), "has 1 batch size (stopped by time budget 1e-06 s"), ((1, 2), "stops at batch 2 (stopped by time budget")],
)
def test_a_curve_short_of_the_runs_calls_gives_no_efficiency(tmp_path, batches, message):
    """The issue's 1-point curve gave efficiency 1016%: a curve that stops below the run's calls is no limit."""
    tiny_curve(*batches).save(tmp_path / "runs" / "curves" / "cpu-tiny-float32.json")
    settings = BenchSettings(preset="tiny", games=1, device="cpu", threads=1)
    (run,) = bench(["permove"], settings, out=tmp_path / "runs", progress=False)
    assert run.summary["mean_batch"] > 2  # permove's calls are whole tree levels
    assert run.summary["efficiency"] is None and message in run.summary["efficiency_status"]
    assert "measure it again with a larger --time-budget" in run.summary["efficiency_status"]
    assert run.summary["batch_efficiency"] is None  # nor the share of a peak it never measured


def test_curve_warns_that_a_one_point_curve_gives_no_efficiency(tmp_path, capsys):
    code, _, err = run_main(["curve", "--preset", "tiny", "--device", "cpu", "--threads", "1", "--time-budget",
                             "0.000001", "--out", str(tmp_path), "--no-progress"], capsys)
    assert code == 0
    (warning,) = [line for line in err if "warning" in line]
    assert warning.startswith("perfkit curve: warning: curve ") and "fewer than 2" in warning
    assert len(load_curve(next(tmp_path.glob("*.json"))).points) == 1  # saved, as measured


def test_sim_curve_with_an_empty_call_s_is_one_line(tmp_path, capsys):
    doc = tiny_curve(1, 2, 4).to_dict()
    doc["points"][1]["call_s"] = []
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(doc))
    code, out, err = run_main(["bench", "--strategy", "naive", *BENCH[:-3], "--device", f"sim:{path}",
                               "--no-progress", "--out", str(tmp_path / "runs")], capsys)
    assert code == 1 and out == "" and len(err) == 1
    assert err[0] == f"perfkit bench: error: curve file {path}: the point at batch 2 has no call_s samples; " \
                     "measure it again with perfkit curve"
    assert not (tmp_path / "runs").exists()


# -- one damaged run must not sink a folder ------------------------------------------------------


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory):
    """`bench --strategy all`: a folder of three good runs, copied by each test that damages one."""
    out = tmp_path_factory.mktemp("three") / "runs"
    bench(["naive", "permove", "crossgame"], BenchSettings(preset="tiny", games=1, device="cpu", threads=1,
                                                          precision="float64"), out=out, progress=False)
    return out


def damaged_copy(three_runs, tmp_path, name: str = "runs") -> tuple:
    out = tmp_path / name
    shutil.copytree(three_runs, out)
    runs = sorted(p for p in out.iterdir() if (p / "manifest.json").is_file())
    bad = next(p for p in runs if "permove" in p.name)
    calls = bad / "calls.parquet"
    calls.write_bytes(calls.read_bytes()[: calls.stat().st_size // 2])  # truncated, as a crash or full disk leaves it
    return out, bad


def test_report_skips_a_damaged_run_and_renders_the_rest(three_runs, tmp_path, capsys):
    out, bad = damaged_copy(three_runs, tmp_path)
    html = tmp_path / "report.html"
    code, stdout, err = run_main(["report", str(out), "-o", str(html)], capsys)
    assert code == 0, err
    assert len(err) == 1 and err[0].startswith(f"warning: skipped the damaged run {bad} (")
    assert stdout.rstrip().endswith(", 2 runs)") and html.is_file()
    page = html.read_text()
    assert "naive" in page and "crossgame" in page


def test_compare_skips_a_damaged_run_and_compares_the_rest(three_runs, tmp_path, capsys):
    a, bad = damaged_copy(three_runs, tmp_path, "a")
    b = tmp_path / "b"
    shutil.copytree(three_runs, b)
    code, stdout, err = run_main(["compare", str(a), str(b), "--json"], capsys)
    assert code == 0, err
    assert len(err) == 1 and f"skipped the damaged run {bad}" in err[0]
    doc = json.loads(stdout)
    assert {d["strategy"] for d in doc["diffs"]} == {"naive", "crossgame"} and doc["only_b"] == ["permove"]


def test_compare_on_a_manifest_with_a_string_rate_is_one_line(three_runs, tmp_path, capsys):
    run = next(p for p in sorted(three_runs.iterdir()) if "naive" in p.name)
    bad = tmp_path / "bad"
    shutil.copytree(run, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    manifest["summary"]["moves_per_s"] = "fast"
    (bad / "manifest.json").write_text(json.dumps(manifest))
    code, stdout, err = run_main(["compare", str(run), str(bad)], capsys)
    assert code == 1 and stdout == ""
    assert err == [f"perfkit compare: error: run directory {bad} is damaged: manifest.json summary moves_per_s "
                   "is 'fast' (str), not float"]


# -- tracebacks that must be one line --------------------------------------------------------------


@pytest.mark.parametrize("game", ["go(board_size=1)", "go(board_size=100)"])
def test_an_openspiel_game_that_cannot_start_is_one_line_and_leaves_nothing(tmp_path, capsys, game):
    pytest.importorskip("pyspiel")
    out = tmp_path / "D"
    for argv in (["bench", "--strategy", "naive", *BENCH, "--out", str(tmp_path / "runs")],
                 ["selfplay", "--games", "2", "--out", str(out), *SELFPLAY]):
        code, stdout, err = run_main([*argv, "--game", game], capsys)
        assert code == 1 and stdout == "" and len(err) == 1, err
        assert err[0].startswith(f"perfkit {argv[0]}: error: OpenSpiel cannot start game {game!r} (")
    assert list(tmp_path.iterdir()) == []  # no settings.json, progress.json or runs/ left behind
    with pytest.raises(PerfkitError, match="OpenSpiel cannot start game"):
        BenchSettings(preset="tiny", game=game)  # refused before any network is built


FAKE_TORCH = """
import os, pathlib, time
pathlib.Path(os.environ["TORCH_IMPORT_STARTED"]).write_text("")
time.sleep(120)  # a slow import: SIGINT arrives in the middle of it
"""


@pytest.mark.parametrize("how", [["-m", "perfkit"], ["-c", "import sys; from perfkit.cli import main; sys.exit(main())"]])
def test_ctrl_c_while_torch_imports_is_exit_130_and_one_line(tmp_path, how):
    """`perfkit` imports torch only inside main(), where Ctrl-C is one line; a stand-in torch waits to be stopped."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(FAKE_TORCH)
    started = tmp_path / "started"
    env = {**ONE_THREAD, "TORCH_IMPORT_STARTED": str(started),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, *how, "bench", "--preset", "tiny", "--out", str(tmp_path / "runs")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=ctrl_c_reaches_it)
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "torch's import never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130 and err.strip().splitlines() == ["perfkit bench: interrupted"], err
    assert not (tmp_path / "runs").exists()
