"""The collection's DuckDB file: telling a damaged file from other errors, setting one
aside so the index (derived data) can be rebuilt from the runs' artifacts, and the lock
that lets one writer or many readers at it."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

log = logging.getLogger("pipeline_kit.collection")

# What DuckDB 1.x/2.x says about a file it cannot trust; a lock held by another
# process ("Could not set lock on file") is an IOException too, and is not one of these.
_DAMAGE = ("Corrupt database file", "not a valid DuckDB database file",
           "Could not read enough bytes from file", "Serialization Error")


def is_damaged(error: BaseException) -> bool:
    """True when ``error`` is DuckDB refusing a corrupt, truncated or foreign file."""
    import duckdb

    return isinstance(error, duckdb.Error) and any(s in str(error) for s in _DAMAGE)


def set_aside(db_path: Path) -> Path:
    """Rename ``db_path`` (and its write-ahead log) to ``<name>.corrupt-<UTC time>``;
    the new path. Kept, not deleted: the file may matter to whoever investigates."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    aside = db_path.with_name(f"{db_path.name}.corrupt-{stamp}")
    db_path.rename(aside)
    wal = db_path.with_name(db_path.name + ".wal")
    if wal.exists():
        wal.rename(aside.with_name(aside.name + ".wal"))
    return aside


class CollectionBusyError(TimeoutError):
    """Another process held the collection's lock for longer than the wait allowed."""


class ReadOnlyCollectionError(PermissionError):
    """The collection's folder cannot be written: it can be read, not indexed or repaired."""


def writable(folder: Path) -> bool:
    """Whether this process can write in ``folder`` (tried, not guessed from its mode:
    a read-only mount, another owner and dropped privileges all show here)."""
    try:
        with open(folder / ".lock", "a"):
            return True
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return False
        raise


@contextlib.contextmanager
def index_lock(folder: Path, *, exclusive: bool, timeout: float) -> Iterator[None]:
    """The collection's lock (``<folder>/.lock``): one writer, or any number of readers.

    Waits up to ``timeout`` seconds, then raises :class:`CollectionBusyError` naming
    the process that holds it. A writer leaves its pid in the file (the fallback when
    the kernel's lock table cannot be read). A reader of a folder it cannot write takes
    the lock through a read-only handle, or none when there is no lock file (then no
    writer has ever written there).
    """
    path = folder / ".lock"
    if not exclusive and not writable(folder):
        if not path.exists():
            yield
            return
        with open(path) as f:
            _acquire(f, path, exclusive, timeout)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return
    with open(path, "a+") as f:
        _acquire(f, path, exclusive, timeout)
        try:
            if exclusive:
                f.seek(0)
                f.truncate()
                f.write(f"{os.getpid()}\n")
                f.flush()
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _acquire(f: IO[str], path: Path, exclusive: bool, timeout: float) -> None:
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            fcntl.flock(f, mode)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise CollectionBusyError(
                    f"{path.parent}: the collection is in use by {_holders(path)} "
                    f"(waited {timeout:g} s to {'write' if exclusive else 'read'}); "
                    f"try again when it ends") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


def _holders(path: Path) -> str:
    """``pid N (its command line)`` for each process holding a lock on ``path``."""
    pids = lock_holders(path)
    if not pids:
        with contextlib.suppress(OSError, ValueError):
            pids = [int(path.read_text().split()[0])]  # the last writer's own note
    if not pids:
        return "another process"
    return ", ".join(f"pid {pid}{_command(pid)}" for pid in pids)


def lock_holders(path: Path) -> list[int]:
    """Pids holding flock locks on ``path``, from ``/proc/locks`` (Linux); else []."""
    try:
        inode = path.stat().st_ino
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids = []
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 00:2f:5678 0 EOF"; waiters have "->" second
        if len(fields) >= 6 and fields[1] == "FLOCK" and \
                fields[5].rsplit(":", 1)[-1] == str(inode):
            pids.append(int(fields[4]))
    return sorted(set(pids))


def _command(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    words = raw.decode(errors="replace").split("\0")
    text = " ".join(w for w in words if w)
    return f" ({text[:120]})" if text else ""
