"""A self-play directory on disk: settings, shards of finished games, progress.

    DIR/settings.json       what determines the games (written once, atomically)
    DIR/shards/shard-000000.parquet, ...   complete games only, one row per move
    DIR/progress.json       live progress, rewritten atomically
    DIR/.lock               held (flock) by the one process writing DIR

The shards are the ledger: a game is done if and only if it is in a shard. A shard is written
to a temporary file in the same folder, flushed and fsynced, renamed into place and the folder
fsynced, so after a crash at any moment a shard is either complete or absent; temporary files
left by a crash are removed when DIR is opened again. Nothing else records completed ids, so
there is nothing that could disagree with the shards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from perfkit.types import GameRecord, PerfkitError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: no lock, one writer is on the user
    fcntl = None

KIND = "perfkit-selfplay"
FORMAT = 1
SETTINGS, PROGRESS, LOCK, SHARDS = "settings.json", "progress.json", ".lock", "shards"
SHARD_RE = re.compile(r"^shard-(\d{6,})\.parquet$")
TMP_SUFFIX = ".tmp"
META_KEY = b"perfkit.selfplay"

MOVE_COLUMNS = [
    "game", "ply", "player", "move", "root_value", "minimax_value", "candidates",
    "policy_move_values", "chosen_rank", "calls", "boards",
]
GAME_COLUMNS = ["game", "winner", "moves", "start_s", "end_s", "duration_s"]
SCHEMA = pa.schema(
    [
        ("game", pa.int64()),
        ("ply", pa.int16()),
        ("player", pa.int8()),
        ("move", pa.int16()),
        ("root_value", pa.float64()),
        ("minimax_value", pa.float64()),
        ("candidates", pa.list_(pa.int16())),
        ("policy_move_values", pa.list_(pa.float64())),
        ("chosen_rank", pa.int8()),
        ("calls", pa.float64()),
        ("boards", pa.int32()),
        # Game-level columns, repeated on each of the game's rows (cheap once compressed), so
        # that one file holds whole games and a shard stays a single atomic rename.
        ("winner", pa.int8()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
    ]
)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems cannot fsync a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace `path` with `data`: temporary file beside it, fsync, rename, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        if durable:
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if durable:
        _fsync_dir(path.parent)


def games_table(games: Iterable[GameRecord]) -> pa.Table:
    """One row per move of `games`, in the shard schema."""
    cols: dict[str, list] = {name: [] for name in SCHEMA.names}
    for g in games:
        for m in g.moves:
            for name in MOVE_COLUMNS:
                cols[name].append(getattr(m, name))
            cols["winner"].append(g.winner)
            cols["start_s"].append(g.start_s)
            cols["end_s"].append(g.end_s)
    return pa.table(cols, schema=SCHEMA)


@dataclass
class ShardIndex:
    """What the shards hold, from one scan: enough to resume, count and digest without loading."""

    paths: list[Path] = field(default_factory=list)
    ids: list[np.ndarray] = field(default_factory=list)  # per shard: [G] int64 game ids

    @property
    def n_records(self) -> int:
        return int(sum(len(i) for i in self.ids))

    def done(self, size: int) -> np.ndarray:  # [size] bool
        mask = np.zeros(size, bool)
        for ids in self.ids:
            mask[ids[ids < size]] = True
        return mask

    def unique(self) -> np.ndarray:  # [U] int64, sorted
        return np.unique(np.concatenate(self.ids)) if self.ids else np.zeros(0, np.int64)

    def max_id(self) -> int:
        return max((int(i.max()) for i in self.ids if len(i)), default=-1)


class SelfplayDir:
    """One self-play directory, opened for writing by one process (see the module doc).

    Use `SelfplayDir.open(...)`; `close()` releases the lock.
    """

    def __init__(self, path: Path, settings: dict, lock_fd: int | None, log: Callable[[str], None]) -> None:
        self.path = path
        self.settings = settings
        self.lock_fd = lock_fd
        self.log = log
        self.shards = path / SHARDS
        self.index = ShardIndex()
        self.next_shard = 0

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: str | os.PathLike, *, identity: dict, created_with: dict, log: Callable[[str], None] = print
    ) -> SelfplayDir:
        """Open (or create) DIR for writing games with `identity`; PerfkitError if it can't be.

        A DIR made with another identity, a folder that isn't a self-play directory, or one
        that another process is writing are refused with a message saying what to do.
        """
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise PerfkitError(f"{path} is a file, not a directory; choose another --out")
        if path.is_dir() and not (path / SETTINGS).exists() and _foreign_entries(path):
            raise PerfkitError(
                f"{path} is not empty and is not a self-play directory (no {SETTINGS}); "
                "choose a new or empty --out"
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PerfkitError(f"cannot create output directory {path}: {exc.strerror or exc}") from None
        if not os.access(path, os.W_OK):
            raise PerfkitError(f"cannot write to output directory {path}; choose another --out")
        lock_fd = cls._lock(path)
        try:
            settings = cls._settings(path, identity, created_with)
            store = cls(path, settings, lock_fd, log)
            store._clean_and_scan()
        except BaseException:
            cls._unlock(lock_fd)
            raise
        return store

    @staticmethod
    def _lock(path: Path) -> int | None:
        if fcntl is None:
            return None
        try:
            fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise PerfkitError(f"cannot write to output directory {path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise PerfkitError(
                f"{path} is being written by another perfkit selfplay (pid {holder}); "
                "wait for it to finish or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    @staticmethod
    def _unlock(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    @staticmethod
    def _settings(path: Path, identity: dict, created_with: dict) -> dict:
        file = path / SETTINGS
        if not file.exists():
            if _foreign_entries(path):  # checked again under the lock
                raise PerfkitError(
                    f"{path} is not empty and is not a self-play directory (no {SETTINGS}); "
                    "choose a new or empty --out"
                )
            settings = {
                "kind": KIND,
                "format": FORMAT,
                "identity": identity,
                "created_with": created_with,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            (path / SHARDS).mkdir(exist_ok=True)
            write_atomic(file, json.dumps(settings, indent=2).encode())
            return settings
        try:
            settings = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise PerfkitError(f"{file} is unreadable ({exc}); this is not a usable self-play directory") from None
        if not isinstance(settings, dict) or settings.get("kind") != KIND:
            raise PerfkitError(f"{path} is not a perfkit self-play directory; choose another --out")
        if settings.get("format") != FORMAT:
            raise PerfkitError(
                f"{path} was written in self-play format {settings.get('format')}, this perfkit reads {FORMAT}"
            )
        diff = describe_difference(settings.get("identity", {}), identity)
        if diff:
            raise PerfkitError(
                f"{path} was made with other settings ({diff}); rerun with the settings it was made "
                "with, or choose another --out"
            )
        return settings

    def _clean_and_scan(self) -> None:
        """Remove crash leftovers (temporary files), set damaged shards aside, index the rest."""
        self.shards.mkdir(exist_ok=True)
        numbers = []
        for p in sorted(self.shards.iterdir()):
            if p.name.endswith(TMP_SUFFIX):
                p.unlink()  # a write the crash interrupted; its games were never counted
                continue
            m = SHARD_RE.match(p.name)
            if not m:
                continue
            numbers.append(int(m.group(1)))
            try:
                ids = pq.read_table(p, columns=["game"]).column("game").to_numpy()
            except (OSError, pa.ArrowException) as exc:
                aside = p.with_name(f"{p.name}.damaged")
                os.replace(p, aside)
                self.log(f"warning: shard {p.name} is unreadable ({exc}); set aside as {aside.name}, "
                         "its games will be played again")
                continue
            self.index.paths.append(p)
            self.index.ids.append(np.unique(ids))
        self.next_shard = max(numbers, default=-1) + 1
        for p in self.path.iterdir():
            if p.name.endswith(TMP_SUFFIX):
                p.unlink()

    # -- writing ---------------------------------------------------------------------------

    def write_shard(self, games: list[GameRecord], meta: dict) -> Path | None:
        """Write `games` (complete games only) as the next shard, atomically and durably."""
        if not games:
            return None
        table = games_table(games).replace_schema_metadata(
            {META_KEY: json.dumps({**meta, "games": len(games)}).encode()}
        )
        final = self.shards / f"shard-{self.next_shard:06d}.parquet"
        tmp = self.shards / f".{final.name}.{os.getpid()}{TMP_SUFFIX}"
        try:
            with open(tmp, "wb") as f:
                pq.write_table(table, f, compression="zstd")
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, final)
            _fsync_dir(self.shards)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise PerfkitError(f"cannot write shard {final}: {exc.strerror or exc}") from None
        self.next_shard += 1
        self.index.paths.append(final)
        self.index.ids.append(np.unique(np.fromiter((g.game for g in games), np.int64, len(games))))
        return final

    def write_progress(self, progress: dict) -> None:
        # Progress is advice, not data: no fsync on every rewrite, but always whole.
        write_atomic(self.path / PROGRESS, json.dumps(progress, indent=2).encode(), durable=False)

    def close(self) -> None:
        self._unlock(self.lock_fd)
        self.lock_fd = None


def _foreign_entries(path: Path) -> list[str]:
    """What a folder without settings.json holds besides our lock and an empty shards/."""
    found = [p.name for p in path.iterdir() if p.name not in (LOCK, SHARDS) and not p.name.endswith(TMP_SUFFIX)]
    shards = path / SHARDS
    if shards.is_dir():
        found += [f"{SHARDS}/{p.name}" for p in shards.iterdir()]
    return found


def describe_difference(stored: dict, now: dict) -> str:
    """`seed 0 here vs 1 now, precision ...` for the keys whose values differ."""
    keys = sorted(set(stored) | set(now))
    parts = [f"{k} {stored.get(k)!r} in DIR vs {now.get(k)!r} now" for k in keys if stored.get(k) != now.get(k)]
    return "; ".join(parts)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- reading ---------------------------------------------------------------------------------


@dataclass
class SelfplayData:
    """A self-play directory's games, as DataFrames sorted by game (and ply)."""

    games: pd.DataFrame  # one row per game: GAME_COLUMNS
    moves: pd.DataFrame  # one row per move: MOVE_COLUMNS
    settings: dict  # settings.json
    progress: dict | None  # progress.json, None if absent
    path: Path


