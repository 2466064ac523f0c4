"""The policy/value network (SPEC §1.2): a residual conv net, seeded weights, checkpoints.

A user's own model plugs in if it is a `torch.nn.Module` whose forward takes planes
`[B, 3, N, N]` (player-1 stones, player-2 stones, ones when player 1 is to move) and returns
`(logits [B, N*N], value [B] or [B, 1])`, the value in [-1, 1] for the player to move.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch import nn

from perfkit.game import get_game
from perfkit.types import DEFAULT_GAME, PRESETS, Game, PerfkitError, Preset, get_preset

CHECKPOINT_FORMAT = "perfkit-checkpoint-v1"


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class ResNet(nn.Module):
    """AlphaZero-style residual network for any board game: planes `[B, *obs_shape]` ->
    `(logits [B, actions], value [B])`, the value in [-1, 1] for the side to move.

    Stem, B residual blocks of C channels, a policy head and a value head; `obs_shape` is
    `(planes, rows, cols)`, as OpenSpiel's observation tensors of board games are.
    """

    def __init__(self, obs_shape: tuple[int, int, int], actions: int, blocks: int, channels: int) -> None:
        super().__init__()
        planes, rows, cols = obs_shape
        self.obs_shape, self.actions = (int(planes), int(rows), int(cols)), int(actions)
        self.game: str | None = None  # the game it plays, where known (checkpoints record it)
        self.board: int | None = None  # the game's board size where the game is sized by one (Hex)
        self.blocks, self.channels = blocks, channels
        cells = rows * cols
        self.stem = nn.Sequential(
            nn.Conv2d(planes, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()
        )
        self.trunk = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.policy_head = nn.Sequential(
            nn.Conv2d(channels, 2, 1, bias=False), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
            nn.Linear(2 * cells, actions),
        )
        self.value_head = nn.Sequential(
            nn.Conv2d(channels, 1, 1, bias=False), nn.BatchNorm2d(1), nn.ReLU(), nn.Flatten(),
            nn.Linear(cells, channels), nn.ReLU(), nn.Linear(channels, 1), nn.Tanh(),
        )

    def forward(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.trunk(self.stem(planes))  # [B, C, rows, cols]
        return self.policy_head(x), self.value_head(x).squeeze(1)  # [B, actions], [B]


class HexNet(ResNet):
    """The Hex network of SPEC §1.2 by its sizes: planes [B, 3, N, N] -> (logits [B, N*N], value [B]).
    perfkit builds networks from the game (`build_network`); this is the same net, by hand."""

    def __init__(self, board: int, blocks: int, channels: int) -> None:
        super().__init__((3, board, board), board * board, blocks, channels)
        self.board, self.game = board, DEFAULT_GAME


M = TypeVar("M", bound=nn.Module)


def seeded(make: Callable[[], M], seed: int) -> M:
    """`make()` with weights drawn from `seed` (no download, ever), in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = make()
        # Non-trivial batch-norm statistics, so the eval-mode affine transform is exercised.
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                assert m.running_mean is not None and m.running_var is not None  # tracked by default
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.8, 1.2)
    return model.eval()


def build_model(preset: Preset | str, *, seed: int = 0) -> ResNet:
    """The preset's network (a Preset or its name) for the presets' game, Hex on the preset's
    board, with weights drawn from `seed`."""
    if isinstance(preset, str):
        preset = get_preset(preset)
    if not isinstance(preset, Preset):
        raise PerfkitError(f"build_model takes a preset or its name ({', '.join(PRESETS)}), got {preset!r}")
    return build_network(get_game(DEFAULT_GAME, board=preset.board), preset, seed=seed)


