"""perfkit: measure and remove the inference bottleneck of AlphaZero-style self-play."""

from perfkit.analysis.curve import Curve, load_curve, measure_curve
from perfkit.analysis.projection import project, replay, seed_calibration
from perfkit.batching.greenlets import GreenletServer
from perfkit.batching.server import BatchServer
from perfkit.bench import BenchSettings, Workload, __version__, bench, recorder_overhead, run_strategy
from perfkit.engines import EngineOptions, make_engine, play_engine
from perfkit.engines.bench import bench_engine
from perfkit.game import Positions, from_moves, play
from perfkit.instrument import GpuSampler, Recorder, Run, load_run
from perfkit.instrument.trace import Tracer, trace
from perfkit.model import Evaluator, HexNet, build_model, load_checkpoint, save_checkpoint
from perfkit.search import search
from perfkit.selfplay import SelfplaySettings, load_selfplay, selfplay
from perfkit.strategies import STRATEGIES, CrossGameOptions, Engine, make_strategy
from perfkit.types import PRESETS, GameRecord, MoveRecord, PerfkitError, SearchConfig, get_preset

__all__ = [
    "__version__",
    "PRESETS",
    "STRATEGIES",
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
    "MoveRecord",
    "PerfkitError",
    "Positions",
    "Recorder",
    "Run",
    "SearchConfig",
    "SelfplaySettings",
    "Tracer",
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


def load_ipython_extension(ipython) -> None:
    """`%load_ext perfkit`: the `%%perfkit NET` cell magic traces the network calls of a cell."""
    from perfkit.report.magic import load_ipython_extension as load

    load(ipython)
