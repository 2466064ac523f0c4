"""`perfkit gpu-results`: every GPU figure from one command, in a folder ready to commit.

On a CUDA machine it writes, under `data/results/<date>-<gpu>/` by default: the environment,
`curve` in float32 and half precision, `bench --strategy all`, the tuned crossgame, crossgame on
the GPU-only fast paths (CUDA graphs, autocast, two calls in flight), the transfer share, the NVML utilisation timeline, the 500k-game projection, `report.html`, and a
README.md naming the exact command that made each file. Each step is the ordinary perfkit
command, run in this process, so the README's commands reproduce the files one by one.

Without CUDA it rehearses on `--device sim` (the folder's name and every file say sim).
Everything the user typed is checked before the folder is created: bad input writes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from perfkit.atomic import write_atomic
from perfkit.types import PRESETS, PerfkitError

if TYPE_CHECKING:  # imported where used: the device layer brings torch
    from perfkit.devices import Device

HALF_PRECISIONS = ("float16", "bfloat16")


@dataclasses.dataclass(frozen=True)
class GpuResultsOptions:
    """What `perfkit gpu-results` measures; the defaults fit in about 10 minutes on one GPU."""

    device: str = "cuda"  # cuda, cuda:N, or sim[:CURVE] to rehearse without a GPU
    out: str | None = None  # the results folder (default data/results/<date>-<device>/)
    preset: str = "reference"  # the network every step measures
    games: int = 16  # games per strategy in `bench --strategy all`
    half: str | None = None  # the half-precision curve: float16 on CUDA, bfloat16 on sim (see half_precision)
    curve_budget_s: float = 30.0  # seconds per curve sweep
    curve_max_batch: int = 65_536  # largest batch a curve tries
    tune_budget_s: float = 4.0  # seconds per `bench --tune` trial
    projection_games: int = 500_000  # games the projection is for
    threads: int | None = None  # torch CPU threads (default: torch's)
    seed: int = 0  # weights and game noise


@dataclasses.dataclass
class Step:
    """One perfkit command of the results and the files it made (relative to the folder)."""

    name: str
    argv: list[str]
    files: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    @property
    def command(self) -> str:
        return shlex.join(["perfkit", *self.argv])


def half_precision(device: Device, requested: str | None) -> str:
    """float16 on a GPU; bfloat16 on sim, whose curve ignores precision but whose roofline
    times a matmul on this CPU, where float16 matmuls take minutes."""
    if requested is not None:
        return requested
    return "bfloat16" if device.simulated else "float16"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def default_out(device: Device, date: str) -> Path:
    """data/results/<date>-<gpu> (a sim device's name starts with sim)."""
    return Path("data/results") / f"{date}-{slug(device.name)}"


def check_options(options: GpuResultsOptions, *, today: str | None = None) -> tuple[Device, Path]:
    """The device and the folder, or PerfkitError (one line) before anything is written."""
    from perfkit.devices import get_device

    if options.preset not in PRESETS:
        raise PerfkitError(f"unknown preset {options.preset!r}; choose one of: {', '.join(PRESETS)}")
    if options.half is not None and options.half not in HALF_PRECISIONS:
        raise PerfkitError(f"unknown half precision {options.half!r}; use {' or '.join(HALF_PRECISIONS)}")
    if options.device in ("auto", "cpu") or not (options.device.startswith(("cuda", "sim"))):
        raise PerfkitError(
            f"gpu-results measures a GPU, not --device {options.device}: use cuda, cuda:N, "
            "or sim to rehearse on a simulated one"
        )
    try:
        device = get_device(options.device)  # no CUDA, or a bad sim curve file: one line here
    except PerfkitError as exc:
        if options.device.startswith("cuda"):  # cpu and auto are refused above: only sim is left to offer
            raise PerfkitError(f"{str(exc).split('; use')[0]}; gpu-results needs a GPU: use --device sim to rehearse on a simulated one") from None
        raise
    if device.kind == "sim" and options.device.startswith("sim:free"):
        raise PerfkitError("--device sim:free has no device time to measure; use sim or sim:CURVE.json")
    out = Path(options.out) if options.out else default_out(device, today or time.strftime("%Y-%m-%d"))
    if device.simulated and "sim" not in out.name.lower():
        raise PerfkitError(
            f"{out} would hold simulated results: its name must say sim, e.g. {out.with_name(out.name + '-sim')}"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PerfkitError(f"{out} already exists and is not empty; choose a new --out or remove it")
    parent = next((p for p in out.absolute().parents if p.exists()), None)
    if parent is None or not parent.is_dir():
        raise PerfkitError(f"cannot create {out}: {parent} is not a directory")
    return device, out


def plan(options: GpuResultsOptions, device: Device, out: Path) -> list[Step]:
    """The perfkit commands, in order (the README lists them as run)."""
    common = ["--device", options.device, "--preset", options.preset, "--seed", str(options.seed)]
    if options.threads is not None:
        common += ["--threads", str(options.threads)]
    curves, runs, tuned = str(out / "curves"), str(out / "runs"), str(out / "tuned")
    curve = ["curve", *common, "--time-budget", f"{options.curve_budget_s:g}",
             "--max-batch", str(options.curve_max_batch), "--out", curves, "--no-progress"]
    half = half_precision(device, options.half)
    bench = ["bench", *common, "--curves", curves, "--no-progress", "--json"]
    return [
        Step("curve float32", [*curve, "--precision", "float32"]),
        Step(f"curve {half}", [*curve, "--precision", half]),
        Step("bench all", [*bench, "--strategy", "all", "--games", str(options.games), "--out", runs]),
        Step("tuned crossgame", [*bench, "--strategy", "crossgame", "--tune", "--tune-budget",
                                 f"{options.tune_budget_s:g}", "--games", str(options.games), "--out", tuned]),
        Step("fast paths", [*bench, "--strategy", "crossgame", *fast_path_flags(device, half), "--games",
                            str(options.games), "--out", str(out / "fast")]),
    ]


def fast_path_flags(device: Device, half: str) -> list[str]:
    """The GPU-only fast paths at once: two groups' calls in flight over double-buffered transfers, CUDA
    graphs and autocast (their quality is measured first). sim has no kernels to graph or autocast:
    its rehearsal keeps only the two calls in flight."""
    return ["--inflight", "2", "--groups", "2"] + ([] if device.simulated else ["--cuda-graphs", "--autocast", half])


def run_step(
    step: Step, out: Path, *, stdout_file: str, log: Callable[[str], None], run_command: Callable[[list[str]], int]
) -> str:
    """Run `step` with `run_command` (the CLI's own), save its stdout as `stdout_file`, note the files it made."""
    before = files_under(out)
    log(f"gpu-results: {step.name}: {step.command}")
    buffer = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        code = run_command(step.argv)
    step.seconds = time.perf_counter() - t0
    if code != 0:
        raise PerfkitError(f"step '{step.name}' failed (its error is above); {out} holds the files written before it")
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / stdout_file, buffer.getvalue())
    step.files = sorted((files_under(out) - before) | {stdout_file})
    return buffer.getvalue()


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def environment_fields(device: Device) -> dict[str, Any]:
    """The GPU model, driver, torch, CUDA and cuDNN versions, plus perfkit's manifest fields."""
    import torch

    from perfkit.instrument.environment import environment_of

    return {**environment_of(device), "torch_cuda": torch.version.cuda, "cudnn": None, "driver": None,
            **device.hardware()}


def run_summaries(folder: Path) -> list[tuple[str, dict[str, Any], pd.DataFrame]]:
    """(run folder, summary, gpu table) of each stored run under `folder`, by name."""
    from perfkit.instrument.run import load_run

    rows = []
    for path in sorted(p.parent for p in folder.rglob("manifest.json")):
        run = load_run(path)
        rows.append((str(path.relative_to(folder.parent)), {"strategy": run.manifest["strategy"], **run.summary}, run.gpu))
    return rows


RUN_FOLDERS = {"runs": "", "tuned": " (tuned)", "fast": " (fast paths)"}  # folder: label suffix of its runs
SHARE_KEYS = ("boards_per_s", "mean_batch", "forward_share", "transfer_share", "cpu_share",
              "device_busy_share", "bottleneck", "gpu_util_mean", "gpu_status")


def write_tables(out: Path) -> tuple[list[dict[str, Any]], str]:
    """transfer-share.csv (one row per run) and nvml-timeline.csv (every NVML sample)."""
    from perfkit.strategies import STRATEGIES

    order = list(STRATEGIES)  # the runs as bench plays them, whatever second each run folder is named after
    shares, timelines = [], []
    for folder, suffix in RUN_FOLDERS.items():
        runs = sorted(run_summaries(out / folder), key=lambda r: (rank(order, r[1]["strategy"]), r[0]))
        for run_dir, summary, gpu in runs:
            label = summary["strategy"] + suffix
            shares.append({"run": label, "run_dir": run_dir, **{k: summary.get(k) for k in SHARE_KEYS}})
            timelines.append(gpu.assign(run=label, run_dir=run_dir))
    write_atomic(out / "transfer-share.csv", pd.DataFrame(shares).to_csv(index=False))
    from perfkit.instrument.nvml import GPU_COLUMNS

    timeline = pd.concat(timelines, ignore_index=True) if timelines else pd.DataFrame()
    timeline = timeline.reindex(columns=["run", "run_dir", *GPU_COLUMNS])
    write_atomic(out / "nvml-timeline.csv", timeline.to_csv(index=False))
    status = "; ".join(sorted({str(s["gpu_status"]) for s in shares}))
    return shares, status


def gpu_results(
    options: GpuResultsOptions, *, run_command: Callable[[list[str]], int], log: Callable[[str], None] | None = None
) -> Path:
    """Write the results folder; returns its path. PerfkitError (one line) on bad input, before writing.

    `run_command(argv) -> exit code` runs one perfkit command: `perfkit.cli.main`, handed in by
    the CLI (this module sits below it), so each file is made by the command its README names.
    """
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    device, out = check_options(options)
    started = time.perf_counter()
    if device.simulated:
        say(f"gpu-results: SIMULATED DEVICE ({device.spec}): rehearsal, not GPU measurements")
    steps = plan(options, device, out)
    out.mkdir(parents=True, exist_ok=True)
    env = environment_fields(device)
    write_atomic(out / "environment.json", json.dumps(env, indent=2, default=str) + "\n")
    run_step(steps[0], out, stdout_file="curves/curve-float32.txt", log=say, run_command=run_command)
    run_step(steps[1], out, stdout_file=f"curves/curve-{steps[1].argv[-1]}.txt", log=say, run_command=run_command)
    run_step(steps[2], out, stdout_file="bench-all.json", log=say, run_command=run_command)
    run_step(steps[3], out, stdout_file="tuned-crossgame.json", log=say, run_command=run_command)
    run_step(steps[4], out, stdout_file="fast-paths.json", log=say, run_command=run_command)

    tuned_run = json.loads((out / "tuned-crossgame.json").read_text())["runs"][0]["run_dir"]  # what project reads
    project = Step("projection", ["project", tuned_run, "--games", str(options.projection_games), "--json"])
    run_step(project, out, stdout_file=projection_file(options.projection_games), log=say, run_command=run_command)
    title = f"perfkit GPU results: {device.name}" + (" (SIMULATED)" if device.simulated else "")
    report = Step("report", ["report", str(out / "runs"), str(out / "tuned"), str(out / "fast"), "-o", str(out / "report.html"),
                             "--title", title])
    run_step(report, out, stdout_file="report.txt", log=say, run_command=run_command)
    steps += [project, report]

    shares, gpu_status = write_tables(out)
    projection = json.loads((out / projection_file(options.projection_games)).read_text())
    tuned_flags = json.loads((out / "tuned-crossgame.json").read_text())["tune"]["recommended_flags"]
    readme = render_readme(options=options, device=device, env=env, steps=steps, shares=shares, gpu_status=gpu_status,
                           projection=projection, tuned_flags=tuned_flags, total_s=time.perf_counter() - started)
    write_atomic(out / "README.md", readme)
    say(f"gpu-results: wrote {out} in {time.perf_counter() - started:,.0f} s")
    return out


def projection_file(games: int) -> str:
    """projection-500k.json for 500,000 games."""
    return f"projection-{games // 1000}k.json" if games % 1000 == 0 else f"projection-{games}.json"


def render_readme(
    *, options: GpuResultsOptions, device: Device, env: dict[str, Any], steps: list[Step],
    shares: list[dict[str, Any]], gpu_status: str, projection: dict[str, Any], tuned_flags: str, total_s: float,
) -> str:
    """The folder's README: what ran where, the headline figures, and the command behind each file."""
    sim = device.simulated
    command = shlex.join(["perfkit", "gpu-results", *cli_argv(options)])
    lines = [f"# perfkit GPU results: {device.name}" + (" — SIMULATED (sim), not measured" if sim else ""), ""]
    if sim:
        lines += ["**SIMULATED DEVICE (sim)**: every network time below comes from a latency curve, not a GPU. "
                  "This folder rehearses the command; it is not a GPU measurement.", ""]
    lines += [
        f"Made by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} in {total_s:,.0f} s.", "",
        "## Environment", "",
        f"- device: {env.get('device_name')} (`{env.get('device')}`{', simulated' if sim else ''})",
        f"- driver: {env.get('driver') or 'n/a'}; torch {env.get('torch')}; CUDA {env.get('torch_cuda') or 'n/a'}; "
        f"cuDNN {env.get('cudnn') or 'n/a'}",
        f"- perfkit {env.get('perfkit')} at commit {env.get('git_commit')}; {env.get('cpu_count')} CPU cores; "
        f"python {env.get('python')}",
        "", "## Headline" + (" (SIMULATED)" if sim else ""), "",
        "| run | boards/s | mean batch | transfer share | device busy | bound by | GPU util % |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in shares:
        lines.append(
            f"| {s['run']} | {fmt(s['boards_per_s'], ',.0f')} | {fmt(s['mean_batch'], '.1f')} | "
            f"{fmt(s['transfer_share'], '.1%')} | {fmt(s['device_busy_share'], '.0%')} | {s['bottleneck'] or 'n/a'} | "
            f"{fmt(s['gpu_util_mean'], '.0f')} |"
        )
    measured = projection.get("measured") or {}
    lines += [
        "", f"Tuned crossgame settings (`bench --tune`): `{tuned_flags or 'the defaults'}`.", "",
        f"Fast paths: crossgame `{' '.join(fast_path_flags(device, half_precision(device, options.half)))}`"
        + (" only: sim answers with a stand-in network, so there is nothing to graph or autocast and no quality "
           "to measure; two groups halve each call, which on sim's latency curve costs more than the overlap wins."
           if sim else ", its quality against float64 measured first (in `fast-paths.json` and the report)."),
        "",
        f"Projection: {measured.get('label', '')}: **{fmt(measured.get('days'), '.1f')} days** for "
        f"{projection.get('games', 0):,} games [{fmt(measured.get('days_low'), '.1f')}, "
        f"{fmt(measured.get('days_high'), '.1f')}].",
        "", f"NVML timeline: {gpu_status}.", "",
        "## Files and the commands that made them", "",
        "Run in this order from the directory `gpu-results` ran in (the repository root for the default folder): "
        "the projection and the report read the runs.", "",
        f"- `environment.json`, `transfer-share.csv` (one row per run), `nvml-timeline.csv` (every NVML sample, "
        f"one row each), `README.md` (the command itself, which runs all the others): `{command}`",
    ]
    for step in steps:
        files = ", ".join(f"`{f}`" for f in collapse(step.files))
        lines.append(f"- {files} ({step.seconds:,.0f} s): `{step.command}`")
    return "\n".join(lines) + "\n"


def collapse(files: list[str]) -> list[str]:
    """A run folder's files as `folder/…`: the README lists runs, not their tables."""
    shown: list[str] = []
    for f in files:
        parts = Path(f).parts
        item = f"{parts[0]}/{parts[1]}/" if len(parts) > 2 and parts[0] in RUN_FOLDERS else f
        if item not in shown:
            shown.append(item)
    return shown


def rank(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def fmt(value: object, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def cli_argv(options: GpuResultsOptions) -> list[str]:
    """The options as `perfkit gpu-results` flags (those that differ from the defaults)."""
    argv = []
    for field in dataclasses.fields(GpuResultsOptions):
        value = getattr(options, field.name)
        if value != field.default and value is not None:
            name = field.name[:-2] if field.name.endswith("_s") else field.name
            argv += [f"--{name.replace('_', '-')}", f"{value:g}" if isinstance(value, float) else str(value)]
    return argv
