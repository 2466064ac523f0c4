"""perfkit's one way to write a file or a run directory: complete or absent, never half-written.

What is written goes to a temporary path beside the target (same folder, so the same
filesystem) and is renamed onto it; POSIX renames are atomic, so a reader, a crash or a full
disk sees the old content or the new one. Errors are the filesystem's `OSError`s: each caller
words them for its user (a report path, a self-play store's DiskFull).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

TMP_SUFFIX = ".tmp"  # a leftover of a crash ends so (selfplay's store skips and removes them)


def temp_beside(path: Path) -> Path:
    """The temporary path a write of `path` goes through: hidden, per process, in the same folder."""
    return path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")


def fsync_dir(path: Path) -> None:
    """Make a rename in folder `path` survive a crash (where the filesystem can say so)."""
    with contextlib.suppress(OSError):  # some filesystems cannot fsync a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str], *, durable: bool = False) -> Iterator[Path]:
    """A temporary path to write (a file, or a folder made in the block), renamed onto `path`
    when the block ends; removed, leaving `path` as it was, when the block or the rename fails.

    durable: fsync the file and then its folder, so the new content survives a crash (a
    self-play shard); without it the write is atomic but may be lost with the machine.
    """
    path = Path(path)
    tmp = temp_beside(path)
    try:
        yield tmp
        if durable and tmp.is_file():
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    if durable:
        fsync_dir(path.parent)


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, durable: bool = False) -> Path:
    """Replace the file `path` with `data` (str is written as UTF-8); returns the path.

    Raises OSError (the target's folder must exist); `path` is left as it was on failure.
    """
    path = Path(path)
    with replacing(path, durable=durable) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path
