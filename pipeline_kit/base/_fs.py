"""File-system primitives shared by the audio library and the artifact cache.

Every file is created with ``0o666`` minus the umask (as ``open`` does), never
``mkstemp``'s private ``0o600``, so all result files get the same permissions.
Temporary and staging files are named ``.<base>.<owner>.<random><suffix>``, the
owner being ``<host hash>-<pid>`` of the writing process: after a crash
:func:`sweep_temps` can tell the files of dead writers (removed) from those a
live process is still writing (kept).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o666  # the umask is applied by the kernel, as for open(path, "w")
# .<base>.<8 hex host hash>-<pid>.<12 hex random><optional extension>
_TEMP_RE = re.compile(r"\.(?P<base>.+)\.(?P<host>[0-9a-f]{8})-(?P<pid>\d{1,10})\."
                      r"[0-9a-f]{12}(?:\.[A-Za-z0-9]{1,8})?")


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def owner_tag() -> str:
    """``<host hash>-<pid>`` of this process (read per call: a forked child has its own pid)."""
    return f"{_host_tag()}-{os.getpid()}"


def temp_path(folder: Path, base: str, suffix: str = ".tmp") -> Path:
    """A fresh hidden name in ``folder`` that records this process as the file's owner."""
    return folder / f".{base}.{owner_tag()}.{secrets.token_hex(6)}{suffix}"


def create_new(path: Path) -> BinaryIO:
    """Open a new file for binary writing, mode 0o666 & ~umask; ``FileExistsError`` if it exists.
    Its ``name`` is ``path`` (errors can name it)."""
    def opener(p: str, flags: int) -> int:
        return os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                       FILE_MODE)

    return open(path, "wb", buffering=0, opener=opener)


# A full disk, or a full quota: the same to whoever has to make room.
NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class NoSpaceError(OSError):
    """No space left for a write; the message names the folder and what was written."""


def no_space(error: OSError, path: str | os.PathLike[str], what: str | None = None
             ) -> NoSpaceError:
    """``error`` (ENOSPC or EDQUOT) as a :class:`NoSpaceError` naming ``path``'s folder and
    ``what`` was being written (default: the file's name)."""
    p = Path(path)
    code = error.errno or errno.ENOSPC
    return NoSpaceError(code, f"{os.strerror(code)}: writing {what or p.name} in {p.parent}",
                        str(p))


def fsync_dir(path: Path) -> None:
    """Make a rename or link in ``path`` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows: directories cannot be opened
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_all(out: BinaryIO, view: memoryview) -> None:
    """Write all of ``view`` (raw files may write less than asked). A full disk is a
    :class:`NoSpaceError` naming the file."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (io.BytesIO, ...)
        fd = -1
    while view:
        try:
            written = os.write(fd, view) if fd >= 0 else out.write(view)
        except OSError as e:
            if e.errno in NO_SPACE and not isinstance(e, NoSpaceError):
                raise no_space(e, str(getattr(out, "name", "?"))) from e
            raise
        view = view[written or 0:]


@contextlib.contextmanager
def atomic_writer(path: Path, *, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` when the block ends without an error.

    Readers see the old file or the whole new one: a temporary file in the same
    folder is written, fsynced (unless ``durable`` is False) and renamed over
    ``path``. A killed writer leaves at most that temporary file, which
    :func:`sweep_temps` removes later; an error removes it at once. A full disk is a
    :class:`NoSpaceError` naming ``path`` and its folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path.parent, path.name)
    try:
        with create_new(tmp) as f:
            yield f
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.errno in NO_SPACE:
            raise no_space(e, path) from e
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` with :func:`atomic_writer`."""
    with atomic_writer(path, durable=durable) as f:
        write_all(f, memoryview(data))


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def publish_no_clobber(tmp: Path, final: Path) -> bool:
    """Move ``tmp`` to ``final`` unless ``final`` exists; True when it was moved."""
    try:
        os.link(tmp, final)  # atomic create-if-absent
    except FileExistsError:
        return False
    except OSError as e:  # no hard links here: fall back to check-then-rename
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if final.exists():
            return False
        os.replace(tmp, final)
        return True
    os.unlink(tmp)
    return True


@contextlib.contextmanager
def file_lock(path: Path, *, blocking: bool = True) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (no-op where fcntl is missing).

    With ``blocking=False`` a lock held elsewhere raises ``BlockingIOError`` at once.
    The lock file may be removed by its holder or by :func:`sweep_locks`; a lock taken
    on a file that was removed meanwhile is taken again on the new one.
    """
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with open(path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            try:
                if _same_file(f.fileno(), path):
                    yield
                    return
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not removed or replaced since)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)


def remove_lock(path: Path) -> bool:
    """Remove the lock file ``path`` unless someone holds it; True when removed.

    Safe beside :func:`file_lock`: the file is removed while locked here, and a waiter
    that then gets the old file sees it is gone and locks the new one.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks, nothing to tell
        return False
    try:
        f = open(path, "a")
    except FileNotFoundError:
        return False
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        if not _same_file(f.fileno(), path):
            return False
        os.unlink(path)
        return True


def temp_owner(name: str) -> tuple[str, int] | None:
    """``(host hash, pid)`` recorded in a name made by :func:`temp_path`, else None."""
    m = _TEMP_RE.fullmatch(name)
    return (m.group("host"), int(m.group("pid"))) if m else None


def owner_alive(host: str, pid: int) -> bool:
    """False only when the owner certainly ended: it ran on this host and its pid is gone.

    A reused pid, or an owner on another host sharing the folder, counts as
    alive: keeping a stale file is harmless, removing a live one is not.
    """
    if host != _host_tag():
        return True
    return pid == os.getpid() or pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """True if process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill would terminate the process there; rely on heartbeats
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def sweep_temps(
    folder: Path, *, legacy: Callable[[str], bool] = lambda name: False,
    legacy_age: float = 86400.0,
) -> list[Path]:
    """Remove the temporary files in ``folder`` whose writer is dead; returns them.

    Files named by :func:`temp_path` go when their owner is not alive. Other
    hidden files for which ``legacy(name)`` holds (older temp names, which
    record no owner) go once unmodified for ``legacy_age`` seconds.
    """
    removed: list[Path] = []
    now = time.time()
    with contextlib.suppress(FileNotFoundError, NotADirectoryError), os.scandir(folder) as it:
        for entry in it:
            if not entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            owner = temp_owner(entry.name)
            if owner is not None:
                stale = not owner_alive(*owner)
            else:
                stale = legacy(entry.name) and _age(entry, now) > legacy_age
            if stale:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _age(entry: os.DirEntry[str], now: float) -> float:
    try:
        return now - entry.stat(follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return 0.0


# ----------------------------------------------------------------------------- home

HOME_ENV = "PIPELINE_KIT_HOME"


def user_home_folder() -> Path:
    """The per-user data folder: ``$XDG_DATA_HOME/pipeline_kit``, else
    ``~/.local/share/pipeline_kit`` (the same for every working directory)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"),
                                                          ".local", "share")
    return Path(base) / "pipeline_kit"


def default_home() -> Path:
    """The one default home of the CLI, the notebooks, batch runs and the API:
    ``$PIPELINE_KIT_HOME``, else :func:`user_home_folder`. (It was ``./data``, which
    changed with the working directory, so notebooks and the CLI never met.)"""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else user_home_folder()
