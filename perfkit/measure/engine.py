"""`perfkit bench --engine ...`: an engine perfkit did not write, measured like the built-in one."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from perfkit.analysis.bottleneck import cpu_side_cap
from perfkit.devices.threads import ThreadChoice, choose_threads, thread_probe
from perfkit.instrument.run import Run
from perfkit.measure.bench import add_comparisons, check_writable, run_dir_for
from perfkit.model.evaluator import resolve_device, resolve_precision
from perfkit.model.net import build_game_model
from perfkit.search.engines import make_engine
from perfkit.search.engines.run import ENGINE_STRATEGIES, GamesFailed, engine_settings, play_engine
from perfkit.strategies import EngineOptions
from perfkit.types import PerfkitError, Preset, get_preset


def _batch1_call(net: Callable[..., Any], obs_shape: Sequence[int], dtype: torch.dtype) -> Callable[[], object]:
    """One batch-1 forward of `net` on an empty observation [1, *obs_shape] (what `thread_probe` times)."""
    x = torch.zeros((1, *obs_shape), dtype=dtype)

    @torch.inference_mode()
    def call() -> object:
        return net(x)

    return call


def _parameters(net: object) -> int | None:
    return int(sum(t.numel() for t in net.parameters())) if isinstance(net, torch.nn.Module) else None


def engine_network(engine: Any, spec: str, *, precision: str, device: torch.device) -> Callable[..., Any]:
    """The engine's own `network` (a torch module or a batch callable), checked on a batch of two
    observations before any game: a network that does not fit the engine is one PerfkitError."""
    from perfkit.instrument.trace import Tracer

    net = engine.network
    if not callable(net):
        raise PerfkitError(f"engine {spec!r}: its network must be a torch.nn.Module or a callable, got {type(net).__name__}")
    probe = Tracer(net, name="probe", actions=engine.actions, precision=precision, device=device, sample_gpu=False,
                   gil_free=False)  # one call to check the shapes: nothing to trace for
    try:
        probe.evaluate(np.zeros((2, *engine.obs_shape), np.float32))
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PerfkitError(
            f"engine {spec!r}: its own network does not fit its observations {list(engine.obs_shape)} "
            f"and {engine.actions} actions: {text}"
        ) from None
    # A module in this precision on this device (a copy where the engine's differs: its own stays as it is).
    return probe.module if isinstance(net, torch.nn.Module) and probe.module is not None else net


def check_engine_request(strategies: list[str], device: str) -> None:
    """PerfkitError for strategies an engine's search cannot play, or a device it cannot run on."""
    if not strategies or any(s not in ENGINE_STRATEGIES for s in strategies):
        raise PerfkitError(
            f"an engine's own search is played by {' or '.join(ENGINE_STRATEGIES)} (or all), got {strategies!r}"
        )
    if isinstance(device, str) and (device == "sim" or device.startswith("sim:")):
        raise PerfkitError(
            "--device sim simulates perfkit's own network calls; an engine's network runs for real: "
            "use --device cpu, cuda or auto"
        )


@dataclass
class EngineSetup:
    """An engine ready to play: it, its network (its own or perfkit's), the threads chosen and the manifest."""

    spec: str
    engine: Any
    net: Callable[..., Any]
    own: bool  # the engine brought its own network
    preset: Preset  # perfkit's network's shape (unused where the engine brought its own)
    precision: str
    device: torch.device
    choice: ThreadChoice
    manifest: dict[str, Any]
    recipe: dict[str, Any]  # make_engine's keywords: worker processes rebuild the engine from it

    @property
    def label(self) -> str:
        """A run directory's name for the engine: the file's stem, or the factory's name."""
        where, _, factory = self.spec.rpartition(":")
        return Path(where).stem if where.endswith(".py") else factory or self.spec

    @property
    def preset_label(self) -> str:
        return "user" if self.own else self.preset.name


