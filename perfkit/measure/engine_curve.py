"""The limit curve of an engine's network (`perfkit curve --engine SPEC`), and the efficiency of its runs.

The network is the one `bench --engine SPEC` calls (`prepare_engine`): the engine's own (a
torch module or a batch callable, any shapes that fit the engine's observations and actions)
or perfkit's residual net for the engine's shapes. Each point is the cost of a call of B
observations `[B, *obs_shape]` through the same `Tracer.evaluate` an engine run's calls go
through (the host copy, the forward, the answers back), so the curve's peak is the limit
the run's boards/s is divided by.

A curve names its network by the engine and a fingerprint of the network (its name,
parameter count, observation shape and actions): a run's efficiency is computed against the
curve of the same network, device and precision, and against no other.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from perfkit.analysis.curve import efficiency_fields, measure_curve, slug
from perfkit.instrument.environment import environment_of
from perfkit.instrument.run import Run
from perfkit.instrument.trace import Tracer
from perfkit.types import Curve, CurvePoint, PerfkitError, Preset, load_curve

if TYPE_CHECKING:
    from perfkit.measure.engine import EngineSetup


def network_identity(setup: EngineSetup) -> dict[str, Any]:
    """What identifies the engine's network for its curve (a `Curve.network` dict: `matches` compares
    board, blocks, channels and game; the fingerprint lives in `game`)."""
    net = setup.manifest["network"]
    described = {k: net.get(k) for k in ("name", "parameters", "obs_shape", "actions", "blocks", "channels", "own")}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return {**described, "network_blocks": described.pop("blocks"), "network_channels": described.pop("channels"),
            "board": 0, "blocks": 0, "channels": 0, "game": f"engine:{setup.label}:{net['name']}:{digest}",
            "engine": setup.spec}


def engine_curve_filename(setup: EngineSetup, device_name: str) -> str:
    """<device-slug>-engine-<engine>-<network>-<precision>.json"""
    name = setup.manifest["network"]["name"]
    return f"{slug(device_name)}-engine-{slug(setup.label)}-{slug(str(name))}-{setup.precision}.json"


class EngineNetworkEvaluator:
    """The engine's network behind the call signature `measure_curve` times: `(stones [B, D], to_move [B])`,
    the stones reshaped to observations `[B, *obs_shape]` and sent through a `Tracer`."""

    def __init__(self, setup: EngineSetup, device_name: str) -> None:
        self.obs_shape = tuple(int(d) for d in setup.engine.obs_shape)
        self.tracer = Tracer(setup.net, name="curve", actions=setup.engine.actions, precision=setup.precision,
                             device=setup.device, sample_gpu=False)
        self.tracer.prepare_forward(self.obs_shape)  # the same forward as an engine run's (traced where exact)
        self.game = SimpleNamespace(
            name=network_identity(setup)["game"], compact_width=math.prod(self.obs_shape), compact_dtype=np.float32,
        )
        self.on_call: Callable[..., Any] | None = None
        self.device, self.device_name, self.precision = setup.device, device_name, setup.precision
        self.backend = self.tracer.backend

    def __call__(self, stones: np.ndarray, to_move: np.ndarray) -> None:
        planes = np.ascontiguousarray(stones, dtype=np.float32).reshape(len(stones), *self.obs_shape)
        self.tracer.evaluate(planes)
        record = self.tracer.recorder.calls.pop()  # the sweep keeps no call table
        if self.on_call is not None:
            self.on_call(record)


def measure_engine_curve(
    setup: EngineSetup,
    *,
    max_batch: int = 65_536,
    repeats: int = 5,
    warmup: int = 2,
    time_budget_s: float = 30.0,
    seed: int = 0,
    on_point: Callable[[CurvePoint], None] | None = None,
) -> Curve:
    """The engine network's cost per call by batch size (powers of two up to `max_batch`), as a Curve."""
    device_name = environment_of(setup.device)["device_name"]
    evaluator = EngineNetworkEvaluator(setup, device_name)
    try:
        evaluator(np.zeros((2, evaluator.game.compact_width), np.float32), np.ones(2, np.int8))  # one line if it does not fit
    except PerfkitError as exc:
        raise PerfkitError(f"engine {setup.spec!r}: its network does not fit its observations: {exc}") from None
    name = str(setup.manifest["network"]["name"])
    curve = measure_curve(
        evaluator, network=Preset(name, board=0, blocks=0, channels=0), max_batch=max_batch, repeats=repeats,
        warmup=warmup, time_budget_s=time_budget_s, seed=seed, on_point=on_point,
        environment={"threads": setup.choice.to_dict(), "torch_threads": setup.choice.threads},
    )
    curve.network = network_identity(setup)
    curve.note = (f"engine {setup.spec}'s {'own ' if setup.own else ''}network {name}: "
                  f"observations {list(evaluator.obs_shape)}, {setup.engine.actions} actions")
    return curve


