"""The roofline: the network's FLOPs per board, and the device's arithmetic peak measured in the same run.

`perfkit curve` measures the peak of our own forward pass; this says how far that is from the
hardware's limit. FLOPs are counted from the model (`torch.utils.flop_counter.FlopCounterMode`:
convolutions and matrix multiplies, 2 FLOPs per multiply-add), so they are exact for the
network and independent of the device. The peak is a large square matrix multiply in the same
dtype on the same device: the best of two sizes, each its fastest repeat (a peak is a best case).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from perfkit.devices import get_device
from perfkit.types import Curve


def flops_per_board(model: nn.Module, obs_shape: tuple[int, ...], *, batch: int = 8, dtype: torch.dtype = torch.float32) -> float:
    """FLOPs of one board's forward pass, counted over a batch of `batch` boards on the CPU."""
    planes = torch.zeros((batch, *obs_shape), dtype=dtype)
    params = next(model.parameters(), None)
    device = params.device if params is not None else torch.device("cpu")
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        model(planes.to(device=device, dtype=params.dtype if params is not None else dtype))
    return counter.get_total_flops() / batch


def matmul_peak(
    device: torch.device, dtype: torch.dtype, *, sizes: tuple[int, ...] = (1024, 2048), repeats: int = 5
) -> dict[str, Any]:
    """The best FLOP/s of square matrix multiplies of each of `sizes` on `device` in `dtype`.

    A peak is a best case: each size's fastest of `repeats` timed calls (one warm-up each), and
    the best size. A single size's median under-reads it: on this project's CPU a 2048² median
    sat ~5% below a 1024²'s best, and a compiled network then read above "the peak".
    """
    g = torch.Generator().manual_seed(0)
    sync = get_device(device).synchronize
    best = None
    for size in sizes:
        a = torch.rand((size, size), generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
        b = torch.rand((size, size), generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
        torch.mm(a, b)
        sync()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.mm(a, b)
            sync()
            times.append(time.perf_counter() - t0)
        fastest = min(times)
        found = {"matmul_size": size, "matmul_s": fastest, "peak_flop_per_s": 2.0 * size**3 / fastest}
        if best is None or found["peak_flop_per_s"] > best["peak_flop_per_s"]:
            best = found
    assert best is not None, "sizes must not be empty"
    return best


def roofline_fields(flops: float, boards_per_s: float | None, peak_flop_per_s: float | None) -> dict[str, Any]:
    """Achieved FLOP/s at `boards_per_s` and its share of the peak (`mfu`); None where unknown."""
    achieved = None if boards_per_s is None else flops * boards_per_s
    mfu = achieved / peak_flop_per_s if achieved is not None and peak_flop_per_s else None
    return {"flops_per_board": flops, "achieved_flop_per_s": achieved, "peak_flop_per_s": peak_flop_per_s, "mfu": mfu}


def mfu_fields(boards_per_s: float, curve: Curve | None, reason: str = "") -> dict[str, Any]:
    """`mfu` of a self-play run: boards/s × the curve's FLOPs per board ÷ the curve's matmul peak.

    The roofline is the one `perfkit curve` measured and stored in the curve file (same device,
    network and precision as the run); without one, `mfu` is None and `mfu_status` says why.
    """
    if curve is None:
        return {"mfu": None, "mfu_status": reason or "no curve"}
    roof = getattr(curve, "roofline", None) or {}
    flops, peak = roof.get("flops_per_board"), roof.get("peak_flop_per_s")
    if not flops or not peak:
        where = f" {curve.path}" if curve.path else ""
        return {"mfu": None, "mfu_status": (
            f"the curve{where} has no roofline (made before perfkit curve measured one); measure it again with perfkit curve"
        )}
    mfu = float(boards_per_s * flops / peak)
    status = (
        f"{boards_per_s * flops / 1e9:,.2f} GFLOP/s ({flops / 1e6:,.2f} MFLOP/board) of a "
        f"{roof.get('matmul_size', '?')}² matmul's {peak / 1e9:,.1f} GFLOP/s, from the curve"
        + (f" {curve.path}" if curve.path else "")
    )
    if mfu > 1.05:  # a run cannot beat the hardware's peak: the two saw different machine load
        status += "; above 1: the curve's matmul peak and this run met different machine load - measure both again, together"
    return {"mfu": mfu, "mfu_status": status}
