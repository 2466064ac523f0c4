"""A network's forward pass as one TorchScript graph, run without Python's GIL.

An eager forward returns to Python between operators, and each return must win the GIL
back. While another Python thread is busy (a search, a game's engine) the forward waits up
to the interpreter's switch interval (5 ms) at every operator: a 4-block net that makes
11,000 boards/s alone made ~800 beside one busy thread here. A traced graph runs every
operator in C++ with the GIL released, so it keeps ~its own speed beside busy threads
(measured: `data/results/2026-12-02-gil/`).

The trace records the same operators on the same weights, so its outputs are bit-identical
to the eager module's; `without_gil` checks that on two batch sizes before it is used and
keeps the eager module otherwise (a forward with Python control flow on values, a module
TorchScript cannot trace), saying why in `GilFree.eager_reason`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

Forward = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]



class GilFree:
    """`model`'s forward, traced where that is exact (`traced`), else the eager module itself."""

    def __init__(self, model: torch.nn.Module, forward: Forward, eager_reason: str | None) -> None:
        self.model, self.forward, self.eager_reason = model, forward, eager_reason

    @property
    def traced(self) -> bool:
        return self.eager_reason is None

    def __call__(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward(planes)


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return False


@torch.inference_mode()
def without_gil(model: torch.nn.Module, example: torch.Tensor) -> GilFree:
    """`model` traced on `example` ([B, ...] planes), used only if it answers bit-identically
    to the eager module at batch sizes 1 and len(example) (after its graph executor's warm-up).
    A module with `traceable = False` (a torch.compile'd wrapper: its own graphs) runs as it is."""
    if not getattr(model, "traceable", True):
        return GilFree(model, model, "it says it is not traceable")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings: the equality check below decides
            traced = torch.jit.trace(model, example, check_trace=False)
    except Exception as exc:  # noqa: BLE001 - any module TorchScript cannot trace runs eagerly
        return GilFree(model, model, f"not traceable ({type(exc).__name__})")
    probe = torch.randn_like(example)
    for _ in range(3):  # the profiling executor optimises the graph after its first calls
        for x in (probe[:1], probe):
            if not _same(model(x), traced(x)):
                return GilFree(model, model, "the traced graph's outputs differ from the module's")
    return GilFree(model, traced, None)
