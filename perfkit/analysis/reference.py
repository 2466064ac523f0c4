"""The seed plan's own figures (SPEC §3), a labelled reference dataset, never a measurement."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any


def seed_reference() -> dict[str, Any]:
    """The seed's reported figures (perfkit/data/seed_reference.json, shipped in the package), with their label."""
    try:
        text = resources.files("perfkit").joinpath("data/seed_reference.json").read_text()
    except (OSError, TypeError):
        # An editable install can present perfkit as a namespace package, which
        # importlib.resources cannot read on Python 3.11; the file sits beside the code anyway.
        text = (Path(__file__).resolve().parents[1] / "data" / "seed_reference.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data
