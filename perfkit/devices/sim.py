"""`--device sim[:CURVE]`: a simulated accelerator, to study the GPU regime on any machine.

Each call takes the latency its batch size has on a latency curve: a `perfkit curve` JSON
(`sim:FILE`), by default the H100-shaped curve derived on paper for the network's shape
(perfkit/data/sim_h100.json says how), or nothing at all (`sim:free`: the CPU side alone).
The device is one queue: calls serialise on a virtual clock (a call starts when the previous
one ends) and the caller waits with `time.sleep`, which releases the GIL, so CPU work on
other threads overlaps the device as it would on a GPU. The outputs come from a cheap,
deterministic stand-in network, so the games are real games; its host time is recorded as
the call's encode time (CPU side), the curve's latency as its forward time (the device).

A sim run's times are modelled, never measured: every manifest, console line, report and
chart of a sim run says `sim`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from perfkit.devices.base import Device, RunnerOutput
from perfkit.devices.nvml import GpuReader
from perfkit.types import PRESETS, Curve, CurvePoint, Game, PerfkitError, load_curve

PAPER_FILE = Path(__file__).resolve().parent.parent / "data" / "sim_h100.json"
FREE_NAME = "sim: free network"
STANDIN_RANK = 8  # the stand-in network's hidden width: cheap, yet position dependent


@lru_cache(maxsize=1)
def paper_spec() -> dict[str, Any]:
    """The shipped paper derivation (assumptions and FLOPs per board of each preset)."""
    spec: dict[str, Any] = json.loads(PAPER_FILE.read_text())
    return spec


def flops_per_board(obs_shape: tuple[int, int, int], actions: int, blocks: int, channels: int) -> int:
    """Forward FLOPs of one board through perfkit's ResNet (multiply-adds count twice; see the data file)."""
    planes, rows, cols = obs_shape
    cells, f = rows * cols, channels
    convs = 2 * cells * (9 * planes * f + blocks * 2 * 9 * f * f)
    heads = 2 * cells * 3 * f + 2 * (2 * cells * actions) + 2 * (cells * f + f)
    return convs + heads


def paper_curve(obs_shape: tuple[int, int, int], actions: int, blocks: int, channels: int) -> Curve:
    """The H100-shaped paper curve of a network shape: fixed latency + per-board compute and transfer."""
    spec = paper_spec()
    a = spec["assumptions"]
    planes, rows, cols = obs_shape
    flops = flops_per_board(obs_shape, actions, blocks, channels)
    bytes_per_board = (rows * cols + 1) + 4 * (actions + 1)
    per_board_s = flops / a["sustained_flop_per_s"] + bytes_per_board / a["link_bytes_per_s"]
    batches = [2**k for k in range(int(math.log2(a["max_batch"])) + 1)]
    points = [CurvePoint(batch=b, call_s=(a["fixed_latency_s"] + b * per_board_s,)) for b in batches]
    preset = next(
        (p.name for p in PRESETS.values() if (p.board, p.board, p.blocks, p.channels) == (rows, cols, blocks, channels)),
        f"{rows}x{cols}-b{blocks}-c{channels}",
    )
    return Curve(
        device="sim", device_name=spec["device_name"], preset=preset,
        network={"board": rows if rows == cols else f"{rows}x{cols}", "blocks": blocks, "channels": channels},
        precision=spec["precision"], points=points, stopped_by="paper curve", label=spec["label"],
        note=(
            f"{flops / 1e6:,.1f} MFLOP/board at {a['sustained_flop_per_s'] / 1e12:g} TFLOP/s sustained, "
            f"{1e3 * a['fixed_latency_s']:g} ms launch + transfer per call (assumed; see {PAPER_FILE.name})"
        ),
    )


