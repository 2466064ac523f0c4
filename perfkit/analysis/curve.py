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

import json
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from perfkit.atomic import write_atomic
from perfkit.types import CallRecord, PerfkitError, Preset

CURVE_KIND = "perfkit-curve"
MEASURED_LABEL = "measured by perfkit curve"
SIM_LABEL = "sim: perfkit curve through the simulated device (modelled latencies, not a measurement)"
NOISY_IQR = 0.10  # IQR / median above this flags a point as noisy
# A curve of fewer batch sizes shows no peak: one point (a tiny --time-budget) is the cost of batch 1,
# and a run's efficiency against it read 1016%. Such a curve is saved but not divided by.
MIN_EFFICIENCY_POINTS = 2


def _is_oom(exc: BaseException) -> bool:
    """An allocation failure of the device or the host (what stops a curve, not a bug)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


@dataclass(frozen=True)
class CurvePoint:
    """One batch size: raw samples of the per-call cost, one per repeat (seconds)."""

    batch: int | float  # boards per call (a calibration point may be a mean, e.g. the seed's 57.3)
    call_s: tuple[float, ...]  # [repeats] whole evaluator call, per call
    forward_s: tuple[float, ...] = ()  # [repeats] the forward part of the same calls (may be empty)
    calls_per_repeat: int = 1  # calls timed together in one repeat

    @property
    def median_s(self) -> float:
        return float(np.median(self.call_s))

    @property
    def iqr_s(self) -> float:
        q1, q3 = np.percentile(self.call_s, [25, 75])
        return float(q3 - q1)

    @property
    def forward_median_s(self) -> float | None:
        return float(np.median(self.forward_s)) if self.forward_s else None

    @property
    def boards_per_s(self) -> float:
        return self.batch / self.median_s

    @property
    def noisy(self) -> bool:
        return len(self.call_s) > 1 and self.iqr_s > NOISY_IQR * self.median_s

    def to_dict(self) -> dict:
        return {
            "batch": self.batch,
            "call_s": list(self.call_s),
            "forward_s": list(self.forward_s),
            "calls_per_repeat": self.calls_per_repeat,
            "median_s": self.median_s,
            "iqr_s": self.iqr_s,
            "boards_per_s": self.boards_per_s,
            "noisy": self.noisy,
        }

    @classmethod
    def from_dict(cls, d: dict) -> CurvePoint:
        return cls(
            batch=int(d["batch"]) if float(d["batch"]).is_integer() else float(d["batch"]),
            call_s=tuple(float(x) for x in d["call_s"]),
            forward_s=tuple(float(x) for x in d.get("forward_s", ())),
            calls_per_repeat=int(d.get("calls_per_repeat", 1)),
        )


@dataclass
class Curve:
    """Per-call cost by batch size of one network on one device, with its label.

    The latency model (`latency_s`) interpolates linearly between the measured batch sizes,
    keeps the smallest point's cost below it, and beyond the largest adds the extra boards
    at the peak throughput (a call can't process boards faster than the device's peak).
    """

    device: str  # torch device, e.g. "cpu", "cuda:0"
    device_name: str  # e.g. "cpu", "NVIDIA H100 80GB HBM3"
    preset: str
    network: dict  # board, blocks, channels
    precision: str
    points: list[CurvePoint]
    stopped_by: str = ""  # why the sweep ended: "max batch", "time budget ...", "out of memory ..."
    label: str = MEASURED_LABEL  # whose numbers these are
    note: str = ""  # assumptions behind the numbers, shown with them
    settings: dict = field(default_factory=dict)  # how it was measured
    environment: dict = field(default_factory=dict)
    measured_at: str | None = None
    path: Path | None = None  # where it was saved or loaded from
    roofline: dict = field(default_factory=dict)  # flops_per_board, peak_flop_per_s (a matmul's), ... ({}: not measured)

    def __post_init__(self) -> None:
        self.points = sorted(self.points, key=lambda p: p.batch)

    @property
    def batches(self) -> np.ndarray:  # [P]
        return np.array([p.batch for p in self.points], dtype=float)

    @property
    def peak_boards_per_s(self) -> float:
        return max(p.boards_per_s for p in self.points)

    @property
    def best_batch(self) -> int | float:
        """The smallest batch size that reaches the peak throughput."""
        return max(self.points, key=lambda p: (p.boards_per_s, -p.batch)).batch

    def latency_s(self, batch, *, part: str = "call"):
        """Seconds per call of `batch` boards (scalar or array): "call" or its "forward" part."""
        if not self.points:
            raise PerfkitError("the curve has no points; measure it again with perfkit curve")
        if part == "call":
            y = np.array([p.median_s for p in self.points])
        elif part == "forward":
            if any(not p.forward_s for p in self.points):
                raise PerfkitError(f"curve '{self.label}' has no forward-pass samples")
            y = np.array([p.forward_median_s for p in self.points])
        else:
            raise ValueError(f"part must be 'call' or 'forward', got {part!r}")
        x = self.batches
        b = np.asarray(batch, dtype=float)
        peak = float(np.max(x / y))
        out = np.where(b <= x[-1], np.interp(b, x, y), y[-1] + (b - x[-1]) / peak)
        return float(out) if out.ndim == 0 else out

    def efficiency_problem(self, mean_batch: float | None = None) -> str:
        """Why this curve's peak is no limit for a run of `mean_batch` boards per call ("" if it is).

        Its peak is the device's only where the sweep measured calls as big as the run's: a sweep
        cut short (by its time budget) peaks at a small batch that a batched run outruns.
        """
        largest = self.points[-1].batch if self.points else 0
        why = f" (stopped by {self.stopped_by})" if self.stopped_by else ""
        fix = "measure it again with a larger --time-budget"
        if len(self.points) < MIN_EFFICIENCY_POINTS:
            return (f"curve {self.path or self.describe()} has {len(self.points)} batch size{why}, fewer than "
                    f"{MIN_EFFICIENCY_POINTS}: it shows no peak, so no efficiency is computed; {fix}")
        if mean_batch is not None and mean_batch > largest:
            return (f"curve {self.path or self.describe()} stops at batch {largest}{why}, below this run's mean batch "
                    f"of {mean_batch:,.1f}: its peak is not this run's limit, so no efficiency is computed; {fix}")
        return ""

    def matches(self, *, device_name: str, network: dict, precision: str) -> bool:
        """Same device kind, network shape and precision: its peak applies to that run."""
        keys = ("board", "blocks", "channels")
        return (
            self.device_name == device_name
            and self.precision == precision
            and self.network.get("game", "hex") == network.get("game", "hex")
            and all(int(self.network.get(k, -1)) == int(network.get(k, -2)) for k in keys)
        )

    def describe(self) -> str:
        net = self.network
        return (
            f"{self.preset} (board {net.get('board')}, {net.get('blocks')} blocks, {net.get('channels')} channels), "
            f"{self.precision} on {self.device_name}"
        )

    def to_dict(self) -> dict:
        return {
            "kind": CURVE_KIND,
            "label": self.label,
            "note": self.note,
            "device": self.device,
            "device_name": self.device_name,
            "preset": self.preset,
            "network": dict(self.network),
            "precision": self.precision,
            "peak_boards_per_s": self.peak_boards_per_s,
            "best_batch": self.best_batch,
            "stopped_by": self.stopped_by,
            "settings": self.settings,
            "environment": self.environment,
            "measured_at": self.measured_at,
            "roofline": self.roofline,
            "points": [p.to_dict() for p in self.points],
        }

    @classmethod
    def from_dict(cls, d: dict) -> Curve:
        if d.get("kind") != CURVE_KIND:
            raise PerfkitError("not a perfkit curve (no \"kind\": \"perfkit-curve\"); make one with perfkit curve")
        return cls(
            device=d["device"], device_name=d["device_name"], preset=d["preset"], network=d["network"],
            precision=d["precision"], points=[CurvePoint.from_dict(p) for p in d["points"]],
            stopped_by=d.get("stopped_by", ""), label=d.get("label", MEASURED_LABEL), note=d.get("note", ""),
            settings=d.get("settings", {}), environment=d.get("environment", {}), measured_at=d.get("measured_at"),
            roofline=d.get("roofline") or {},
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the curve as JSON (atomically: a temporary file renamed into place)."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, json.dumps(self.to_dict(), indent=2))
        except OSError as exc:
            raise PerfkitError(f"cannot write curve {path}: {exc.strerror or exc}") from None
        self.path = path
        return path


def load_curve(path: str | os.PathLike) -> Curve:
    """The curve saved in `path`; PerfkitError (one line) if it can't be read or isn't one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PerfkitError(f"curve file {path} does not exist; make one with perfkit curve") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PerfkitError(f"cannot read curve file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except ValueError as exc:
        raise PerfkitError(f"curve file {path} is not valid JSON: {exc}") from None
    try:
        curve = Curve.from_dict(data) if isinstance(data, dict) else Curve.from_dict({})
    except PerfkitError as exc:
        raise PerfkitError(f"{path}: {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise PerfkitError(f"curve file {path} is damaged (bad or missing {exc}); measure it again") from None
    if not curve.points:
        raise PerfkitError(f"curve file {path} has no points; measure it again with perfkit curve")
    for point in curve.points:  # an empty or NaN call_s would make every number drawn from it NaN
        if not point.call_s or not all(math.isfinite(x) and x >= 0 for x in point.call_s):
            raise PerfkitError(
                f"curve file {path}: the point at batch {point.batch} has "
                f"{'no call_s samples' if not point.call_s else 'a call_s that is not a finite time >= 0'}; "
                "measure it again with perfkit curve"
            )
        if not (math.isfinite(point.batch) and point.batch > 0):
            raise PerfkitError(f"curve file {path}: batch sizes must be positive numbers, got {point.batch}")
    curve.path = path
    return curve


def slug(text: str) -> str:
    """'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3' (file-name safe)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "device"


def curve_filename(*, device_name: str, preset: Preset, precision: str, game: str = "hex") -> str:
    """<device-slug>-<preset>[-board<N> when overridden][-<game> when not Hex]-<precision>.json"""
    from perfkit.types import get_preset

    name = preset.name
    try:
        if get_preset(preset.name) != preset:
            name = f"{name}-board{preset.board}"
    except PerfkitError:
        name = f"{name}-board{preset.board}-b{preset.blocks}-c{preset.channels}"
    if game != "hex":
        name = f"{name}-{slug(game)}"
    return f"{slug(device_name)}-{name}-{precision}.json"


def network_key(network: Preset, game: str = "hex") -> dict:
    """What identifies a network for its curve: the preset's sizes and the game (a game other
    than Hex has its own board: board 0 stands for "the game's")."""
    return {"board": network.board if game == "hex" else 0, "blocks": network.blocks, "channels": network.channels,
            "game": game}


def find_curve(
    curves_dir: str | os.PathLike, *, device_name: str, network: Preset, precision: str, game: str = "hex"
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
    game_flag = "" if game == "hex" else f" --game '{game}'"
    return None, (
        f"no curve for {network.name}{'' if game == 'hex' else ' on ' + game} ({precision}) on {device_name} in {folder}; "
        f"run perfkit curve --preset {network.name}{board}{game_flag} --device {device_flag} --precision {precision} "
        f"--out {folder}"
    )


def efficiency_fields(boards_per_s: float, curve: Curve | None, reason: str = "") -> dict:
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
        status += "; above 1: the curve and this run met different machine load - measure both again, together"
    return {"efficiency": efficiency, "efficiency_status": status}


def default_batches(max_batch: int) -> list[int]:
    """Powers of two from 1 up to `max_batch`."""
    return [2**k for k in range(int(math.log2(max_batch)) + 1)]


def _positions(game, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`batch` arbitrary compact rows (a conv net's cost does not depend on the stones)."""
    stones = rng.integers(0, 2, size=(batch, game.compact_width)).astype(game.compact_dtype)  # [B, D]
    to_move = (np.arange(batch) % 2 + 1).astype(np.int8)  # [B]
    return stones, to_move


def measure_curve(
    evaluator,
    *,
    network: Preset,
    batches: Sequence[int] | None = None,
    max_batch: int = 65_536,
    repeats: int = 5,
    warmup: int = 2,
    min_repeat_s: float = 0.05,
    time_budget_s: float = 30.0,
    seed: int = 0,
    environment: dict | None = None,
    clock: Callable[[], float] = time.perf_counter,
    on_point: Callable[[CurvePoint], None] | None = None,
) -> Curve:
    """Per-call cost of `evaluator` for growing batch sizes, until done, out of time or memory.

    Long on purpose: the sweep's stopping rules (max batch, time budget, out of memory) and the
    evaluator's recording hook are restored in one try/finally that has to see all of them.

    Args:
        evaluator: an `Evaluator` (or anything with its call signature and its `n`, `device`,
            `device_name`, `precision` and `on_call` attributes).
        network: the network's preset (its name and shape label the curve).
        batches: batch sizes to measure, ascending; default powers of two up to `max_batch`.
        repeats: timed repeats per batch size (raw samples kept); the median is the point.
        warmup: untimed calls per batch size before the repeats (the first also sizes them).
        min_repeat_s: a repeat times enough calls to last at least this long.
        time_budget_s: the sweep stops before a batch size that would not fit in the budget
            (predicted from the last point as if cost grew linearly), and a batch size that
            turns out slower than predicted keeps only the repeats done by the deadline.
        clock: the clock read around the timed calls; injectable for tests.
        on_point: called with each measured point (live progress).
    """
    if repeats < 1 or warmup < 1:
        raise PerfkitError(f"repeats and warmup must be >= 1, got {repeats} and {warmup}")
    if isinstance(time_budget_s, bool) or not isinstance(time_budget_s, (int, float)) or not time_budget_s > 0:
        raise PerfkitError(f"time budget must be a number of seconds > 0, got {time_budget_s!r}")
    if max_batch < 1:
        raise PerfkitError(f"max batch must be >= 1, got {max_batch}")
    sizes = sorted(set(batches)) if batches else default_batches(max_batch)
    rng = np.random.default_rng(seed)
    forward: list[float] = []
    previous_hook = evaluator.on_call

    def hook(record: CallRecord) -> None:
        forward.append(record.forward_s)

    points: list[CurvePoint] = []
    stopped_by = "max batch" if not batches else "all batch sizes measured"
    start = clock()
    evaluator.on_call = hook
    try:
        for b in sizes:
            if points:
                # Worst case the cost grows linearly from the last point: will it fit?
                last = points[-1]
                est_call = last.median_s * b / last.batch
                est = est_call * (warmup + repeats * max(1, math.ceil(min_repeat_s / est_call)))
                left = time_budget_s - (clock() - start)
                if est > left:
                    stopped_by = f"time budget {time_budget_s:g} s (batch {b} would need ~{est:.1f} s)"
                    break
            try:
                point = _measure_point(
                    evaluator, b, rng, forward, repeats, warmup, min_repeat_s, clock, deadline=start + time_budget_s
                )
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                _free_device_memory(evaluator)
                stopped_by = f"out of memory at batch {b}"
                break
            points.append(point)
            if on_point is not None:
                on_point(point)
            if len(point.call_s) < repeats:
                stopped_by = f"time budget {time_budget_s:g} s (batch {b}: {len(point.call_s)} of {repeats} repeats)"
                break
    finally:
        evaluator.on_call = previous_hook
    if not points:
        raise PerfkitError(f"no batch size could be measured ({stopped_by}); try a smaller preset")
    backend = getattr(evaluator, "backend", None)
    simulated = bool(getattr(backend, "simulated", False))
    return Curve(
        device=str(backend) if backend is not None else str(evaluator.device),
        device_name=evaluator.device_name,
        preset=network.name,
        network=network_key(network, getattr(evaluator.game, "name", "hex")),
        precision=evaluator.precision,
        points=points,
        stopped_by=stopped_by,
        settings={
            "repeats": repeats, "warmup": warmup, "min_repeat_s": min_repeat_s,
            "time_budget_s": time_budget_s, "max_batch": max_batch, "seed": seed,
        },
        environment=environment or {},
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        label=SIM_LABEL if simulated else MEASURED_LABEL,
    )


def _measure_point(evaluator, b, rng, forward, repeats, warmup, min_repeat_s, clock, *, deadline) -> CurvePoint:
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


def _free_device_memory(evaluator) -> None:
    backend = getattr(evaluator, "backend", None)
    if backend is not None:
        backend.free_memory()
