"""A run on disk: the calls, moves, games and gpu tables plus manifest.json.

`Run.save` writes into a temporary directory beside the target and renames it into place,
so a run directory is either complete or absent. `load_run` reads it back unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from perfkit.types import PerfkitError

TABLES = ("calls", "moves", "games", "gpu")
MANIFEST = "manifest.json"


@dataclass
class Run:
    """One strategy's run: plain data, the only thing renderers read."""

    manifest: dict
    calls: pd.DataFrame
    moves: pd.DataFrame
    games: pd.DataFrame
    gpu: pd.DataFrame = field(default_factory=pd.DataFrame)
    path: Path | None = None

    @property
    def summary(self) -> dict:
        return self.manifest.get("summary", {})

    def save(self, path: str | os.PathLike) -> Path:
        """Write the run to `path` (must not exist yet) atomically; returns the path."""
        path = Path(path)
        if path.exists():
            raise PerfkitError(f"run directory {path} already exists; choose another --out")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
        try:
            for name in TABLES:
                getattr(self, name).to_parquet(tmp / f"{name}.parquet", index=False)
            (tmp / MANIFEST).write_text(json.dumps(self.manifest, indent=2, default=_json_default))
            os.rename(tmp, path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.path = path
        return path


def _json_default(obj):
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_run(path: str | os.PathLike) -> Run:
    """The run stored in `path`, exactly as written; PerfkitError if it isn't a run directory."""
    path = Path(path)
    if not (path / MANIFEST).is_file():
        raise PerfkitError(f"{path} is not a perfkit run directory (no {MANIFEST}); make one with perfkit bench")
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        tables = {name: pd.read_parquet(path / f"{name}.parquet") for name in TABLES}
    except (OSError, ValueError) as exc:
        raise PerfkitError(f"run directory {path} is damaged: {str(exc).splitlines()[0]}") from None
    return Run(manifest=manifest, path=path, **tables)
