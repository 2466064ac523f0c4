"""A self-play directory on disk: settings, shards of finished games, progress.

    DIR/settings.json       what determines the games (written once, atomically, only after the
                            checkpoint, device and settings proved good: a failed start leaves nothing)
    DIR/shards/shard-000000.parquet, ...   complete games only, one row per move
    DIR/progress.json       live progress and how the run ended, rewritten atomically
    DIR/.lock               held (flock) by the one process writing DIR

The shards are the ledger: a game is done if and only if it is in a shard. A shard is written
to a temporary file in the same folder, flushed and fsynced, renamed into place and the folder
fsynced, so after a crash at any moment a shard is either complete or absent; temporary files
left by a crash are removed when DIR is opened again.

Every shard proves itself: its metadata holds the run's identity hash, its game ids (as ranges)
and a checksum of its content. Opening DIR, `load_selfplay` and `verify_selfplay` set aside,
with one line each, a shard from another run, one repeating games of an earlier shard (a copy)
and a damaged one, so no (game, ply) row is ever returned twice. Which games are done is a
`Ledger` of id ranges: its size follows the shards, not N.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from perfkit.atomic import TMP_SUFFIX, replacing
from perfkit.selfplay.ledger import Ledger, Range, ranges_of
from perfkit.types import DEFAULT_GAME, GameRecord, PerfkitError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: no lock, one writer is on the user
    fcntl = None  # type: ignore[assignment]  # callers test `fcntl is None`

KIND = "perfkit-selfplay"
FORMAT = 1
SETTINGS, PROGRESS, LOCK, SHARDS = "settings.json", "progress.json", ".lock", "shards"
SHARD_RE = re.compile(r"^shard-(\d{6,})\.parquet$")
META_KEY = b"perfkit.selfplay"
PROGRESS_BLOCK = 4096  # progress.json is padded to whole blocks so a full disk can still take its last word
# Whose search plays the games. selfplay runs perfkit's own only, but the search belongs to a DIR's
# identity as much as the game does: a future `selfplay --engine` must not mix its games with these.
BUILTIN_ENGINE = "builtin"
# What settings.json's identity holds (SelfplaySettings.identity builds it): key -> allowed JSON types.
IDENTITY_FIELDS: dict[str, tuple[type, ...]] = {
    "game": (str,), "engine": (str,), "preset": (str,), "board": (int,), "blocks": (int,), "channels": (int,), "seed": (int,),
    "precision": (str,), "search": (dict,), "checkpoint_sha256": (str, type(None)),
}
# Identity fields added after format 1: a settings.json written without one was made with this value
# (only Hex, only perfkit's own search), so older directories still open and still refuse a change.
IDENTITY_DEFAULTS = {"game": DEFAULT_GAME, "engine": BUILTIN_ENGINE}

MOVE_COLUMNS = [
    "game", "ply", "player", "move", "root_value", "minimax_value", "candidates",
    "policy_move_values", "chosen_rank", "calls", "boards", "visits",
]
GAME_COLUMNS = ["game", "winner", "moves", "start_s", "end_s", "duration_s"]
SCHEMA = pa.schema([
    ("game", pa.int64()), ("ply", pa.int16()), ("player", pa.int8()), ("move", pa.int16()),
    ("root_value", pa.float64()), ("minimax_value", pa.float64()), ("candidates", pa.list_(pa.int16())),
    ("policy_move_values", pa.list_(pa.float64())), ("chosen_rank", pa.int8()), ("calls", pa.float64()),
    ("boards", pa.int32()),
    # Game-level columns, repeated on each of the game's rows (cheap once compressed), so
    # that one file holds whole games and a shard stays a single atomic rename.
    ("winner", pa.int8()), ("start_s", pa.float64()), ("end_s", pa.float64()),
    ("visits", pa.list_(pa.int32())),  # mcts: the root's visits per action, the policy target (minimax: [])
])
# Shards written before moves kept their visit counts: read as if each move's visits were [].
LEGACY_SCHEMA = pa.schema([f for f in SCHEMA if f.name != "visits"])


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class DiskFull(PerfkitError):
    """The disk (or quota) is full: the run stops with every stored game kept."""


def os_failure(exc: OSError, path: Path, doing: str = "write") -> PerfkitError:
    """One line for an OSError on `path`: DiskFull for a full disk, PerfkitError otherwise."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(f"disk full: no space left to {doing} {path}")
    return PerfkitError(f"cannot {doing} {path}: {exc.strerror or exc}")


