"""The seed plan's own figures (SPEC §3), a labelled reference dataset, never a measurement."""

from __future__ import annotations

import json
from importlib import resources


def seed_reference() -> dict:
    """The seed's reported figures (also in data/seed_reference.json), with their label."""
    return json.loads(resources.files("perfkit").joinpath("data/seed_reference.json").read_text())
