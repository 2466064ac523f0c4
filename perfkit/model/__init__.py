"""The network, its presets and checkpoints, and the evaluator every call goes through."""

from perfkit.model.evaluator import Evaluator, encode, resolve_device, resolve_precision
from perfkit.model.net import (
    HexNet,
    ResNet,
    build_game_model,
    build_model,
    build_network,
    load_checkpoint,
    save_checkpoint,
)

__all__ = [
    "Evaluator",
    "HexNet",
    "ResNet",
    "build_game_model",
    "build_model",
    "build_network",
    "encode",
    "load_checkpoint",
    "resolve_device",
    "resolve_precision",
    "save_checkpoint",
]