def _shard_paths(path: Path) -> list[Path]:
    return sorted(p for p in (path / SHARDS).iterdir() if SHARD_RE.match(p.name))


def _read_settings(path: Path) -> dict:
    file = path / SETTINGS
    if not file.is_file():
        raise PerfkitError(f"{path} is not a self-play directory (no {SETTINGS}); make one with perfkit selfplay")
    try:
        settings = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise PerfkitError(f"{file} is unreadable: {exc}") from None
    if settings.get("kind") != KIND:
        raise PerfkitError(f"{path} is not a perfkit self-play directory")
    return settings


def load_selfplay(path: str | os.PathLike) -> SelfplayData:
    """Every game stored in a self-play directory; PerfkitError if it isn't one.

    Safe to call while a run is writing DIR: only complete shards are read.
    """
    path = Path(path)
    settings = _read_settings(path)
    tables = []
    for p in _shard_paths(path):
        try:
            tables.append(pq.read_table(p))
        except (OSError, pa.ArrowException) as exc:
            raise PerfkitError(f"shard {p} is damaged ({exc}); rerun perfkit selfplay on {path} to replay it") from None
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    df = table.to_pandas()
    df["candidates"] = df["candidates"].map(list)
    df["policy_move_values"] = df["policy_move_values"].map(list)
    df = df.sort_values(["game", "ply"], kind="stable").reset_index(drop=True)
    moves = df[MOVE_COLUMNS].astype({"ply": "int64", "player": "int64", "move": "int64", "chosen_rank": "int64",
                                      "boards": "int64"})
    per_game = df.groupby("game", sort=True)
    games = pd.DataFrame(
        {
            "game": per_game["game"].first().to_numpy(),
            "winner": per_game["winner"].first().astype("int64").to_numpy(),
            "moves": per_game.size().to_numpy(),
            "start_s": per_game["start_s"].first().to_numpy(),
            "end_s": per_game["end_s"].first().to_numpy(),
        },
        columns=GAME_COLUMNS[:-1],
    )
    games["duration_s"] = games["end_s"] - games["start_s"]
    progress = None
    with contextlib.suppress(OSError, ValueError):
        progress = json.loads((path / PROGRESS).read_text())
    return SelfplayData(games=games, moves=moves, settings=settings, progress=progress, path=path)


def digest_dir(index: ShardIndex, window: int = 8192) -> str | None:
    """`game_digest` (analysis.summary) of every stored move, reading `window` game ids at a time.

    Equal to `game_digest(load_selfplay(DIR).moves)` without holding all moves in memory.
    """
    if not index.n_records:
        return None
    bounds = [(int(i.min()), int(i.max())) for i in index.ids]
    h = hashlib.sha256()
    for lo in range(0, index.max_id() + 1, window):
        hi = lo + window
        parts = [
            pq.read_table(p, columns=["game", "ply", "move"], filters=[("game", ">=", lo), ("game", "<", hi)])
            for p, (mn, mx) in zip(index.paths, bounds, strict=True) if mx >= lo and mn < hi
        ]
        if not parts:
            continue
        df = pa.concat_tables(parts).to_pandas()
        for game, seq in df.sort_values(["game", "ply"]).groupby("game", sort=True)["move"]:
            h.update(f"{game}:{','.join(map(str, seq))};".encode())
    return h.hexdigest()
