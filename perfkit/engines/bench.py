"""`perfkit bench --engine ...`: an engine perfkit did not write, measured like the built-in one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from perfkit.analysis.bottleneck import cpu_side_cap
from perfkit.engines import make_engine
from perfkit.engines.run import ENGINE_STRATEGIES, EngineOptions, play_engine
from perfkit.instrument.run import Run
from perfkit.model.evaluator import resolve_device, resolve_precision
from perfkit.model.net import build_game_model
from perfkit.threads import choose_threads
from perfkit.types import PerfkitError, get_preset


def _batch1_probe(net: torch.nn.Module, obs_shape, dtype, calls: int = 3):
    """probe(t): median seconds of a batch-1 forward with t torch threads (for `choose_threads`)."""
    x = torch.zeros((1, *obs_shape), dtype=dtype)

    @torch.inference_mode()
    def probe(threads: int) -> float:
        torch.set_num_threads(threads)
        net(x)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - t0)
        return float(np.median(times))

    return probe


def _parameters(net) -> int | None:
    return int(sum(t.numel() for t in net.parameters())) if isinstance(net, torch.nn.Module) else None


def engine_network(engine, spec: str, *, precision: str, device: torch.device):
    """The engine's own `network` (a torch module or a batch callable), checked on a batch of two
    observations before any game: a network that does not fit the engine is one PerfkitError."""
    from perfkit.instrument.trace import Tracer

    net = engine.network
    if not callable(net):
        raise PerfkitError(f"engine {spec!r}: its network must be a torch.nn.Module or a callable, got {type(net).__name__}")
    probe = Tracer(net, name="probe", actions=engine.actions, precision=precision, device=device, sample_gpu=False)
    try:
        probe.evaluate(np.zeros((2, *engine.obs_shape), np.float32))
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PerfkitError(
            f"engine {spec!r}: its own network does not fit its observations {list(engine.obs_shape)} "
            f"and {engine.actions} actions: {text}"
        ) from None
    return net


def bench_engine(
    spec: str,
    strategies: list[str],
    *,
    game: str = "connect_four",
    simulations: int = 50,
    options: EngineOptions | None = None,
    preset: str = "small",
    seed: int = 0,
    precision: str = "float32",
    device: str = "auto",
    threads: int | None = None,
    out: str | os.PathLike | None = "runs",
    progress: bool = True,
) -> list[Run]:
    """Play `options.games` games of engine `spec` with each strategy; saves each run under `out`.

    Long on purpose: every check (strategies, device, preset, engine, output) runs before the
    first game, in the order a user's typo is most likely, so nothing is written on bad input.

    The network is the engine's own where it has one (a `network` attribute: a torch module
    or a callable taking a batch `[B, *obs_shape]`), else perfkit's residual net built for the
    game's shapes with the preset's blocks and channels, weights drawn from `seed`.
    """
    from perfkit.bench import add_comparisons, check_writable, run_dir_for

    if not strategies or any(s not in ENGINE_STRATEGIES for s in strategies):
        raise PerfkitError(
            f"an engine's own search is played by {' or '.join(ENGINE_STRATEGIES)} (or all), got {strategies!r}"
        )
    options = options or EngineOptions()
    if isinstance(device, str) and (device == "sim" or device.startswith("sim:")):
        raise PerfkitError(
            "--device sim simulates perfkit's own network calls; an engine's network runs for real: "
            "use --device cpu, cuda or auto"
        )
    p = get_preset(preset)
    dtype = resolve_precision(precision)
    dev = resolve_device(device)
    engine = make_engine(spec, game=game, simulations=simulations, seed=seed)
    own = getattr(engine, "network", None)
    net = (
        engine_network(engine, spec, precision=precision, device=dev) if own is not None
        else build_game_model(engine.obs_shape, engine.actions, preset=p, seed=seed).to(device=dev, dtype=dtype)
    )
    choice = choose_threads(device_type=dev.type, requested=threads, probe=_batch1_probe(net, engine.obs_shape, dtype))
    torch.set_num_threads(choice.threads)
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        check_writable(out_path)
    engine_settings = engine.settings() if hasattr(engine, "settings") else {"engine": spec, "game": game}
    manifest = {
        "settings": {"preset": p.name if own is None else "user", "precision": precision, "seed": seed,
                     "device": device, "threads": threads, **engine_settings, "engine": spec},
        "network": {"name": type(net).__name__, "board": "x".join(map(str, engine.obs_shape[1:])),
                    "blocks": p.blocks if own is None else None, "channels": p.channels if own is None else None,
                    "obs_shape": list(engine.obs_shape), "actions": engine.actions, "own": own is not None,
                    "parameters": _parameters(net)},
        "threads": choice.to_dict(),
        "engine": engine_settings,
    }
    runs = [
        play_engine(
            engine, net, name, options, precision=precision, device=dev, progress=progress, manifest=manifest,
            recipe={"spec": spec, "game": game, "simulations": simulations, "seed": seed},
        )
        for name in strategies
    ]
    add_comparisons(runs)
    for run in runs:
        run.summary["torch_threads"] = choice.threads
        run.summary["threads_reason"] = choice.reason
        run.summary.update(cpu_side_cap(run.summary))
    if out_path is not None:
        where, _, factory = spec.rpartition(":")
        label = Path(where).stem if where.endswith(".py") else factory or spec
        for run in runs:
            run.save(run_dir_for(out_path, f"{label}-{run.manifest['strategy']}", p.name if own is None else "user"))
    return runs
