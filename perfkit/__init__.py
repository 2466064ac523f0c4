"""perfkit: measure and remove the inference bottleneck of AlphaZero-style self-play."""

from perfkit.bench import BenchSettings, Workload, bench, run_strategy
from perfkit.game import Positions, from_moves, play
from perfkit.instrument import GpuSampler, Recorder, Run, load_run
from perfkit.model import Evaluator, HexNet, build_model, load_checkpoint, save_checkpoint
from perfkit.search import search
from perfkit.strategies import STRATEGIES, Engine, make_strategy
from perfkit.types import PRESETS, GameRecord, MoveRecord, PerfkitError, SearchConfig, get_preset

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "STRATEGIES",
    "BenchSettings",
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
    "Workload",
    "bench",
    "build_model",
    "from_moves",
    "get_preset",
    "load_checkpoint",
    "load_run",
    "make_strategy",
    "play",
    "run_strategy",
    "save_checkpoint",
    "search",
]
