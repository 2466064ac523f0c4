"""`perfkit gpu-results`: the GPU results folder, rehearsed on the sim device; bad input writes nothing."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd
import pytest
import torch

from perfkit.cli import build_parser, main
from perfkit.measure.gpu_results import GpuResultsOptions, check_options, cli_argv

FAST = ["--preset", "tiny", "--games", "2", "--curve-budget", "1", "--curve-max-batch", "16",
        "--tune-budget", "0.1", "--threads", "1"]


def run_cli(argv: list[str]) -> int:
    """main's exit code, argparse's usage errors (SystemExit) included."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_sim_rehearsal_writes_every_file_with_the_command_that_made_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["gpu-results", "--device", "sim", "--out", "results/today-sim", *FAST]) == 0
    out = Path("results/today-sim")
    assert "wrote results/today-sim" in capsys.readouterr().out

    env = json.loads((out / "environment.json").read_text())
    assert env["device"] == "sim" and env["simulated"] is True and env["device_name"].startswith("sim")
    assert {"torch", "torch_cuda", "driver", "cudnn"} <= set(env)
    curves = {json.loads(p.read_text())["precision"]: p for p in (out / "curves").glob("*.json")}
    assert set(curves) == {"float32", "bfloat16"} and all(p.name.startswith("sim-") for p in curves.values())
    bench_runs = json.loads((out / "bench-all.json").read_text())["runs"]
    assert sorted(r["strategy"] for r in bench_runs) == ["crossgame", "naive", "permove"]
    assert all(r["device"] == "sim" and r["games"] == 2 for r in bench_runs)
    tuned = json.loads((out / "tuned-crossgame.json").read_text())
    assert tuned["tune"]["trials"] and tuned["runs"][0]["strategy"] == "crossgame"
    shares = pd.read_csv(out / "transfer-share.csv")
    assert list(shares["run"]) == ["naive", "permove", "crossgame", "crossgame (tuned)", "crossgame (fast paths)"]
    fast = json.loads((out / "fast-paths.json").read_text())["runs"][0]
    assert fast["strategy"] == "crossgame" and fast["device"] == "sim"  # sim: two calls in flight, nothing to graph
    assert {"transfer_share", "device_busy_share", "bottleneck"} <= set(shares.columns)
    timeline = pd.read_csv(out / "nvml-timeline.csv")
    assert list(timeline.columns)[:3] == ["run", "run_dir", "t_s"] and len(timeline) == 0  # sim: no GPU to sample
    projection = json.loads((out / "projection-500k.json").read_text())
    assert projection["games"] == 500_000 and projection["measured"]["label"].startswith("simulated")
    assert "SIMULATED DEVICE (sim)" in (out / "report.html").read_text()

    readme = (out / "README.md").read_text()
    assert "SIMULATED DEVICE (sim)" in readme and "not measured" in readme
    assert "Fast paths: crossgame `--inflight 2 --groups 2` only: sim answers with a stand-in network" in readme
    assert "perfkit gpu-results --device sim --out results/today-sim --preset tiny" in readme
    made = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    for path in made:  # every file is named in the README (a run folder by its folder)
        named = f"{path.parts[0]}/{path.parts[1]}/" if path.parts[0] in ("runs", "tuned", "fast") else str(path)
        assert f"`{named}`" in readme, named
    commands = [line.rsplit(": `", 1)[1].rstrip("`") for line in readme.splitlines()
                if line.startswith("- ") and "`perfkit " in line]
    assert [shlex.split(c)[1] for c in commands] == [
        "gpu-results", "curve", "curve", "bench", "bench", "bench", "project", "report"]
    project = next(c for c in commands if c.startswith("perfkit project"))
    capsys.readouterr()
    assert main(shlex.split(project)[1:]) == 0  # the README's command makes the same projection
    again = json.loads(capsys.readouterr().out)
    assert again["measured"]["days"] == projection["measured"]["days"]


no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here: --device cuda would run")


@pytest.mark.parametrize(
    "argv, code, message",
    [
        pytest.param(["--device", "cuda", "--out", "r"], 1, "CUDA is not available", marks=no_cuda, id="no-cuda"),
        (["--device", "cpu", "--out", "r"], 1, "measures a GPU, not --device cpu", ),
        (["--device", "sim", "--out", "results/today"], 1, "its name must say sim"),
        (["--device", "sim:missing.json", "--out", "r-sim"], 1, "missing.json"),
        (["--device", "sim:free", "--out", "r-sim"], 1, "no device time"),
        (["--device", "sim", "--out", "r-sim", "--preset", "huge"], 1, "unknown preset 'huge'"),
        (["--device", "sim", "--out", "r-sim", "--games", "0"], 2, "--games: must be a positive integer"),
        (["--device", "sim", "--out", "r-sim", "--half", "float8"], 2, "invalid choice: 'float8'"),
        (["--device", "sim", "--out", "r-sim", "--curve-budget", "-1"], 2, "must be a number > 0"),
        (["--device", "sim", "--out", "taken-sim"], 1, "already exists and is not empty"),
        (["--device", "sim", "--out", "a-file/r-sim"], 1, "is not a directory"),
    ],
)
def test_bad_input_is_one_line_a_non_zero_exit_and_nothing_written(tmp_path, monkeypatch, capsys, argv, code, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken-sim").mkdir()
    (tmp_path / "taken-sim" / "keep.txt").write_text("mine")
    (tmp_path / "a-file").write_text("not a folder")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    assert run_cli(["gpu-results", *argv]) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("perfkit gpu-results"), err
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_default_folder_is_dated_and_named_after_the_device(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    device, out = check_options(GpuResultsOptions(device="sim"), today="2026-01-02")
    assert device.simulated and out == Path("data/results/2026-01-02-sim-h100-shaped-paper")


def test_the_readme_command_parses_back_to_the_same_options():
    options = GpuResultsOptions(device="sim", out="x-sim", preset="tiny", games=3, half="float16",
                                curve_budget_s=2.5, tune_budget_s=0.5, projection_games=1000, threads=1, seed=4)
    args = build_parser().parse_args(["gpu-results", *cli_argv(options)])
    again = GpuResultsOptions(
        device=args.device, out=args.out, preset=args.preset, games=args.games, half=args.half,
        curve_budget_s=args.curve_budget, curve_max_batch=args.curve_max_batch, tune_budget_s=args.tune_budget,
        projection_games=args.projection_games, threads=args.threads, seed=args.seed,
    )
    assert again == options


def test_on_a_gpu_the_fast_paths_step_runs_graphs_autocast_and_two_calls_in_flight():
    from types import SimpleNamespace

    from perfkit.measure.gpu_results import fast_path_flags

    flags = fast_path_flags(SimpleNamespace(simulated=False), "float16")
    assert flags == ["--inflight", "2", "--groups", "2", "--cuda-graphs", "--autocast", "float16"]
    assert build_parser().parse_args(["bench", *flags]).cuda_graphs  # the flags bench takes
    assert fast_path_flags(SimpleNamespace(simulated=True), "bfloat16") == ["--inflight", "2", "--groups", "2"]
