"""A run on disk: the calls, moves, games and gpu tables plus manifest.json.

`Run.save` writes into a temporary directory beside the target and renames it into place,
so a run directory is either complete or absent. `load_run` reads it back unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from perfkit.atomic import replacing
from perfkit.types import PerfkitError

TABLES = ("calls", "moves", "games", "gpu")
MANIFEST = "manifest.json"


@dataclass
class Run:
    """One strategy's run: plain data, the only thing renderers read."""

    manifest: dict[str, Any]
    calls: pd.DataFrame
    moves: pd.DataFrame
    games: pd.DataFrame
    gpu: pd.DataFrame = field(default_factory=pd.DataFrame)
    path: Path | None = None

    @property
    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = self.manifest.get("summary", {})
        return summary

    def save(self, path: str | os.PathLike[str], *, into_existing: bool = False) -> Path:
        """Write the run to `path` (must not exist yet) atomically; returns the path.

        into_existing: `path` may already be a folder without a run in it (one that holds the
        run's saved `repeats/`): the run is written beside it, then its files are moved in with
        manifest.json last, so the folder reads as a run only once the run is whole.
        """
        path = Path(path)
        if path.exists() and not (into_existing and path.is_dir() and not (path / MANIFEST).exists()):
            raise PerfkitError(f"run directory {path} already exists; choose another --out")
        created = [p for p in (path.parent, *path.parent.parents) if not p.exists()][::-1]
        target = path.with_name(f"{path.name}.whole") if path.exists() else path
        if target != path and target.is_dir():
            shutil.rmtree(target)  # left by a save a crash cut short: never a whole run
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with replacing(target) as tmp:
                tmp.mkdir()
                for name in TABLES:
                    getattr(self, name).to_parquet(tmp / f"{name}.parquet", index=False)
                text = json.dumps(self.manifest, indent=2, default=_json_default)
                (tmp / MANIFEST).write_text(text)
            if target != path:
                for name in [f"{t}.parquet" for t in TABLES] + [MANIFEST]:
                    os.replace(target / name, path / name)
                target.rmdir()
        except BaseException:
            if target != path and target.exists():
                shutil.rmtree(target, ignore_errors=True)  # the run's files stay out of `path`: it holds no run
            remove_empty(created)  # a failed save (a full disk) leaves no empty folder behind
            raise
        # What was written is what load_run returns (tuples become lists, numpy scalars numbers).
        self.manifest = json.loads(text)
        self.path = path
        return path


def remove_empty(folders: list[Path]) -> None:
    """Remove `folders` (outermost first, as created) from the innermost out, each only while empty."""
    for folder in reversed(folders):
        with contextlib.suppress(OSError):
            folder.rmdir()


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def load_run(path: str | os.PathLike[str]) -> Run:
    """The run stored in `path`, exactly as written; PerfkitError if it isn't a run directory.

    The manifest and the tables are checked against their schema (MANIFEST_FIELDS,
    TABLE_COLUMNS), so a damaged or hand-edited run is refused with what is wrong rather
    than failing later inside a report.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise PerfkitError(f"load_run needs a run directory path (str or Path), got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise PerfkitError(f"{path} is not a perfkit run directory: it does not exist")
    if not (path / MANIFEST).is_file():
        raise PerfkitError(f"{path} is not a perfkit run directory (no {MANIFEST}); make one with perfkit bench")
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        check_manifest(manifest)
        tables = {name: pd.read_parquet(path / f"{name}.parquet") for name in TABLES}
        for name, df in tables.items():
            missing = [c for c in TABLE_COLUMNS[name] if c not in df.columns]
            if missing and (name != "gpu" or len(df)):
                raise ValueError(f"{name}.parquet lacks column(s) {', '.join(missing)} (is it another table?)")
    except (OSError, ValueError) as exc:
        raise PerfkitError(f"run directory {path} is damaged: {str(exc).splitlines()[0]}") from None
    return Run(manifest=manifest, path=path, **{name: _lists_back(df) for name, df in tables.items()})


# What a stored run must hold: manifest key -> JSON types, and the columns each table is known by.
MANIFEST_FIELDS: dict[str, tuple[type, ...]] = {
    "kind": (str,), "strategy": (str,), "settings": (dict,), "network": (dict,), "environment": (dict,),
    "summary": (dict,), "wall_s": (int, float),
}
TABLE_COLUMNS = {
    "calls": ("batch", "forward_s", "start_s", "end_s"),
    "moves": ("game", "ply", "move", "calls", "boards"),
    "games": ("game", "winner", "moves", "duration_s"),
    "gpu": ("t_s", "util_pct"),  # only when it has samples: a run without a GPU may store an empty table
}


def check_manifest(manifest: object) -> dict[str, Any]:
    """ValueError saying what is wrong unless `manifest` has a run manifest's keys and types."""
    if not isinstance(manifest, dict):
        raise ValueError(f"{MANIFEST} holds a {type(manifest).__name__}, not a run manifest object")
    missing = [k for k in MANIFEST_FIELDS if k not in manifest]
    if missing:
        raise ValueError(f"{MANIFEST} lacks {', '.join(missing)}")
    wrong = [f"{k} is {type(manifest[k]).__name__}" for k, types in MANIFEST_FIELDS.items()
             if not isinstance(manifest[k], types) or isinstance(manifest[k], bool)]
    if wrong:
        raise ValueError(f"{MANIFEST}: {'; '.join(wrong)}")
    if manifest["kind"] != "perfkit-run":
        raise ValueError(f"{MANIFEST} kind is {manifest['kind']!r}, not 'perfkit-run'")
    return manifest


def _lists_back(df: pd.DataFrame) -> pd.DataFrame:
    """Parquet returns list cells (a move's candidates) as numpy arrays; make them lists again."""
    for col in df.columns:
        if not pd.api.types.is_object_dtype(df[col]):
            continue
        first = df[col].dropna()
        if len(first) and isinstance(first.iloc[0], np.ndarray):
            df[col] = [v.tolist() if isinstance(v, np.ndarray) else v for v in df[col]]
    return df