def board_shape(obs_shape: Sequence[int]) -> tuple[int, int, int]:
    """`obs_shape` as (planes, rows, cols), or PerfkitError: perfkit's net convolves a board."""
    shape = tuple(int(d) for d in obs_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise PerfkitError(
            f"perfkit's residual net needs observations shaped [planes, rows, cols], got {list(shape)}; "
            "bring your own network for this game"
        )
    return shape[0], shape[1], shape[2]


def build_game_model(
    obs_shape: Sequence[int], actions: int, *, preset: Preset | str = "small", seed: int = 0, game: str | None = None
) -> ResNet:
    """A residual net for a game's observation shape and action count, with the preset's
    blocks and channels (its board size is the game's), weights drawn from `seed`; `game`
    names the game it plays (checkpoints record it)."""
    if isinstance(preset, str):
        preset = get_preset(preset)
    shape = board_shape(obs_shape)
    model = seeded(lambda: ResNet(shape, actions, preset.blocks, preset.channels), seed)
    model.game = game
    return model


def build_network(game: Game, preset: Preset, *, seed: int = 0) -> ResNet:
    """The preset's residual net (its blocks and channels) for the network input `game` describes:
    planes `[B, *game.obs_shape]` -> (logits `[B, game.actions]`, value `[B]`), weights from `seed`."""
    model = build_game_model(game.obs_shape, game.actions, preset=preset, seed=seed, game=game.name)
    model.board = game.describe().get("board")
    return model


def save_checkpoint(model: ResNet, path: str | os.PathLike[str]) -> None:
    """Write `model`'s weights, sizes and game to `path` (loadable by `load_checkpoint`)."""
    if not isinstance(model, ResNet):
        raise PerfkitError(f"save_checkpoint takes a perfkit network (HexNet or ResNet), got {type(model).__name__}")
    try:
        _save(model, path)
    except (OSError, RuntimeError) as exc:  # torch's file writer raises RuntimeError for unwritable paths
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip().splitlines()[0]
        raise PerfkitError(f"cannot write checkpoint {path}: {reason}") from None


def _save(model: ResNet, path: str | os.PathLike[str]) -> None:
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "game": model.game,
            "board": model.board,
            "obs_shape": list(model.obs_shape),
            "actions": model.actions,
            "blocks": model.blocks,
            "channels": model.channels,
            "state_dict": model.state_dict(),
        },
        path,
    )


def load_checkpoint(path: str | os.PathLike[str], preset: Preset, *, game: Game | None = None) -> ResNet:
    """The network stored at `path`, checked against `preset` and `game` (default: the presets'
    game, Hex on the preset's board); PerfkitError if it can't be used."""
    if isinstance(path, (str, os.PathLike)) and os.path.isdir(path):
        raise PerfkitError(f"checkpoint {path} is a directory; give the checkpoint file written by perfkit.save_checkpoint")
    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise PerfkitError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # torch warns about odd bytes before failing on them
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # arbitrary bytes make the unpickler fail in arbitrary ways (IndexError, ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if first.startswith("Weights only load failed"):  # torch's advice to load it unsafely: not for us
            raise PerfkitError(
                f"cannot read checkpoint {path}: not a perfkit checkpoint (not plain tensors and data); "
                "write one with perfkit.save_checkpoint(model, path)"
            ) from None
        raise PerfkitError(f"cannot read checkpoint {path}: not a valid PyTorch file ({first})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise PerfkitError(
            f"{path} is not a perfkit checkpoint; write one with perfkit.save_checkpoint(model, path)"
        )
    game = game if game is not None else get_game(DEFAULT_GAME, board=preset.board)
    stored = data.get("game", DEFAULT_GAME)  # checkpoints before games were recorded are Hex networks
    if stored != game.name:
        raise PerfkitError(f"checkpoint {path} is a network for {stored}, not {game.name}; pass --game {stored}")
    check_checkpoint_sizes(path, data, preset, game)
    model = ResNet(board_shape(game.obs_shape), game.actions, int(data.get("blocks") or 0), int(data.get("channels") or 0))
    model.game, model.board = game.name, game.describe().get("board")
    try:
        model.load_state_dict(data["state_dict"])
    except (RuntimeError, KeyError, TypeError) as exc:
        raise PerfkitError(f"checkpoint {path} has weights that do not fit its sizes: {str(exc).splitlines()[0]}") from None
    return model.eval()


def check_checkpoint_sizes(path: str | os.PathLike[str], data: dict[str, Any], preset: Preset, game: Game) -> None:
    """PerfkitError unless the stored network takes `game`'s input: a game sized by a board (Hex)
    on the preset's board, blocks and channels; any other game its observation shape and actions."""
    if "board" in game.describe():  # sized by the preset's board
        sizes = (data.get("board"), data.get("blocks"), data.get("channels"))
        if sizes != (preset.board, preset.blocks, preset.channels):
            raise PerfkitError(
                f"checkpoint {path} is for board {sizes[0]}, {sizes[1]} blocks, {sizes[2]} channels, "
                f"but preset {preset.name!r} is board {preset.board}, {preset.blocks} blocks, "
                f"{preset.channels} channels; pass the matching "
                + ("--board" if sizes[1:] == (preset.blocks, preset.channels) else "--preset")
            )
        return
    shape, actions = tuple(data.get("obs_shape") or ()), data.get("actions")
    if shape != tuple(game.obs_shape) or actions != game.actions:
        raise PerfkitError(
            f"checkpoint {path} takes observations {list(shape)} with {actions} actions, "
            f"but {game.name} has {list(game.obs_shape)} with {game.actions}"
        )
