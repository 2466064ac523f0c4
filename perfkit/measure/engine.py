"""`perfkit bench --engine ...`: an engine perfkit did not write, measured like the built-in one."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from perfkit.analysis.bottleneck import cpu_side_cap
from perfkit.devices.threads import choose_threads, thread_probe
from perfkit.engines import make_engine
from perfkit.engines.run import ENGINE_STRATEGIES, EngineOptions, GamesFailed, engine_settings, play_engine
from perfkit.instrument.run import Run
from perfkit.model.evaluator import resolve_device, resolve_precision
from perfkit.model.net import build_game_model
from perfkit.types import PerfkitError, get_preset


def _batch1_call(net: torch.nn.Module, obs_shape, dtype) -> Callable[[], object]:
    """One batch-1 forward of `net` on an empty observation [1, *obs_shape] (what `thread_probe` times)."""
    x = torch.zeros((1, *obs_shape), dtype=dtype)

    @torch.inference_mode()
    def call() -> object:
        return net(x)

    return call


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
    from perfkit.measure.bench import add_comparisons, check_writable, run_dir_for

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
    settings = engine_settings(engine, spec, game)
    own = getattr(engine, "network", None)
    try:
        net = (
            engine_network(engine, spec, precision=precision, device=dev) if own is not None
            else build_game_model(engine.obs_shape, engine.actions, preset=p, seed=seed).to(device=dev, dtype=dtype)
        )
    except (RuntimeError, MemoryError) as exc:  # an allocation too large for this machine
        raise PerfkitError(
            f"cannot build the {p.name} network for engine {spec!r} (observations {list(engine.obs_shape)}, "
            f"{engine.actions:,} actions): {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        ) from None
    choice = choose_threads(device_type=dev.type, requested=threads, probe=thread_probe(_batch1_call(net, engine.obs_shape, dtype)))
    torch.set_num_threads(choice.threads)
    out_path = Path(out) if out is not None else None
    made_out = out_path is not None and not out_path.exists()
    if out_path is not None:
        check_writable(out_path)
    manifest = {
        "settings": {"preset": p.name if own is None else "user", "precision": precision, "seed": seed,
                     "device": device, "threads": threads, **settings, "engine": spec},
        "network": {"name": type(net).__name__, "board": "x".join(map(str, engine.obs_shape[1:])),
                    "blocks": p.blocks if own is None else None, "channels": p.channels if own is None else None,
                    "obs_shape": list(engine.obs_shape), "actions": engine.actions, "own": own is not None,
                    "parameters": _parameters(net)},
        "threads": choice.to_dict(),
        "engine": settings,
    }
    runs: list[Run] = []
    failed: GamesFailed | None = None
    for name in strategies:
        try:
            runs.append(play_engine(
                engine, net, name, options, precision=precision, device=dev, progress=progress, manifest=manifest,
                recipe={"spec": spec, "game": game, "simulations": simulations, "seed": seed},
            ))
        except GamesFailed as exc:  # the run stops here; what finished is kept
            failed = exc
            break
    add_comparisons(runs)  # between complete runs only: a partial one played other games
    kept = runs + ([failed.run] if failed is not None and len(failed.run.games) else [])
    for run in kept:
        run.summary["torch_threads"] = choice.threads
        run.summary["threads_reason"] = choice.reason
        run.summary.update(cpu_side_cap(run.summary))
    if out_path is not None:
        where, _, factory = spec.rpartition(":")
        label = Path(where).stem if where.endswith(".py") else factory or spec
        for run in kept:
            run.save(run_dir_for(out_path, f"{label}-{run.manifest['strategy']}", p.name if own is None else "user"))
    if failed is not None:
        if made_out and not kept and out_path is not None:
            out_path.rmdir()  # nothing finished: leave nothing behind
        raise GamesFailed(
            failed.run, failed.failures, failed.games, timed_out=failed.timed_out, kept_in=failed.run.path,
        ) from None
    return runs