def find_engine_curve(setup: EngineSetup, curves_dir: Path | None) -> tuple[Curve | None, str]:
    """The saved curve of this engine's network on this device in this precision, and why not if none."""
    device_name = environment_of(setup.device)["device_name"]
    wanted = network_identity(setup)
    folder = Path(curves_dir) if curves_dir is not None else None
    if folder is not None and folder.is_dir():
        first = folder / engine_curve_filename(setup, device_name)
        for path in [first, *sorted(p for p in folder.glob("*.json") if p != first)]:
            try:
                curve = load_curve(path)
            except (PerfkitError, OSError, ValueError, KeyError):
                continue
            if curve.matches(device_name=device_name, network=wanted, precision=setup.precision):
                return curve, ""
    where = f" in {folder}" if folder is not None else ""
    out = f" --out {folder}" if folder is not None else ""
    return None, (f"no curve for engine {setup.spec}'s network {setup.manifest['network']['name']} "
                  f"({setup.precision}) on {device_name}{where}; run perfkit curve --engine {setup.spec} "
                  f"--game {setup.recipe['game']} --precision {setup.precision}{out}")


def engine_efficiency(setup: EngineSetup, run: Run, curves_dir: Path | None) -> dict[str, Any]:
    """`efficiency` and its status for an engine run, against its network's curve, and the run's
    forward against the curve's at the run's mean batch (`forward_vs_curve_fields`)."""
    found, why = find_engine_curve(setup, curves_dir)
    curve = found
    if curve is not None:
        problem = curve.efficiency_problem(run.summary.get("mean_batch"))
        if problem:
            curve, why = None, problem
    fields = efficiency_fields(run.summary["boards_per_s"], curve, why)
    if found is not None:
        run.manifest["curve"] = {"path": str(found.path) if found.path else None, "network": found.network}
    fields.update(forward_vs_curve_fields(run, found, why))
    return fields


def forward_vs_curve_fields(run: Run, curve: Curve | None, why: str) -> dict[str, Any]:
    """The run's forward against the curve's at the run's mean batch, and how the forward ran
    (traced without the GIL, or eager and why).

    At the mean batch: over the calls within ±25 % of it, the median call's boards/s (its boards ÷
    its forward seconds) against the median of the curve's at the same calls' batches
    (interpolated between its points). Medians, so a call the OS preempted (a loaded machine) does
    not move them; `forward_vs_curve_all` is every call's forward time against the curve's, such
    stalls included. Below 1: the forward ran slower inside the run than alone (waiting for the GIL
    between operators while searches run, colder caches, a loaded machine). `why`: why there is no curve.
    """
    calls = run.calls
    fields: dict[str, Any] = {"forward_path": (run.manifest.get("network") or {}).get("forward"),
                              "forward_boards_per_s": None, "curve_forward_boards_per_s": None,
                              "forward_vs_curve": None, "forward_vs_curve_all": None}
    timed = calls[calls["forward_s"] > 0] if len(calls) else calls
    if not len(timed):
        return {**fields, "forward_vs_curve_status": "unavailable: the run made no timed network call"}
    batch, forward_s = timed["batch"].to_numpy(float), timed["forward_s"].to_numpy(float)  # [C], [C]
    mean_batch = float(calls["batch"].mean())
    near = np.abs(batch - mean_batch) <= 0.25 * mean_batch
    near = near if near.any() else np.ones_like(near)
    fields["forward_boards_per_s"] = in_run = float(np.median(batch[near] / forward_s[near]))
    if curve is None:
        return {**fields, "forward_vs_curve_status": f"unavailable: {why}"}
    try:
        expected_s = np.asarray(curve.latency_s(batch, part="forward"), float)  # [C] the curve's forward at each call's batch
    except PerfkitError:  # a curve without forward samples (made by an older perfkit)
        return {**fields, "forward_vs_curve_status": f"unavailable: curve {curve.path} has no forward samples; "
                "measure it again with perfkit curve --engine"}
    at_batch = float(np.median(batch[near] / expected_s[near]))
    beyond = " (beyond the curve's largest batch: extrapolated at its peak)" if mean_batch > curve.batches[-1] else ""
    return {**fields, "curve_forward_boards_per_s": at_batch, "forward_vs_curve": in_run / at_batch,
            "forward_vs_curve_all": float(expected_s.sum() / forward_s.sum()),
            "forward_vs_curve_status": f"measured against {curve.path or curve.describe()}{beyond}"}


def default_engine_curve_path(setup: EngineSetup, out: str | os.PathLike[str]) -> Path:
    """Where `perfkit curve --engine` saves by default: OUT/<engine_curve_filename>."""
    return Path(out) / engine_curve_filename(setup, environment_of(setup.device)["device_name"])