def _write_file(path: Path, data: bytes, *, durable: bool = True) -> None:
    """An atomic write (`perfkit.atomic.replacing`), its OSError worded for the store: DiskFull or
    PerfkitError. Written through this module's `open`, which the disk-full tests replace."""
    try:
        with replacing(path, durable=durable) as tmp, open(tmp, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise os_failure(exc, path) from None


def games_table(games: Iterable[GameRecord]) -> pa.Table:
    """One row per move of `games`, in the shard schema (a game's columns repeated on its moves)."""
    cols: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for g in games:
        for m in g.moves:
            for name in MOVE_COLUMNS:
                cols[name].append(getattr(m, name))
            cols["winner"].append(g.winner)
            cols["start_s"].append(g.start_s)
            cols["end_s"].append(g.end_s)
    return pa.table(cols, schema=SCHEMA)


def table_checksum(table: pa.Table, names: list[str] | None = None) -> str:
    """sha256 of a shard's values, column by column (`names`, default the shard schema's): the same
    however parquet chunks them."""
    h = hashlib.sha256()
    for name in SCHEMA.names if names is None else names:
        col = table.column(name).combine_chunks()
        if pa.types.is_list(col.type):
            h.update(col.value_lengths().to_numpy(zero_copy_only=False).astype(np.int64).tobytes())
            col = col.flatten()
        h.update(name.encode() + np.ascontiguousarray(col.to_numpy(zero_copy_only=False)).tobytes())
    return h.hexdigest()


def run_id(identity: dict[str, Any]) -> str:
    """The run's identity hash, carried by every shard: equal hashes, the same games for an id."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- settings.json -----------------------------------------------------------------------------


def _json_type(value: object) -> str:
    return "null" if value is None else {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__)


def check_settings(doc: object, file: Path) -> dict[str, Any]:
    """settings.json checked against its schema; PerfkitError saying what is wrong."""
    fix = "restore it from a copy, or choose another --out"
    if not isinstance(doc, dict):
        raise PerfkitError(f"{file} is damaged: it holds {_json_type(doc)}, not a settings object; {fix}")
    if doc.get("kind") != KIND:
        raise PerfkitError(f"{file.parent} is not a perfkit self-play directory ({file.name} kind is "
                           f"{doc.get('kind')!r}); choose another --out")
    if doc.get("format") != FORMAT:
        raise PerfkitError(
            f"{file.parent} was written in self-play format {doc.get('format')!r}, this perfkit reads {FORMAT}"
        )
    identity = doc.get("identity")
    if not isinstance(identity, dict):
        raise PerfkitError(f"{file} is damaged: identity is {_json_type(identity)}, not an object; {fix}")
    for key, types in IDENTITY_FIELDS.items():
        value = identity.get(key, IDENTITY_DEFAULTS.get(key, KeyError))
        if value is KeyError:
            raise PerfkitError(f"{file} is damaged: identity has no {key!r}; {fix}")
        if not isinstance(value, types) or isinstance(value, bool):
            raise PerfkitError(f"{file} is damaged: identity {key} is {_json_type(value)} ({value!r}); {fix}")
    return doc


def read_settings(path: Path) -> dict[str, Any]:
    file = path / SETTINGS
    if not file.is_file():
        raise PerfkitError(f"{path} is not a self-play directory (no {SETTINGS}); make one with perfkit selfplay")
    try:
        doc = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise PerfkitError(f"{file} is unreadable ({exc}); restore it from a copy, or choose another --out") from None
    return check_settings(doc, file)


# -- shards ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShardInfo:
    """One accepted shard: where it is and which games it holds (as ranges, not ids)."""

    path: Path
    ids: tuple[Range, ...]  # its game ids as sorted ranges
    games: int  # game records (= ids, since a shard holds each game once)
    rows: int  # moves

    @property
    def lo(self) -> int:
        return self.ids[0][0]

    @property
    def hi(self) -> int:  # exclusive
        return self.ids[-1][1]


@dataclass(frozen=True)
class Rejected:
    """A shard that cannot be trusted, and why: damaged, unproven, foreign or duplicate."""

    path: Path
    why: str  # damaged, unproven, foreign, duplicate
    problem: str  # one line: what is wrong with it


def shard_meta(table: pa.Table, *, run: str, identity: dict[str, Any], produced_by: dict[str, Any]) -> dict[str, Any]:
    ids = ranges_of(table.column("game").to_numpy())
    return {
        **produced_by,
        "run": run,
        "identity": identity,  # the whole identity: a damaged settings.json can be rebuilt from any shard
        "games": sum(hi - lo for lo, hi in ids),
        "rows": table.num_rows,
        "ids": [list(r) for r in ids],
        "sha256": table_checksum(table),
    }


def check_shard(p: Path, run: str) -> tuple[ShardInfo, pa.Table] | Rejected:
    """Read shard `p` and prove it: (info, table) if it is whole and of run `run`, else Rejected."""
    try:
        table = pq.read_table(p)
    except (OSError, pa.ArrowException) as exc:
        return Rejected(p, "damaged", f"shard {p.name} is unreadable ({str(exc).splitlines()[0]})")
    raw = (table.schema.metadata or {}).get(META_KEY)
    try:
        meta = json.loads(raw) if raw else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or not {"run", "ids", "sha256", "rows"} <= set(meta):
        return Rejected(p, "unproven", f"shard {p.name} carries no run identity or checksum "
                                       "(not written by this perfkit)")
    if meta["run"] != run:
        return Rejected(p, "foreign", f"shard {p.name} belongs to another run (run {str(meta['run'])[:12]}, "
                                      f"this directory's is {run[:12]})")
    legacy = table.schema.remove_metadata().equals(LEGACY_SCHEMA)
    if not (legacy or table.schema.remove_metadata().equals(SCHEMA)):
        return Rejected(p, "damaged", f"shard {p.name} does not have the shard columns")
    ids = ranges_of(table.column("game").to_numpy())
    if table_checksum(table, LEGACY_SCHEMA.names if legacy else None) != meta["sha256"] or table.num_rows != meta["rows"] or [list(r) for r in ids] != meta["ids"]:
        return Rejected(p, "damaged", f"shard {p.name} fails its checksum (its content changed after it was written)")
    if not ids:
        return Rejected(p, "damaged", f"shard {p.name} holds no games")
    info = ShardInfo(path=p, ids=tuple(ids), games=sum(hi - lo for lo, hi in ids), rows=table.num_rows)
    if legacy:
        table = table.append_column(SCHEMA.field("visits"), pa.array([[]] * table.num_rows, pa.list_(pa.int32())))
    return info, table


def scan_shards(shards: Path, run: str, *, keep_tables: bool = False) -> Iterator[tuple[ShardInfo, pa.Table | None] | Rejected]:
    """Every shard file in order of its number, proven; a shard repeating accepted games is a duplicate."""
    paths = sorted(p for p in shards.iterdir() if SHARD_RE.match(p.name)) if shards.is_dir() else []
    seen = Ledger()
    accepted: list[ShardInfo] = []
    for p in paths:
        result = check_shard(p, run)
        if isinstance(result, Rejected):
            yield result
            continue
        info, table = result
        if any(seen.overlaps(lo, hi) for lo, hi in info.ids):
            clash = next(a.path.name for a in accepted if _meets(a, info))
            yield Rejected(p, "duplicate", f"shard {p.name} repeats games already in {clash}")
            continue
        for lo, hi in info.ids:
            seen.add_range(lo, hi)
        accepted.append(info)
        yield info, (table if keep_tables else None)


def _meets(a: ShardInfo, b: ShardInfo) -> bool:
    return any(lo < hi2 and lo2 < hi for lo, hi in a.ids for lo2, hi2 in b.ids)


def _set_aside(p: Path, why: str) -> Path:
    aside = p.with_name(f"{p.name}.{why}")
    k = 1
    while aside.exists():  # never overwrite what an earlier session set aside
        k += 1
        aside = p.with_name(f"{p.name}.{why}-{k}")
    os.replace(p, aside)
    return aside


class SelfplayDir:
    """One self-play directory, opened for writing by one process (see the module doc).

    Use `SelfplayDir.open(...)`; a new directory is claimed (settings.json written) only by
    `claim()`, once the inputs proved good; `close()` releases the lock and, if the directory
    was never claimed, removes what opening it created.
    """

    def __init__(self, path: Path, settings: dict[str, Any], lock_fd: int | None, log: Callable[[str], None]) -> None:
        self.path = path
        self.settings = settings
        self.run = run_id(settings["identity"])
        self.lock_fd = lock_fd
        self.log = log
        self.shards = path / SHARDS
        self.shard_list: list[ShardInfo] = []
        self.ledger = Ledger()  # the games in accepted shards
        self.next_shard = 0
        self.claimed = True
        self.created: list[Path] = []  # what open() made, removed again if never claimed

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, identity: dict[str, Any], created_with: dict[str, Any], log: Callable[[str], None] = log_to_stderr
    ) -> SelfplayDir:
        """Open (or prepare to create) DIR for writing games with `identity`; PerfkitError if it can't be.

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
        created = [p for p in (path, *path.parents) if not p.exists()][::-1]  # outermost first
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise os_failure(exc, path, "create") from None
        if not os.access(path, os.W_OK):
            _remove(created)
            raise PerfkitError(f"cannot write to output directory {path}; choose another --out")
        lock_existed = (path / LOCK).exists()
        try:
            lock_fd = cls._lock(path)
        except BaseException:
            _remove(created)
            raise
        try:
            settings = cls._settings(path, identity, created_with)
            store = cls(path, settings or {"identity": identity}, lock_fd, log)
            if settings is None:  # a new directory: nothing is written until claim()
                store.claimed = False
                store.settings = {
                    "kind": KIND,
                    "format": FORMAT,
                    "identity": identity,
                    "created_with": created_with,
                }
                store.created = created + ([] if lock_existed else [path / LOCK])
            store._clean_and_scan()
        except BaseException:
            cls._unlock(lock_fd)
            _remove(created + ([] if lock_existed else [path / LOCK]))
            raise
        return store

    @staticmethod
    def _lock(path: Path) -> int | None:
        if fcntl is None:
            return None
        try:
            fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise os_failure(exc, path / LOCK, "create") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise PerfkitError(
                f"{path} is being written by another perfkit selfplay (pid {holder}); "
                "wait for it to finish or stop it first"
            ) from None
        with contextlib.suppress(OSError):  # the pid is a courtesy; a full disk must not stop us here
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    @staticmethod
    def _unlock(fd: int | None) -> None:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    @staticmethod
    def _settings(path: Path, identity: dict[str, Any], created_with: dict[str, Any]) -> dict[str, Any] | None:
        """The stored settings, checked against `identity`; None for a directory not yet claimed."""
        if not (path / SETTINGS).exists():
            if _foreign_entries(path):  # checked again under the lock
                raise PerfkitError(
                    f"{path} is not empty and is not a self-play directory (no {SETTINGS}); "
                    "choose a new or empty --out"
                )
            return None
        settings = read_settings(path)
        diff = describe_difference(full_identity(settings["identity"]), identity)
        if diff:
            raise PerfkitError(
                f"{path} was made with other settings ({diff}); rerun with the settings it was made "
                "with, or choose another --out"
            )
        return settings

    def claim(self) -> None:
        """Write settings.json: from here on DIR belongs to this run. Call once the inputs proved good."""
        if self.claimed:
            return
        settings = {**self.settings, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        try:
            self.shards.mkdir(exist_ok=True)
        except OSError as exc:
            raise os_failure(exc, self.shards, "create") from None
        _write_file(self.path / SETTINGS, json.dumps(settings, indent=2).encode())
        self.settings = settings
        self.claimed = True
        self.created = []

    def _clean_and_scan(self) -> None:
        """Remove crash leftovers (temporary files), set untrustworthy shards aside, index the rest."""
        for folder in (self.shards, self.path):
            for p in sorted(folder.iterdir()) if folder.is_dir() else ():
                if p.name.endswith(TMP_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()  # a write a crash interrupted; its games were never counted
        numbers = [int(m.group(1)) for p in self.shards.iterdir() if (m := SHARD_RE.match(p.name))] \
            if self.shards.is_dir() else []
        self.next_shard = max(numbers, default=-1) + 1
        for result in scan_shards(self.shards, self.run):
            if isinstance(result, Rejected):
                try:
                    aside = _set_aside(result.path, result.why)
                except OSError as exc:
                    raise os_failure(exc, result.path, "set aside") from None
                self.log(f"warning: {result.problem}; set aside as {aside.name}, its games will be played again")
                continue
            info = result[0]
            self.shard_list.append(info)
            for lo, hi in info.ids:
                self.ledger.add_range(lo, hi)

    # -- writing ---------------------------------------------------------------------------

    def write_shard(self, games: list[GameRecord], produced_by: dict[str, Any]) -> Path | None:
        """Write `games` (complete games only) as the next shard, atomically and durably."""
        if not games:
            return None
        table = games_table(games)
        meta = shard_meta(table, run=self.run, identity=self.settings["identity"], produced_by=produced_by)
        table = table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
        final = self.shards / f"shard-{self.next_shard:06d}.parquet"
        try:
            with replacing(final, durable=True) as tmp, open(tmp, "wb") as f:
                pq.write_table(table, f, compression="zstd")
        except OSError as exc:
            raise os_failure(exc, final) from None
        self.next_shard += 1
        info = ShardInfo(path=final, ids=tuple(tuple(r) for r in meta["ids"]), games=meta["games"], rows=meta["rows"])
        self.shard_list.append(info)
        for lo, hi in info.ids:
            self.ledger.add_range(lo, hi)
        return final

    def write_progress(self, progress: dict[str, Any], *, last: bool = False) -> bool:
        """Rewrite progress.json whole. Raises DiskFull/PerfkitError, except `last`, which tries harder
        (in place, on a full disk) and returns whether it was written."""
        file = self.path / PROGRESS
        text = json.dumps(progress, indent=2).encode()
        text += b" " * (-(len(text) + 1) % PROGRESS_BLOCK) + b"\n"  # whole blocks: see _overwrite
        try:
            # Progress is advice, not data: no fsync on every rewrite, but always whole.
            _write_file(file, text, durable=False)
            return True
        except PerfkitError:
            if not last:
                raise
        return _overwrite(file, text)

    def close(self) -> None:
        self._unlock(self.lock_fd)
        self.lock_fd = None
        if not self.claimed:
            _remove(self.created)
            self.created = []


def _overwrite(file: Path, data: bytes) -> bool:
    """Write `data` over `file` in place: a full disk still takes it if the file already has the room."""
    try:
        if not file.is_file() or file.stat().st_size < len(data):
            return False
        with open(file, "r+b") as f:
            f.write(data)
            f.truncate(len(data))
        return True
    except OSError:
        return False


def _remove(paths: list[Path]) -> None:
    """Remove what a failed start created, innermost first; never a folder that holds anything else."""
    for p in reversed(paths):
        with contextlib.suppress(OSError):
            if p.is_dir():
                shards = p / SHARDS
                if shards.is_dir() and not any(shards.iterdir()):
                    shards.rmdir()
                p.rmdir()
            else:
                p.unlink()


def _foreign_entries(path: Path) -> list[str]:
    """What a folder without settings.json holds besides our lock and an empty shards/."""
    found = [p.name for p in path.iterdir() if p.name not in (LOCK, SHARDS) and not p.name.endswith(TMP_SUFFIX)]
    shards = path / SHARDS
    if shards.is_dir():
        found += [f"{SHARDS}/{p.name}" for p in shards.iterdir()]
    return found


def full_identity(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored identity with the fields it predates filled in (IDENTITY_DEFAULTS); its run hash stays
    that of what was stored (`run_id(stored)`), as its shards carry it."""
    return {**IDENTITY_DEFAULTS, **stored}


def describe_difference(stored: dict[str, Any], now: dict[str, Any]) -> str:
    """`seed 0 here vs 1 now, precision ...` for the keys whose values differ."""
    keys = sorted(set(stored) | set(now))
    parts = [f"{k} {stored.get(k)!r} in DIR vs {now.get(k)!r} now" for k in keys if stored.get(k) != now.get(k)]
    return "; ".join(parts)


# -- reading ---------------------------------------------------------------------------------


@dataclass
class SelfplayData:
    """A self-play directory's games, as DataFrames sorted by game (and ply)."""

    games: pd.DataFrame  # one row per game: GAME_COLUMNS
    moves: pd.DataFrame  # one row per move: MOVE_COLUMNS; each (game, ply) once
    settings: dict[str, Any]  # settings.json
    progress: dict[str, Any] | None  # progress.json, None if absent or unreadable
    path: Path
    skipped: list[str] = field(default_factory=list)  # one line per shard set aside (and why)


def _dir_arg(path: object, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise PerfkitError(f"{what} needs a self-play directory path (str or Path), got {type(path).__name__}")
    folder = Path(path)
    if not folder.is_dir():
        raise PerfkitError(f"{folder} is not a self-play directory: it does not exist; make one with perfkit selfplay")
    return folder


def load_selfplay(path: str | os.PathLike[str], *, log: Callable[[str], None] = log_to_stderr) -> SelfplayData:
    """Every game stored in a self-play directory, each (game, ply) once; PerfkitError if it isn't one.

    Safe to call while a run is writing DIR: only complete shards are read. Shards that cannot
    be trusted (damaged, from another run, repeating another shard) are skipped, one line each
    to `log` and in `SelfplayData.skipped`; nothing is written.
    """
    path = _dir_arg(path, "load_selfplay")
    settings = read_settings(path)
    tables, skipped = [], []
    for result in scan_shards(path / SHARDS, run_id(settings["identity"]), keep_tables=True):
        if isinstance(result, Rejected):
            skipped.append(f"warning: {result.problem}; skipped (perfkit selfplay on {path} sets it aside "
                           "and plays its games again)")
            log(skipped[-1])
            continue
        table = result[1]
        assert table is not None  # scan_shards(keep_tables=True) returns each shard's table
        tables.append(table.replace_schema_metadata(None))
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    df = table.to_pandas()
    df["candidates"] = df["candidates"].map(list)
    df["policy_move_values"] = df["policy_move_values"].map(list)
    df["visits"] = df["visits"].map(list)
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
    return SelfplayData(games=games, moves=moves, settings=settings, progress=read_progress(path), path=path,
                        skipped=skipped)


def read_progress(path: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads((path / PROGRESS).read_text())
        return doc if isinstance(doc, dict) else None
    return None


def verify_selfplay(path: str | os.PathLike[str], *, games: int | None = None) -> dict[str, Any]:
    """Check every shard of DIR against settings.json without writing anything.

    `games`: the N the directory should hold (ids 0..N-1); None: the last session's request, from
    progress.json. A shard holding ids at or beyond it is a problem: no run of this directory
    asked for them.

    Returns {"out", "ok", "shards", "good_shards", "games", "ranges", "games_requested",
    "missing_games", "problems"}: `problems` has one line per shard that resume would set aside
    or that holds games beyond the request.
    """
    path = _dir_arg(path, "verify_selfplay")
    if games is not None and (isinstance(games, bool) or not isinstance(games, int) or games < 1):
        raise PerfkitError(f"games must be a whole number >= 1, got {games!r}")
    settings = read_settings(path)
    ledger, good, problems, accepted = Ledger(), 0, [], []
    shards = 0
    for result in scan_shards(path / SHARDS, run_id(settings["identity"])):
        shards += 1
        if isinstance(result, Rejected):
            problems.append(result.problem)
            continue
        good += 1
        accepted.append(result[0])
        for lo, hi in result[0].ids:
            ledger.add_range(lo, hi)
    requested = games if games is not None else (read_progress(path) or {}).get("games_requested")
    requested = requested if isinstance(requested, int) and not isinstance(requested, bool) else None
    if requested is not None:
        source = "--games" if games is not None else "progress.json's games_requested"
        problems += [_beyond(s, requested, source) for s in accepted if s.hi > requested]
    return {
        "out": str(path),
        "ok": not problems,
        "shards": shards,
        "good_shards": good,
        "games": ledger.count,
        "ranges": ledger.n_ranges,
        "games_requested": requested,
        "missing_games": None if requested is None else requested - ledger.count_below(requested),
        "problems": problems,
    }


def _beyond(shard: ShardInfo, requested: int, source: str) -> str:
    over = [(max(lo, requested), hi) for lo, hi in shard.ids if hi > requested]  # [lo, hi) ranges
    ids = ", ".join(str(lo) if hi - lo == 1 else f"{lo}..{hi - 1}" for lo, hi in over)
    n = sum(hi - lo for lo, hi in over)
    return (f"shard {shard.path.name} holds {n} game{'s' if n > 1 else ''} beyond the {requested} games "
            f"requested ({source}): id{'s' if n > 1 else ''} {ids}")


def digest_dir(shards: list[ShardInfo], window: int = 8192) -> str | None:
    """`game_digest` (analysis.summary) of every stored move, reading `window` game ids at a time.

    Equal to `game_digest(load_selfplay(DIR).moves)` without holding all moves in memory; visits
    only the windows that hold games, so a sparse directory costs what its shards cost.
    """
    if not shards:
        return None
    order = sorted(shards, key=lambda s: s.lo)
    h = hashlib.sha256()
    i, lo = 0, 0
    open_: list[ShardInfo] = []
    while i < len(order) or open_:
        if not open_:
            lo = max(lo, order[i].lo // window * window)
        hi = lo + window
        while i < len(order) and order[i].lo < hi:
            open_.append(order[i])
            i += 1
        parts = [
            pq.read_table(s.path, columns=["game", "ply", "move"], filters=[("game", ">=", lo), ("game", "<", hi)])
            for s in open_
        ]
        df = pa.concat_tables(parts).to_pandas()
        for game, seq in df.sort_values(["game", "ply"]).groupby("game", sort=True)["move"]:
            h.update(f"{game}:{','.join(map(str, seq))};".encode())
        lo = hi
        open_ = [s for s in open_ if s.hi > lo]
    return h.hexdigest()
