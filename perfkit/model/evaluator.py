"""The one place every network call goes through: device, precision, encoding and timing.

Boards travel compactly (int8 stones + side to move) and become float planes where the
model runs. On CUDA the copies go through reused pinned buffers with non-blocking copies on
one stream, and each phase is timed with CUDA events on that stream; on the CPU there is no
transfer, so the transfer times are None ("n/a"), never an invented figure.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from perfkit.types import CallRecord, PerfkitError

PRECISIONS = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(name: str) -> torch.device:
    """`auto`, `cpu`, `cuda` or `cuda:N` as a torch device; PerfkitError if it isn't there."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise PerfkitError(
                f"--device {name} asked for, but CUDA is not available on this machine "
                "(torch.cuda.is_available() is False); use --device cpu or auto"
            )
        index = int(name[5:]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise PerfkitError(
                f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) visible"
            )
        return torch.device("cuda", index)
    raise PerfkitError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")


def resolve_precision(name: str) -> torch.dtype:
    try:
        return PRECISIONS[name]
    except KeyError:
        raise PerfkitError(f"unknown precision {name!r}; use {' or '.join(PRECISIONS)}") from None


def encode(stones: torch.Tensor, to_move: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """Hex input planes [B, 3, N, N] from stones [B, N*N] int8 and to_move [B] int8 (SPEC §1.2)."""
    from perfkit.game.hex import HexGame

    return HexGame(n).encode(stones, to_move, dtype)


class Evaluator:
    """Evaluates batches of positions with a model on a device and reports each call.

    Args:
        model: maps planes [B, *game.obs_shape] to (logits [B, game.actions], value [B]).
        n: the Hex board size, where `game` is not given.
        game: the game whose compact rows the evaluator receives (default: N×N Hex).
        device: where the model runs.
        precision: "float32" or "float64" (float64 on CPU is the exact mode).
        on_call: receives a CallRecord per call (the recorder); None records nothing.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        n: int | None = None,
        game=None,
        device: torch.device | str = "cpu",
        precision: str = "float32",
        on_call: Callable[[CallRecord], None] | None = None,
    ) -> None:
        if game is None:
            from perfkit.game.hex import HexGame

            if n is None:
                raise PerfkitError("Evaluator needs a game (or n, the Hex board size)")
            game = HexGame(n)
        self.game = game
        self.n = getattr(game, "n", None)  # the Hex board size (None for other games)
        self.device = torch.device(device)
        self.dtype = resolve_precision(precision)
        self.precision = precision
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self.on_call = on_call
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            self.stream = torch.cuda.Stream(self.device)
            # The weights were copied on the default stream: the work stream must see them.
            self.stream.wait_stream(torch.cuda.current_stream(self.device))
            row_dtype = torch.from_numpy(np.empty(0, self.game.compact_dtype)).dtype  # int8 for Hex
            self._pinned_in = torch.empty(0, dtype=row_dtype).pin_memory()
            self._pinned_logits = torch.empty(0, dtype=self.dtype).pin_memory()
            self._pinned_values = torch.empty(0, dtype=self.dtype).pin_memory()

    def blank(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """`batch` all-zero compact rows, player 1 to move: input for warm-ups and probes
        (a conv net's cost does not depend on the stones)."""
        return np.zeros((batch, self.game.compact_width), self.game.compact_dtype), np.ones(batch, np.int8)

    @property
    def device_name(self) -> str:
        if self.cuda:
            return torch.cuda.get_device_name(self.device)
        return "cpu"

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

        `asked`: the boards asked of a cache in front of this evaluator, of which these B were
        not cached (recorded with the call; None: no cache).
        """
        b = len(to_move)
        start = time.perf_counter()
        if self.cuda:
            logits, values, enc, h2d, fwd, d2h = self._cuda_forward(stones, to_move)
        else:
            logits, values, enc, fwd = self._cpu_forward(stones, to_move)
            h2d = d2h = None
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

    @torch.inference_mode()
    def _cpu_forward(self, stones, to_move):
        t0 = time.perf_counter()
        planes = self.game.encode(torch.from_numpy(stones), torch.from_numpy(to_move), self.dtype)
        t1 = time.perf_counter()
        logits, values = self.model(planes)
        logits = logits.reshape(len(to_move), -1).to(torch.float64).numpy()
        values = values.reshape(-1).to(torch.float64).numpy()
        t2 = time.perf_counter()
        return logits, values, t1 - t0, t2 - t1

    def _grow(self, buf: torch.Tensor, size: int) -> torch.Tensor:
        if buf.numel() >= size:
            return buf
        return torch.empty(max(size, 2 * buf.numel()), dtype=buf.dtype).pin_memory()

    @torch.inference_mode()
    def _cuda_forward(self, stones, to_move):
        b, cells = stones.shape  # cells: the compact row's width
        actions = self.game.actions
        t0 = time.perf_counter()
        self._pinned_in = self._grow(self._pinned_in, b * (cells + 1))
        host = self._pinned_in[: b * (cells + 1)].view(b, cells + 1)
        host.numpy()[:, :cells] = stones
        host.numpy()[:, cells] = to_move
        self._pinned_logits = self._grow(self._pinned_logits, b * actions)
        self._pinned_values = self._grow(self._pinned_values, b)
        host_prep_s = time.perf_counter() - t0
        ev = [torch.cuda.Event(enable_timing=True) for _ in range(5)]
        with torch.cuda.stream(self.stream):
            ev[0].record()
            dev = host.to(self.device, non_blocking=True)
            ev[1].record()
            planes = self.game.encode(dev[:, :cells], dev[:, cells].to(torch.int8), self.dtype)
            ev[2].record()
            logits, values = self.model(planes)
            ev[3].record()
            out_logits = self._pinned_logits[: b * actions].view(b, actions)
            out_values = self._pinned_values[:b]
            out_logits.copy_(logits.reshape(b, actions), non_blocking=True)
            out_values.copy_(values.reshape(b), non_blocking=True)
            ev[4].record()
        ev[4].synchronize()
        ms = [ev[i].elapsed_time(ev[i + 1]) / 1e3 for i in range(4)]
        return (
            out_logits.numpy().astype(np.float64),
            out_values.numpy().astype(np.float64),
            host_prep_s + ms[1],
            ms[0],
            ms[2],
            ms[3],
        )
