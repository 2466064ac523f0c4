"""The device's limit: what one network call costs by batch size (`perfkit curve`).

The curve is measured through the same `Evaluator` that self-play calls, so a point is the
cost of a self-play call of that size: encoding, transfers (on a GPU) and the forward pass.
Its peak boards/s is the denominator of `efficiency`, and its latency model lets a run's call
trace be replayed on another device (`perfkit.analysis.projection`).

Honest measurement (torch.utils.benchmark style): warm-up calls are excluded, each repeat
times enough calls to rise above the clock's resolution, the raw per-repeat samples are
kept, the median and IQR are reported, and a point whose IQR exceeds 10% of its median
is flagged as noisy.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from perfkit.analysis.roofline import flops_per_board, matmul_peak, roofline_fields
from perfkit.devices import Device
from perfkit.devices.threads import ThreadChoice, curve_oversubscription
from perfkit.game import board_sized
from perfkit.instrument.environment import environment_of
from perfkit.model.approximate import find_bucketed, precompile
from perfkit.types import (
    DEFAULT_GAME,
    MEASURED_LABEL,
    Curve,
    CurvePoint,
    Game,
    PerfkitError,
    Preset,
    load_curve,
)

SIM_LABEL = "sim: perfkit curve through the simulated device (modelled latencies, not a measurement)"


def _is_oom(exc: BaseException) -> bool:
    """An allocation failure of the device or the host (what stops a curve, not a bug)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