def prepare_engine(
    spec: str, *, game: str, simulations: int, preset: str, seed: int, precision: str, device: str,
    threads: int | None,
) -> EngineSetup:
    """Make engine `spec` for `game` and its network, and choose torch's threads (PerfkitError on bad input).

    The network is the engine's own where it has one (a `network` attribute: a torch module
    or a callable taking a batch `[B, *obs_shape]`), else perfkit's residual net built for the
    game's shapes with the preset's blocks and channels, weights drawn from `seed`.
    """
    p = get_preset(preset)
    dtype = resolve_precision(precision)
    dev = resolve_device(device)
    engine = make_engine(spec, game=game, simulations=simulations, seed=seed)
    settings = engine_settings(engine, spec, game)
    own = getattr(engine, "network", None) is not None
    net = _network_of(engine, spec, own=own, preset=p, seed=seed, precision=precision, device=dev, dtype=dtype)
    choice = choose_threads(device_type=dev.type, requested=threads, probe=thread_probe(_batch1_call(net, engine.obs_shape, dtype)))
    torch.set_num_threads(choice.threads)
    manifest = {
        "settings": {"preset": "user" if own else p.name, "precision": precision, "seed": seed,
                     "device": device, "threads": threads, **settings, "engine": spec},
        "network": {"name": _name_of(net), "board": "x".join(map(str, engine.obs_shape[1:])),
                    "blocks": None if own else p.blocks, "channels": None if own else p.channels,
                    "obs_shape": list(engine.obs_shape), "actions": engine.actions, "own": own,
                    "parameters": _parameters(net)},
        "threads": choice.to_dict(),
        "engine": settings,
    }
    setup = EngineSetup(
        spec=spec, engine=engine, net=net, own=own, preset=p, precision=precision, device=dev, choice=choice,
        manifest=manifest, recipe={"spec": spec, "game": game, "simulations": simulations, "seed": seed},
    )
    from perfkit.measure.engine_curve import network_identity

    manifest["network"]["curve_key"] = network_identity(setup)["game"]  # the curve that is this network's limit
    return setup


def _name_of(net: object) -> str:
    """A network's name for the manifest: a function's own name, else its class's."""
    if isinstance(net, torch.nn.Module):
        return type(net).__name__
    return str(getattr(net, "__name__", None) or type(net).__name__)


def _network_of(
    engine: Any, spec: str, *, own: bool, preset: Preset, seed: int, precision: str, device: torch.device,
    dtype: torch.dtype,
) -> Callable[..., Any]:
    """The engine's own network (checked), or perfkit's residual net for its shapes; PerfkitError if neither can be had."""
    try:
        if own:
            return engine_network(engine, spec, precision=precision, device=device)
        return build_game_model(engine.obs_shape, engine.actions, preset=preset, seed=seed).to(device=device, dtype=dtype)
    except (RuntimeError, MemoryError) as exc:  # an allocation too large for this machine
        raise PerfkitError(
            f"cannot build the {preset.name} network for engine {spec!r} (observations {list(engine.obs_shape)}, "
            f"{engine.actions:,} actions): {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}"
        ) from None


