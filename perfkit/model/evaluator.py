"""The one place every network call goes through: device, precision, encoding and timing.

Boards travel compactly (int8 stones + side to move) and become float planes where the
model runs. How a call runs and is timed is the device's (`perfkit.devices`): on CUDA reused
pinned buffers, one stream and CUDA events; on the CPU no transfer, so the transfer times
are None ("n/a"), never an invented figure; on `sim` a modelled latency.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from perfkit.devices import Device, get_device
from perfkit.game import get_game
from perfkit.types import DEFAULT_GAME, CallRecord, Game, PerfkitError

PRECISIONS = {
    "float32": torch.float32,
    "float64": torch.float64,  # the exact mode on the CPU
    "bfloat16": torch.bfloat16,  # approximate, opt-in: its quality is measured (perfkit.analysis.quality)
    "float16": torch.float16,  # approximate, opt-in, likewise
}


def resolve_device(name: str) -> torch.device:
    """Where the model's tensors live for device `name` (see `perfkit.devices.get_device`)."""
    return get_device(name).torch_device


def resolve_precision(name: str) -> torch.dtype:
    try:
        return PRECISIONS[name]
    except KeyError:
        raise PerfkitError(f"unknown precision {name!r}; use {', '.join(PRECISIONS)}") from None


def encode(stones: torch.Tensor, to_move: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """The presets' game's input planes (Hex's [B, 3, N, N]) from stones [B, N*N] int8 and
    to_move [B] int8 (SPEC §1.2); any game encodes its own rows: `game.encode`."""
    planes: torch.Tensor = get_game(DEFAULT_GAME, board=n).encode(stones, to_move, dtype)
    return planes


class Evaluator:
    """Evaluates batches of positions with a model on a device and reports each call.

    Args:
        model: maps planes [B, *game.obs_shape] to (logits [B, game.actions], value [B]).
        n: the board size N of the presets' game (N×N Hex), where `game` is not given.
        game: the game whose compact rows the evaluator receives.
        device: where the model runs: a name (cpu, cuda:N, sim...), torch device or `perfkit.devices.Device`.
        precision: "float32" or "float64" (float64 on CPU is the exact mode).
        on_call: receives a CallRecord per call (the recorder); None records nothing.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        n: int | None = None,
        game: Game | None = None,
        device: Device | torch.device | str = "cpu",
        precision: str = "float32",
        on_call: Callable[[CallRecord], None] | None = None,
    ) -> None:
        if game is None:
            if n is None:
                raise PerfkitError("Evaluator needs a game (or n, the Hex board size)")
            game = get_game(DEFAULT_GAME, board=n)
        self.game = game
        self.n = game.describe().get("board")  # the board size N of a game sized by one (Hex), else None
        self.backend = get_device(device)
        self.device = self.backend.torch_device
        self.dtype = resolve_precision(precision)
        self.precision = precision
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self.on_call = on_call
        self.runner = self.backend.runner(self.model, game, self.dtype)

    def blank(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """`batch` all-zero compact rows, player 1 to move: input for warm-ups and probes
        (a conv net's cost does not depend on the stones).

        Returns stones [batch, D] of `game.compact_dtype` and to_move [batch] int8.
        """
        return np.zeros((batch, self.game.compact_width), self.game.compact_dtype), np.ones(batch, np.int8)

    @property
    def concurrent_calls(self) -> int:
        """Calls that may run at once (CUDA: its double-buffered slots, so copies overlap compute; the CPU:
        one per free core of a traced forward; else 1)."""
        return int(getattr(self.runner, "concurrent_calls", 1))

    @property
    def device_name(self) -> str:
        return self.backend.name

    def __call__(
        self,
        stones: np.ndarray,  # [B, D] compact rows (Hex: int8 stones [B, N*N])
        to_move: np.ndarray,  # [B] int8
        *,
        n_policy: int | None = None,
        n_value: int | None = None,
        level: int = -1,
        queue_wait_s: float | None = None,
        asked: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:  # [B, A] float64, [B] float64
        """Policy logits and values of B positions, as float64 numpy arrays.

        Args:
            stones: [B, D] compact rows of `game.compact_dtype` (Hex: int8 [B, N*N], 0 empty).
            to_move: [B] int8, 1 or 2.
            n_policy, n_value: how many of the B the search asked a policy / a value of (recorded
                with the call, so the report can say what each call was for; default B).
            level: the search level the positions come from (-1: mixed or not from a search).
            queue_wait_s: how long the positions waited for this call (None: no queue).
            asked: the boards asked of a cache in front of this evaluator, of which these B were
                not cached (recorded with the call; None: no cache).

        Returns:
            logits [B, A] float64, unmasked (A = `game.actions`), and values [B] float64 in
            [-1, 1], each for the player to move.
        """
        b = len(to_move)
        start = time.perf_counter()
        logits, values, enc, h2d, fwd, d2h = self.runner.forward(stones, to_move)
        end = time.perf_counter()
        if self.on_call is not None:
            self.on_call(
                CallRecord(
                    batch=b,
                    n_policy=b if n_policy is None else n_policy,
                    n_value=b if n_value is None else n_value,
                    level=level,
                    encode_s=enc,
                    h2d_s=h2d,
                    forward_s=fwd,
                    d2h_s=d2h,
                    queue_wait_s=queue_wait_s,
                    start_s=start,
                    end_s=end,
                    asked=asked,
                )
            )
        return logits, values