def load_sim_curve(path: str | Path) -> Curve:
    """A curve file for `sim:FILE`, checked: batches increasing, latencies finite, >= 0, non-decreasing."""
    curve = load_curve(path)  # missing, not JSON, not a curve: one line each
    raw = json.loads(Path(path).read_text())["points"]
    try:
        batches = [float(p["batch"]) for p in raw]
        medians = [float(np.median(p["call_s"])) for p in raw]
        samples = [float(x) for p in raw for x in p["call_s"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise PerfkitError(f"curve file {path} is damaged (bad or missing {exc}); measure it again") from None
    if any(not math.isfinite(b) or b <= 0 for b in batches):
        raise PerfkitError(f"curve file {path}: batch sizes must be positive numbers, got {batches}")
    if any(not math.isfinite(s) or s < 0 for s in samples):
        raise PerfkitError(f"curve file {path}: latencies must be finite and >= 0 seconds (a negative or NaN call_s)")
    if any(b1 <= b0 for b0, b1 in zip(batches, batches[1:], strict=False)):
        raise PerfkitError(f"curve file {path}: batch sizes must increase from point to point, got {batches}")
    if any(m1 < m0 for m0, m1 in zip(medians, medians[1:], strict=False)):
        raise PerfkitError(
            f"curve file {path}: latency falls as the batch grows ({', '.join(f'{m:.3g}' for m in medians)} s); "
            "a device model needs a non-decreasing latency: smooth or re-measure the curve"
        )
    if medians[-1] <= 0:
        raise PerfkitError(f"curve file {path}: every latency is 0; use --device sim:free for a free network")
    return curve


class SimDevice(Device):
    """One simulated device queue; `curve` None is a free network (no device time at all)."""

    kind = "sim"
    simulated = True
    offloads = True

    def __init__(self, curve: Curve | None = None, *, source: str = "paper", spec: str = "sim") -> None:
        self.curve = curve  # set by runner() for the paper curve (it depends on the network's shape)
        self.source = source  # "paper", "free" or the curve file
        self.spec = spec
        self._lock = threading.Lock()
        self._free_at = 0.0  # perf_counter time the device finishes the work queued so far

    @classmethod
    def from_spec(cls, spec: str) -> SimDevice:
        rest = spec[4:] if spec.startswith("sim:") else ""
        if rest in ("", "paper", "h100"):
            return cls(source="paper", spec="sim")
        if rest == "free":
            return cls(source="free", spec="sim:free")
        return cls(load_sim_curve(rest), source=rest, spec=f"sim:{rest}")

    @property
    def torch_device(self) -> torch.device:
        return torch.device("cpu")  # the stand-in network and any model tensors stay on the host

    @property
    def name(self) -> str:
        if self.source == "paper":
            return str(paper_spec()["device_name"])
        if self.source == "free":
            return FREE_NAME
        return f"sim: {Path(self.source).stem}"

    def runner(self, model: torch.nn.Module, game: Game, dtype: torch.dtype) -> SimRunner:
        if self.source == "paper" and self.curve is None:
            net: Any = model
            while not hasattr(net, "blocks") and hasattr(net, "inner"):
                net = net.inner  # a wrapper of the network (fold.ChannelsLast): its shapes are the inner one's
            obs_shape, actions, blocks, channels = (
                getattr(net, k, None) for k in ("obs_shape", "actions", "blocks", "channels"))
            if obs_shape is None or actions is None or blocks is None or channels is None:
                raise PerfkitError(
                    "--device sim derives its paper curve from perfkit's ResNet shapes; this model has none: "
                    "give a curve, --device sim:CURVE.json"
                )
            self.curve = paper_curve(tuple(obs_shape), actions, blocks, channels)
        return SimRunner(self, game)

    def latency_s(self, batch: int) -> float:
        """Modelled device seconds of one call of `batch` boards (0 on a free network)."""
        return 0.0 if self.curve is None else float(self.curve.latency_s(batch))

    def occupy(self, seconds: float) -> None:
        """Queue `seconds` of device work behind what is queued, and sleep until it is done."""
        if seconds <= 0:
            return
        with self._lock:
            start = max(time.perf_counter(), self._free_at)
            self._free_at = done = start + seconds
        delay = done - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # releases the GIL: the CPU side goes on meanwhile

    def gpu_reader(self) -> tuple[GpuReader | None, str | None]:
        return None, "unavailable: simulated device (sim), no GPU to sample"

    def environment(self) -> dict[str, Any]:
        curve = self.curve
        return {
            **super().environment(),
            "sim_curve": None if curve is None else {
                "source": self.source, "label": curve.label, "note": curve.note,
                "peak_boards_per_s": curve.peak_boards_per_s, "best_batch": curve.best_batch,
            },
        }


class SimRunner:
    """Stand-in outputs (timed as host work), then the curve's latency on the device queue."""

    def __init__(self, device: SimDevice, game: Game) -> None:
        self.device, self.game = device, game
        rng = np.random.default_rng(0)
        width = game.compact_width + 1
        self.hidden = rng.standard_normal((width, STANDIN_RANK)).astype(np.float32) / math.sqrt(width)  # [D+1, R]
        self.policy = rng.standard_normal((STANDIN_RANK, game.actions)).astype(np.float32)  # [R, A]
        self.value = rng.standard_normal(STANDIN_RANK).astype(np.float32) / math.sqrt(STANDIN_RANK)  # [R]

    def forward(self, stones: np.ndarray, to_move: np.ndarray) -> RunnerOutput:
        t0 = time.perf_counter()
        x = np.empty((len(to_move), stones.shape[1] + 1), np.float32)  # [B, D+1]
        x[:, :-1] = stones
        x[:, -1] = to_move
        h = np.tanh(x @ self.hidden)  # [B, R]
        logits = (h @ self.policy).astype(np.float64)  # [B, A]
        values = np.tanh(h @ self.value).astype(np.float64)  # [B]
        encode_s = time.perf_counter() - t0
        forward_s = self.device.latency_s(len(to_move))
        self.device.occupy(forward_s)
        return RunnerOutput(logits, values, encode_s, None, forward_s, None)