@dataclass(frozen=True)
class EngineRun:
    """What an engine run plays, whatever measures it (`bench_engine`, `profile_engine`, `--tune`):
    the engine, its game, its search's size, the strategy options and the network's settings."""

    spec: str  # "openspiel-mcts", FILE.py:FACTORY or MODULE:FACTORY
    game: str = "connect_four"  # passed to the engine's factory
    simulations: int = 50  # passed to the engine's factory
    options: EngineOptions = field(default_factory=EngineOptions)  # games, concurrency, scheduler, cache, workers...
    preset: str = "small"  # perfkit's network's blocks and channels (unused where the engine brings its own)
    seed: int = 0  # the engine's factory and perfkit's network's weights
    precision: str = "float32"
    device: str = "auto"
    threads: int | None = None  # torch's CPU threads (None: chosen, see perfkit.devices.threads)

    @classmethod
    def of(cls, engine: str | EngineRun, **settings: Any) -> EngineRun:
        """`engine` as an EngineRun: one already, or a spec with these settings (PerfkitError on an unknown one)."""
        if isinstance(engine, EngineRun):
            return dataclasses.replace(engine, **settings) if settings else engine
        unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise PerfkitError(f"unknown engine run setting{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
        return cls(engine, **{k: v for k, v in settings.items() if not (k == "options" and v is None)})  # None: defaults

    def prepare(self) -> EngineSetup:
        """The engine made, its network and threads chosen (`prepare_engine`)."""
        return prepare_engine(self.spec, game=self.game, simulations=self.simulations, preset=self.preset, seed=self.seed,
                              precision=self.precision, device=self.device, threads=self.threads)


def bench_engine(
    engine: str | EngineRun,
    strategies: list[str],
    *,
    out: str | os.PathLike[str] | None = "runs",
    progress: bool = True,
    curves: str | os.PathLike[str] | None = None,
    **settings: Any,
) -> list[Run]:
    """Play the games of `engine` (an EngineRun, or a spec and `settings`: EngineRun's fields) with
    each strategy; saves each run under `out`.

    Every check (strategies, device, preset, engine, output) runs before the first game, in
    the order a user's typo is most likely, so nothing is written on bad input. The network is
    `prepare_engine`'s. Efficiency divides by the saved curve of that network on this device
    (in `curves`, default OUT/curves: `perfkit curve --engine SPEC` makes it).
    """
    what = EngineRun.of(engine, **settings)
    check_engine_request(strategies, what.device)
    setup = what.prepare()
    out_path = Path(out) if out is not None else None
    made_out = out_path is not None and not out_path.exists()
    if out_path is not None:
        check_writable(out_path)
    runs, failed = play_strategies(setup, strategies, what.options, progress=progress)
    kept = runs + ([failed.run] if failed is not None and len(failed.run.games) else [])
    curves_dir = Path(curves) if curves is not None else (out_path / "curves" if out_path is not None else None)
    finish_engine_runs(setup, kept, curves_dir)
    if out_path is not None:
        for run in kept:
            run.save(run_dir_for(out_path, f"{setup.label}-{run.manifest['strategy']}", setup.preset_label))
    if failed is not None:
        if made_out and not kept and out_path is not None:
            out_path.rmdir()  # nothing finished: leave nothing behind
        raise GamesFailed(
            failed.run, failed.failures, failed.games, timed_out=failed.timed_out, kept_in=failed.run.path,
        ) from None
    return runs


def play_strategies(
    setup: EngineSetup, strategies: list[str], options: EngineOptions, *, progress: bool = False, engine: Any = None,
) -> tuple[list[Run], GamesFailed | None]:
    """Play each strategy's games in turn (with `engine`, default the setup's); a run whose games
    failed stops the rest and is returned apart. Speed-ups vs naive are set between complete runs."""
    runs: list[Run] = []
    failed: GamesFailed | None = None
    for name in strategies:
        try:
            runs.append(play_engine(
                engine if engine is not None else setup.engine, setup.net, name, options, precision=setup.precision,
                device=setup.device, progress=progress, manifest=setup.manifest, recipe=setup.recipe,
            ))
        except GamesFailed as exc:  # the run stops here; what finished is kept
            failed = exc
            break
    add_comparisons(runs)  # between complete runs only: a partial one played other games
    return runs, failed


def finish_engine_runs(setup: EngineSetup, runs: list[Run], curves_dir: Path | None) -> None:
    """Each run's threads, Amdahl's bound and efficiency (against the network's curve in `curves_dir`)."""
    from perfkit.measure.engine_curve import engine_efficiency

    for run in runs:
        run.summary["torch_threads"] = setup.choice.threads
        run.summary["threads_reason"] = setup.choice.reason
        run.summary.update(cpu_side_cap(run.summary))
        run.summary.update(engine_efficiency(setup, run, curves_dir))