def slug(text: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3' (file-name safe)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def curve_filename(*, device_name: str, preset: Preset, precision: str, game: str = DEFAULT_GAME) -> str:
    """<device-slug>-<preset>[-board<N> when overridden][-<game> for a game of its own shape]-<precision>.json

    (The presets' game, sized by their board, is named by the preset alone: `perfkit.game.board_sized`.)"""
    from perfkit.types import get_preset

    name = preset.name
    try:
        if get_preset(preset.name) != preset:
            name = f"{name}-board{preset.board}"
    except PerfkitError:
        name = f"{name}-board{preset.board}-b{preset.blocks}-c{preset.channels}"
    if not board_sized(game):
        name = f"{name}-{slug(game)}"
    return f"{slug(device_name)}-{name}-{precision}.json"


def network_key(network: Preset, game: str = DEFAULT_GAME) -> dict[str, Any]:
    """What identifies a network for its curve: the preset's sizes and the game (a game not sized
    by the preset's board has its own: board 0 stands for "the game's")."""
    return {"board": network.board if board_sized(game) else 0, "blocks": network.blocks, "channels": network.channels,
            "game": game}


def find_curve(
    curves_dir: str | os.PathLike[str], *, device_name: str, network: Preset, precision: str, game: str = DEFAULT_GAME
) -> tuple[Curve | None, str]:
    """The saved curve matching a run (same device name, network shape, precision), and why.

    Looks at the conventional file name first, then at any other curve in `curves_dir`.
    Returns (curve, "") or (None, a reason that says how to make one).
    """
    folder = Path(curves_dir)
    net = network_key(network, game)
    wanted = folder / curve_filename(device_name=device_name, preset=network, precision=precision, game=game)
    candidates = [wanted] + sorted(p for p in folder.glob("*.json") if p != wanted) if folder.is_dir() else []
    for path in candidates:
        if not path.is_file():
            continue
        try:
            curve = load_curve(path)
        except PerfkitError:
            continue
        if curve.matches(device_name=device_name, network=net, precision=precision):
            return curve, ""
    device_flag = "cpu" if device_name == "cpu" else "cuda"
    board = f" --board {network.board}" if "-board" in wanted.name else ""
    named = not board_sized(game)  # the presets' game goes without saying
    game_flag = f" --game '{game}'" if named else ""
    return None, (
        f"no curve for {network.name}{' on ' + game if named else ''} ({precision}) on {device_name} in {folder}; "
        f"run perfkit curve --preset {network.name}{board}{game_flag} --device {device_flag} --precision {precision} "
        f"--out {folder}"
    )


ABOVE_ONE = "; above 1: the curve and this run met different machine load - measure both again, together"


def efficiency_fields(boards_per_s: float, curve: Curve | None, reason: str = "") -> dict[str, Any]:
    """`efficiency` (self-play boards/s ÷ the curve's peak) and a status saying against what.

    The caller checks that the curve is a limit for the run (`Curve.efficiency_problem`)."""
    if curve is None:
        return {"efficiency": None, "efficiency_status": reason or "no curve"}
    where = f" ({curve.path})" if curve.path else ""
    efficiency = float(boards_per_s / curve.peak_boards_per_s)
    status = (
        f"vs peak {curve.peak_boards_per_s:,.0f} boards/s at batch {curve.best_batch} "
        f"({curve.label}, {curve.device_name}){where}"
    )
    if efficiency > 1.05:  # self-play cannot beat its own forward pass: the two saw different machines
        status += ABOVE_ONE
    return {"efficiency": efficiency, "efficiency_status": status}


def default_batches(max_batch: int) -> list[int]:
    """Powers of two from 1 up to `max_batch`."""
    return [2**k for k in range(int(math.log2(max_batch)) + 1)]


def _positions(game: Game, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`batch` arbitrary compact rows (a conv net's cost does not depend on the stones)."""
    stones = rng.integers(0, 2, size=(batch, game.compact_width)).astype(game.compact_dtype)  # [B, D]
    to_move = (np.arange(batch) % 2 + 1).astype(np.int8)  # [B]
    return stones, to_move


def measure_curve(
    evaluator: Any,
    *,
    network: Preset,
    batches: Sequence[int] | None = None,
    max_batch: int = 65_536,
    repeats: int = 5,
    warmup: int = 2,
    min_repeat_s: float = 0.05,
    time_budget_s: float = 30.0,
    seed: int = 0,
    environment: dict[str, Any] | None = None,
    threads: ThreadChoice | None = None,
    clock: Callable[[], float] = time.perf_counter,
    on_point: Callable[[CurvePoint], None] | None = None,
) -> Curve:
    """Per-call cost of `evaluator` for growing batch sizes, until done, out of time or memory:
    what `perfkit curve` measures and saves, point for point.

    Args:
        evaluator: an `Evaluator` (or anything with its call signature and its `game`, `device`,
            `device_name`, `precision` and `on_call` attributes). A torch.compile'd network has
            every batch size compiled before the clock starts; a network (`evaluator.model`)
            gets its roofline (FLOPs per board, a matmul's peak on the device) with the curve.
        network: the network's preset (its name and shape label the curve).
        batches: batch sizes to measure, ascending; default powers of two up to `max_batch`.
        repeats: timed repeats per batch size (raw samples kept); the median is the point.
        warmup: untimed calls per batch size before the repeats (the first also sizes them).
        min_repeat_s: a repeat times enough calls to last at least this long.
        time_budget_s: the sweep stops before a batch size that would not fit in the budget
            (predicted from the last point as if cost grew linearly), and a batch size that
            turns out slower than predicted keeps only the repeats done by the deadline.
        environment: the machine, for the curve file (default: the evaluator's device's).
        threads: the torch thread choice the curve ran with (`Workload.threads`): stored, and
            its batch-1 probe flags an oversubscribed sweep in the curve's note.
        clock: the clock read around the timed calls; injectable for tests.
        on_point: called with each measured point (live progress).
    """
    check_sweep(repeats=repeats, warmup=warmup, time_budget_s=time_budget_s, max_batch=max_batch)
    sizes = sorted(set(batches)) if batches else default_batches(max_batch)
    note = precompile_for_curve(evaluator, up_to=max(sizes))
    points, stopped_by = _sweep(
        evaluator, sizes, seed=seed, repeats=repeats, warmup=warmup, min_repeat_s=min_repeat_s,
        time_budget_s=time_budget_s, clock=clock, on_point=on_point,
        done="all batch sizes measured" if batches else "max batch",
    )
    backend = getattr(evaluator, "backend", None)
    curve = Curve(
        **curve_labels(evaluator, network), points=points, stopped_by=stopped_by,
        settings={"repeats": repeats, "warmup": warmup, "min_repeat_s": min_repeat_s,
                  "time_budget_s": time_budget_s, "max_batch": max_batch, "seed": seed},
        environment=curve_environment(backend, environment, threads), measured_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    warning = curve_oversubscription(curve, threads.expected_batch1_s) if threads is not None else None
    curve.note = "; ".join(text for text in (note, warning) if text)
    curve.roofline = curve_roofline(evaluator, curve.peak_boards_per_s)
    return curve


def curve_labels(evaluator: Any, network: Preset) -> dict[str, Any]:
    """What a curve is of: the device, the network, the precision, and whose numbers these are."""
    backend = getattr(evaluator, "backend", None)
    return {
        "device": str(backend) if backend is not None else str(evaluator.device),
        "device_name": evaluator.device_name,
        "preset": network.name,
        "network": network_key(network, getattr(evaluator.game, "name", DEFAULT_GAME)),
        "precision": evaluator.precision,
        "label": SIM_LABEL if getattr(backend, "simulated", False) else MEASURED_LABEL,
    }


def check_sweep(*, repeats: int, warmup: int, time_budget_s: float, max_batch: int) -> None:
    """PerfkitError (one line) for a sweep that cannot be measured."""
    if repeats < 1 or warmup < 1:
        raise PerfkitError(f"repeats and warmup must be >= 1, got {repeats} and {warmup}")
    if isinstance(time_budget_s, bool) or not isinstance(time_budget_s, (int, float)) or not time_budget_s > 0:
        raise PerfkitError(f"time budget must be a number of seconds > 0, got {time_budget_s!r}")
    if max_batch < 1:
        raise PerfkitError(f"max batch must be >= 1, got {max_batch}")


def curve_environment(backend: Any, environment: dict[str, Any] | None, threads: ThreadChoice | None) -> dict[str, Any]:
    """What the curve file says of the machine: `environment`, else its device's; and the thread choice."""
    if environment is None:
        environment = environment_of(backend) if isinstance(backend, Device) else {}
    return {**environment, "threads": threads.to_dict()} if threads is not None else dict(environment)


def precompile_for_curve(evaluator: Any, *, up_to: int) -> str:
    """A torch.compile'd network's every bucket up to `up_to` compiled before the sweep's clock
    starts; the curve's note on what that cost ("" for a network that is not compiled)."""
    model = getattr(evaluator, "model", None)
    compiled = find_bucketed(model) if isinstance(model, torch.nn.Module) else None
    if compiled is None:
        return ""
    spent = precompile(compiled, tuple(evaluator.game.obs_shape), up_to=up_to, device=evaluator.device,
                       dtype=evaluator.dtype)
    return f"torch.compile'd network ({spent:.1f} s compiling up to batch {up_to}, untimed)"


def curve_roofline(evaluator: Any, boards_per_s: float) -> dict[str, Any]:
    """FLOPs per board counted from the evaluator's network, the FLOP/s at `boards_per_s`, and a
    matmul's peak on the same device in the same dtype, measured now ({}: no network to count)."""
    model = getattr(evaluator, "model", None)
    if not isinstance(model, torch.nn.Module):
        return {}
    peak = matmul_peak(evaluator.device, evaluator.dtype)
    compiled = find_bucketed(model)  # count the network's own FLOPs, not through torch.compile's graph
    flops = flops_per_board(compiled.inner if compiled is not None else model, tuple(evaluator.game.obs_shape))
    return {**roofline_fields(flops, boards_per_s, peak["peak_flop_per_s"]), "matmul_size": peak["matmul_size"]}


def _sweep(
    evaluator: Any, sizes: list[int], *, seed: int, repeats: int, warmup: int, min_repeat_s: float,
    time_budget_s: float, clock: Callable[[], float], on_point: Callable[[CurvePoint], None] | None, done: str,
) -> tuple[list[CurvePoint], str]:
    """The points measured of `sizes` and why the sweep stopped (`done`: it measured them all).

    The evaluator's recording hook is borrowed for the forward times and given back whatever
    stops the sweep (max batch, time budget, out of memory)."""
    rng = np.random.default_rng(seed)
    forward: list[float] = []
    previous_hook = evaluator.on_call
    points: list[CurvePoint] = []
    start = clock()
    evaluator.on_call = lambda record: forward.append(record.forward_s)
    try:
        for b in sizes:
            if points:
                # Worst case the cost grows linearly from the last point: will it fit?
                last = points[-1]
                est_call = last.median_s * b / last.batch
                est = est_call * (warmup + repeats * max(1, math.ceil(min_repeat_s / est_call)))
                if est > time_budget_s - (clock() - start):
                    return points, f"time budget {time_budget_s:g} s (batch {b} would need ~{est:.1f} s)"
            try:
                point = _measure_point(
                    evaluator, b, rng, forward, repeats, warmup, min_repeat_s, clock, deadline=start + time_budget_s
                )
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                _free_device_memory(evaluator)
                return _measured(points, f"out of memory at batch {b}")
            points.append(point)
            if on_point is not None:
                on_point(point)
            if len(point.call_s) < repeats:
                return points, f"time budget {time_budget_s:g} s (batch {b}: {len(point.call_s)} of {repeats} repeats)"
    finally:
        evaluator.on_call = previous_hook
    return _measured(points, done)


def _measured(points: list[CurvePoint], stopped_by: str) -> tuple[list[CurvePoint], str]:
    if not points:
        raise PerfkitError(f"no batch size could be measured ({stopped_by}); try a smaller preset")
    return points, stopped_by


def _measure_point(
    evaluator: Any, b: int, rng: np.random.Generator, forward: list[float], repeats: int, warmup: int,
    min_repeat_s: float, clock: Callable[[], float], *, deadline: float,
) -> CurvePoint:
    """One batch size: warm-up, then `repeats` timed repeats (fewer if the deadline passes)."""
    stones, to_move = _positions(evaluator.game, b, rng)
    t0 = clock()
    evaluator(stones, to_move)  # the first warm-up call also sizes the repeats
    first = max(clock() - t0, 1e-9)
    for _ in range(warmup - 1):
        evaluator(stones, to_move)
    number = max(1, math.ceil(min_repeat_s / first))
    call_s, forward_s = [], []
    for _ in range(repeats):
        forward.clear()
        t0 = clock()
        for _ in range(number):
            evaluator(stones, to_move)
        t1 = clock()
        call_s.append((t1 - t0) / number)
        if len(forward) == number:
            forward_s.append(sum(forward) / number)
        if t1 > deadline:
            break  # out of time: keep the repeats measured so far (the point says how many)
    return CurvePoint(
        batch=b, call_s=tuple(call_s), forward_s=tuple(forward_s) if len(forward_s) == len(call_s) else (),
        calls_per_repeat=number,
    )


def _free_device_memory(evaluator: object) -> None:
    backend = getattr(evaluator, "backend", None)
    if backend is not None:
        backend.free_memory()


__all__ = [
    "MEASURED_LABEL", "SIM_LABEL", "Curve", "CurvePoint", "curve_filename", "default_batches", "efficiency_fields",
    "find_curve", "load_curve", "measure_curve", "network_key", "slug",
]
