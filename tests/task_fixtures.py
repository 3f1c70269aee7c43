"""Importable task functions for the task-manager tests (also run in subprocesses).

Module-level, JSON arguments only, so they can be stored as ``module:qualname``
and run again in a fresh process. Coordination with the test uses threading
events (same process) or marker files (other processes).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from pipeline_kit.tasks import TaskType, current_manager

EVENTS: dict[str, threading.Event] = {}
CALLS: dict[str, int] = {}
_lock = threading.Lock()
_generation = 0  # bumped by reset(): ends ``block`` calls left over from an earlier test


def reset() -> None:
    """Forget events and call counts (a test may run once per store backend)."""
    global _generation
    with _lock:
        EVENTS.clear()
        CALLS.clear()
        _generation += 1


def event(name: str) -> threading.Event:
    """A named event shared between a test and its task functions."""
    with _lock:
        return EVENTS.setdefault(name, threading.Event())


def noop() -> None:
    return None


def add(a: float, b: float) -> float:
    return a + b


def steps(n: int, delay: float = 0.0, progress: Any = None) -> dict[str, int]:
    """Reports ``n`` steps of progress with a step label."""
    for i in range(n):
        progress.update(i + 1, n, step=f"step {i + 1}/{n}")
        if delay:
            time.sleep(delay)
    return {"steps": n}


def block(name: str, progress: Any = None) -> str:
    """Sets ``<name>.started``, then waits for ``<name>.release`` while checking cancellation.

    A call still blocked when the next test resets the fixtures returns then, so a test
    that failed (e.g. a cancel that never reached the task) leaves no thread that would
    keep the test process from exiting.
    """
    started_in = _generation
    event(f"{name}.started").set()
    while not event(f"{name}.release").wait(0.01) and _generation == started_in:
        try:
            progress.check_cancelled()
        except BaseException:
            event(f"{name}.stopped").set()
            raise
    return name


def units_then_done(name: str, progress: Any = None) -> str:
    """Reports 5/10 units, then a bare 100 % "done" step, then blocks as :func:`block`."""
    progress.update(5, 10, step="Transcribing")
    time.sleep(0.05)
    progress.update(100, step="Transcription done")
    return block(name, progress)


def sleep_quietly(seconds: float) -> str:
    """Sleeps without ever calling progress (cannot be stopped early)."""
    time.sleep(seconds)
    return "slept"


def fail(message: str) -> None:
    raise ValueError(message)


def fail_times(name: str, times: int) -> str:
    """Fails with ConnectionError the first ``times`` calls for ``name``, then succeeds."""
    with _lock:
        CALLS[name] = CALLS.get(name, 0) + 1
        n = CALLS[name]
    if n <= times:
        raise ConnectionError(f"{name}: transient failure {n}")
    return f"{name} ok after {n} calls"


def fail_unless_file(path: str) -> str:
    """Fails unless ``path`` exists: a failure that a later process can fix."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"missing {path}")
    return p.read_text()


def write_then_hang(marker: str, progress: Any = None) -> None:
    """Writes ``marker`` once running, then works (slowly) for a long time."""
    Path(marker).write_text("running")
    for i in range(100_000):
        progress.update(i % 100, step="hanging")
        time.sleep(0.05)


def process_steps(n: int, delay: float, progress: Any = None) -> dict[str, Any]:
    """Like :func:`steps`, meant for ``executor="process"``; returns its pid."""
    import os

    for i in range(n):
        progress.update(i + 1, n, step=f"proc {i + 1}/{n}")
        time.sleep(delay)
    return {"pid": os.getpid(), "steps": n}


def process_until_cancelled(marker: str, progress: Any = None) -> None:
    Path(marker).write_text("started")
    while True:
        progress.check_cancelled()
        time.sleep(0.01)


class Record:
    """An object with ``to_dict()``, like the stages' result records."""

    def __init__(self, text: str) -> None:
        self.text = text

    def to_dict(self) -> dict[str, str]:
        return {"text": self.text}


def make_record(text: str) -> Record:
    return Record(text)


async def async_steps(n: int, progress: Any = None) -> int:
    for i in range(n):
        progress.update(i + 1, n, step="async")
        await asyncio.sleep(0.001)
    return n


async def pipeline(n: int, progress: Any = None) -> list[Any]:
    """A parent PIPELINE task: submits ``n`` children and awaits them on the manager's loop."""
    tm = current_manager()
    handles = [tm.submit(steps, 3, 0.001, task_type=TaskType.TRANSCRIPTION) for _ in range(n)]
    results = []
    for i, h in enumerate(handles):
        results.append(await h)
        progress.update(i + 1, n, step=f"child {i + 1}/{n}")
    return results


async def pipeline_blocking_child(name: str, progress: Any = None) -> Any:
    tm = current_manager()
    return await tm.submit(block, name, task_type=TaskType.TRANSCRIPTION)


async def async_sleep(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "woke"


def fail_after(n: int, k: int, progress: Any = None) -> None:
    """Reports ``k`` of ``n`` units quickly, then fails (its last progress is k/n)."""
    for i in range(k):
        progress.update(i + 1, n, step=f"unit {i + 1}/{n}")
    raise ValueError(f"failed after {k} of {n}")


def second_part_units(progress: Any = None) -> None:
    """Reports 3 of 8 units of a step that fills 50..100 % of the bar, then fails (so
    its last progress stays as it was sent)."""
    progress.update(3, 8, step="second part", within=(50.0, 100.0))
    raise ValueError("stopped in the second part")


def spin_forever(pid_file: str) -> None:
    """Burns CPU and never calls progress: only a forced stop ends it."""
    import os

    Path(pid_file).write_text(str(os.getpid()))
    x = 0
    while True:
        x = (x * 31 + 7) % 1_000_003


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of ``pid`` in clock ticks; None once it has exited (or is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[11]) + int(fields[12])


def seconds_until_cpu_stops(pid: int, since: float, quiet: float = 0.5,
                            timeout: float = 15.0) -> float:
    """Seconds from ``since`` (monotonic) to the last CPU tick of ``pid``.

    Stopped means: exited, or no new tick for ``quiet`` seconds. Raises
    AssertionError if it still burns CPU after ``timeout`` seconds.
    """
    last_ticks, last_change = cpu_ticks(pid), time.monotonic()
    while time.monotonic() - since < timeout:
        time.sleep(0.02)
        ticks = cpu_ticks(pid)
        now = time.monotonic()
        if ticks is None:
            return now - since
        if ticks != last_ticks:
            last_ticks, last_change = ticks, now
        elif now - last_change >= quiet:
            return last_change - since
    raise AssertionError(f"pid {pid} still uses CPU {timeout} s after the cancel")


def wait_for_pid(pid_file: Path, timeout: float = 60.0) -> int:
    """The pid a task wrote to ``pid_file`` (waits for it to appear)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = pid_file.read_text() if pid_file.exists() else ""
        if text:
            return int(text)
        time.sleep(0.02)
    raise AssertionError(f"{pid_file} never appeared")
