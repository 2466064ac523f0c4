"""What a run's manifest says of the machine it ran on."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

from perfkit.devices import Device, get_device


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def device_name(device: Device | torch.device | str) -> str:
    """The device's name in words: "cpu", the GPU's model, or "sim: ..." for the simulated device."""
    return get_device(device).name


def environment_of(device: Device | torch.device | str) -> dict[str, Any]:
    """Device (name, simulated or not), library versions, cores, threads and commit, for a run's manifest."""
    import pandas

    from perfkit import __version__

    return {
        **get_device(device).environment(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pandas": pandas.__version__,
        "perfkit": __version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "git_commit": git_commit(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
