"""perfkit: measure and remove the inference bottleneck of AlphaZero-style self-play.

The names below are imported when first used (PEP 562), not with the package: `perfkit` on
the command line then starts without torch, so its own handler sees a Ctrl-C during torch's
import (exit 130, one line) instead of a traceback before `main` runs.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__version__ = "0.1.0"  # pyproject.toml's version says the same

# Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys(('Curve', 'load_curve', 'measure_curve'), "perfkit.analysis.curve"),
    **dict.fromkeys(('project', 'replay', 'seed_calibration'), "perfkit.analysis.projection"),
    **dict.fromkeys(('BatchServer',), "perfkit.batching.server"),
    **dict.fromkeys(('GreenletServer',), "perfkit.batching.greenlets"),
    **dict.fromkeys(('BenchSettings', 'Workload', 'bench', 'recorder_overhead', 'run_strategy'), "perfkit.measure.bench"),
    **dict.fromkeys(('EngineOptions', 'make_engine', 'play_engine'), "perfkit.search.engines"),
    **dict.fromkeys(('bench_engine',), "perfkit.measure.engine"),
    **dict.fromkeys(('Positions', 'from_moves', 'play'), "perfkit.game"),
    **dict.fromkeys(('GpuSampler', 'Recorder', 'Run', 'load_run'), "perfkit.instrument"),
    **dict.fromkeys(('Tracer', 'trace'), "perfkit.instrument.trace"),
    **dict.fromkeys(('Evaluator', 'HexNet', 'build_model', 'load_checkpoint', 'save_checkpoint'), "perfkit.model"),
    **dict.fromkeys(('MCTSConfig', 'search'), "perfkit.search"),
    **dict.fromkeys(('SelfplaySettings', 'load_selfplay', 'selfplay'), "perfkit.selfplay"),
    **dict.fromkeys(('STRATEGIES', 'Agent', 'CrossGameOptions', 'Engine', 'make_strategy'), "perfkit.strategies"),
    **dict.fromkeys(('PRESETS', 'GameRecord', 'MoveRecord', 'PerfkitError', 'RunSummary', 'SearchConfig', 'UserEngine',
                     'get_preset'), "perfkit.types"),
}

__all__ = [
    "__version__",
    "PRESETS",
    "STRATEGIES",
    "Agent",
    "BatchServer",
    "BenchSettings",
    "CrossGameOptions",
    "Curve",
    "Engine",
    "EngineOptions",
    "Evaluator",
    "GameRecord",
    "GpuSampler",
    "GreenletServer",
    "HexNet",
    "MCTSConfig",
    "MoveRecord",
    "PerfkitError",
    "Positions",
    "Recorder",
    "Run",
    "RunSummary",
    "SearchConfig",
    "SelfplaySettings",
    "Tracer",
    "UserEngine",
    "Workload",
    "bench",
    "bench_engine",
    "build_model",
    "from_moves",
    "get_preset",
    "load_checkpoint",
    "load_curve",
    "load_run",
    "load_selfplay",
    "make_engine",
    "make_strategy",
    "measure_curve",
    "play",
    "play_engine",
    "project",
    "recorder_overhead",
    "replay",
    "run_strategy",
    "save_checkpoint",
    "search",
    "seed_calibration",
    "selfplay",
    "trace",
]


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """`%load_ext perfkit`: the `%%perfkit NET` cell magic traces the network calls of a cell."""
    from perfkit.report.magic import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:  # a function, a class or a module, whichever `name` is
    """A public name, or a subpackage (`perfkit.strategies`), imported on first use."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    if not name.startswith("__"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package, whose public functions keep their names against the submodules named alike
    (`perfkit.bench`, `.selfplay`, `.search`): importing such a submodule binds it on the package,
    which an eager `from perfkit.bench import bench` (when `perfkit.bench` was a module) used to overwrite with the function."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
