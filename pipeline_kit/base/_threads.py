"""How many CPU threads an engine may use: the cores this process may really run on.

``os.cpu_count()`` reports the machine, not what a container's quota, a ``taskset``
mask or N sibling workers leave for one process. Engines started with too many
threads spin against each other (OpenMP teams stall badly when oversubscribed), so
every engine asks here. Order of precedence:

1. an explicit ``threads=`` argument;
2. ``$PIPELINE_KIT_THREADS`` (set by batch for the processes it starts);
3. the share of the available cores for one of N sibling workers (:func:`siblings`),
   capped by ``$OMP_NUM_THREADS`` when set (Dask's nanny sets 1 per worker);
4. all available cores.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
from collections.abc import Iterator
from pathlib import Path

ENV = "PIPELINE_KIT_THREADS"
WAIT_POLICY = "OMP_WAIT_POLICY"
_siblings: contextvars.ContextVar[int] = contextvars.ContextVar(
    "pipeline_kit_sibling_workers", default=1
)


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by this process's cgroup quota (v2 ``cpu.max`` or v1 CFS), or None."""
    for own in _own_cgroup_dirs(root):
        max_file = own / "cpu.max"
        if max_file.is_file():
            quota, _, period = max_file.read_text().partition(" ")
            if quota.strip() != "max" and period.strip():
                return int(quota) / int(period)
        quota_file, period_file = own / "cpu.cfs_quota_us", own / "cpu.cfs_period_us"
        if quota_file.is_file() and period_file.is_file():
            quota_us = int(quota_file.read_text())
            if quota_us > 0:
                return quota_us / int(period_file.read_text())
    return None


def _own_cgroup_dirs(root: Path) -> list[Path]:
    """This process's cgroup folders (v2 unified, v1 cpu controller), then the root."""
    dirs = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        if controllers == "":
            dirs.append(root / rel.lstrip("/"))
        elif "cpu" in controllers.split(","):
            dirs += [root / "cpu" / rel.lstrip("/"), root / "cpu,cpuacct" / rel.lstrip("/")]
    return [*dirs, root, root / "cpu", root / "cpu,cpuacct"]


def available_cores() -> int:
    """Cores this process may run on: its affinity mask, lowered by a cgroup quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        limit = cgroup_cpu_limit()
    except (OSError, ValueError):
        limit = None
    if limit is not None:
        cores = min(cores, max(1, math.floor(limit)))
    return max(1, cores)


def share_of(workers: int, cores: int | None = None) -> int:
    """Threads for one of ``workers`` processes sharing the available cores (at least 1)."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return max(1, (cores or available_cores()) // workers)


@contextlib.contextmanager
def siblings(workers: int) -> Iterator[None]:
    """Within this block (this thread/context), engines take a 1/``workers`` share."""
    token = _siblings.set(max(1, int(workers)))
    try:
        yield
    finally:
        _siblings.reset(token)


@contextlib.contextmanager
def share_env(workers: int) -> Iterator[int]:
    """Set ``$PIPELINE_KIT_THREADS`` to one worker's share for child processes and threads.

    A value the user set is kept. Restored on exit. Yields the threads per worker.
    """
    if os.environ.get(ENV):
        yield engine_threads()
        return
    n = share_of(workers)
    os.environ[ENV] = str(n)
    try:
        yield n
    finally:
        os.environ.pop(ENV, None)


def _positive_env(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"${name} must be a positive integer, got {value!r}")
    return n


def engine_threads(threads: int | None = None) -> int:
    """Threads one engine of this process should use (see the module docstring)."""
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        return threads
    if (env := _positive_env(ENV)) is not None:
        return env
    n = share_of(_siblings.get())
    try:
        omp = _positive_env("OMP_NUM_THREADS")
    except ValueError:
        omp = None  # not ours to police; ignore a malformed value
    return min(n, omp) if omp else n


def limit_torch(threads: int) -> None:
    """Give torch (if this process already imported it) the same thread count."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """torch (if this process imported it) on one thread inside the block, process-wide
    and restored after: for small products a second thread barely speeds up, and on a
    busy machine it spins for a core."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def prefer_passive_openmp() -> bool:
    """Make OpenMP runtimes loaded from now on sleep, not spin, while they wait for work.

    Measured: after torch matmuls in a process (torch's libgomp, default ACTIVE policy),
    CTranslate2's beam search there took 5-30 s instead of 2 s for one piece; with
    ``OMP_WAIT_POLICY=PASSIVE`` set before torch loads, 2 s. A runtime reads the
    variable when it loads, so this must run before ``import torch`` (``import
    pipeline_kit`` does it). A value the user set is kept. Returns whether torch was
    already loaded (then its policy can no longer change).
    """
    import sys

    os.environ.setdefault(WAIT_POLICY, "PASSIVE")
    return "torch" in sys.modules


# On import: pipeline_kit imports this module first, before anything loads OpenMP.
TORCH_LOADED_FIRST = prefer_passive_openmp()

