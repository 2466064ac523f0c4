"""perfkit: measure and remove the inference bottleneck of AlphaZero-style self-play."""

from perfkit.analysis.curve import Curve, load_curve, measure_curve
from perfkit.analysis.projection import project, replay, seed_calibration
from perfkit.bench import BenchSettings, Workload, __version__, bench, recorder_overhead, run_strategy
from perfkit.game import Positions, from_moves, play
from perfkit.instrument import GpuSampler, Recorder, Run, load_run
from perfkit.model import Evaluator, HexNet, build_model, load_checkpoint, save_checkpoint
from perfkit.search import search
from perfkit.selfplay import SelfplaySettings, load_selfplay, selfplay
from perfkit.strategies import STRATEGIES, Engine, make_strategy
from perfkit.types import PRESETS, GameRecord, MoveRecord, PerfkitError, SearchConfig, get_preset

__all__ = [
    "__version__",
    "PRESETS",
    "STRATEGIES",
    "BenchSettings",
    "Curve",
    "Engine",
    "Evaluator",
    "GameRecord",
    "GpuSampler",
    "HexNet",
    "MoveRecord",
    "PerfkitError",
    "Positions",
    "Recorder",
    "Run",
    "SearchConfig",
    "SelfplaySettings",
    "Workload",
    "bench",
    "build_model",
    "from_moves",
    "get_preset",
    "load_checkpoint",
    "load_curve",
    "load_run",
    "load_selfplay",
    "make_strategy",
    "measure_curve",
    "play",
    "project",
    "recorder_overhead",
    "replay",
    "run_strategy",
    "save_checkpoint",
    "search",
    "seed_calibration",
    "selfplay",
]
