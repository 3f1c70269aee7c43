"""The one progress callback type that flows from stages to the task manager.

Stages accept any object with ``update`` and ``check_cancelled``; they never know
whether a widget, a text line, a Dask worker or nothing at all is listening.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class TaskCancelled(Exception):
    """Raised inside a task at its next progress call after it was cancelled."""


@runtime_checkable
class Progress(Protocol):
    """What a stage may call while it works. Safe to call from any thread."""

    def update(
        self, value: float | None = None, total: float | None = None, *, step: str | None = None
    ) -> None:
        """Report progress: a percentage (``update(42)``) or ``update(done, total)``.

        ``step`` names what is being done now (``"Transcribing"``). Either may be
        omitted to change only the other.
        """

    def check_cancelled(self) -> None:
        """Raise :class:`TaskCancelled` if the task was cancelled."""


def to_percent(value: float | None, total: float | None) -> float | None:
    """Normalise ``update`` arguments to a percentage clamped to [0, 100]."""
    if value is None:
        return None
    if total is not None:
        if total <= 0:
            raise ValueError(f"progress total must be positive, got {total!r}")
        value = 100.0 * value / total
    return min(100.0, max(0.0, float(value)))


class NullProgress:
    """A progress sink that ignores updates and is never cancelled."""

    def update(
        self, value: float | None = None, total: float | None = None, *, step: str | None = None
    ) -> None:
        to_percent(value, total)  # still validates arguments, so misuse shows in tests

    def check_cancelled(self) -> None:
        return None


class ScaledProgress:
    """Maps a sub-task's 0–100 % onto ``[start, end]`` of a parent's progress.

    Lets a stage that is one part of a larger job report its own percentages.
    """

    def __init__(self, parent: Progress, start: float, end: float) -> None:
        if not 0 <= start <= end <= 100:
            raise ValueError(f"need 0 <= start <= end <= 100, got {start}, {end}")
        self.parent, self.start, self.end = parent, start, end

    def update(
        self, value: float | None = None, total: float | None = None, *, step: str | None = None
    ) -> None:
        pct = to_percent(value, total)
        scaled = None if pct is None else self.start + (self.end - self.start) * pct / 100.0
        self.parent.update(scaled, step=step)

    def check_cancelled(self) -> None:
        self.parent.check_cancelled()


def ensure_progress(progress: Progress | None) -> Progress:
    """Return ``progress`` or a :class:`NullProgress` when it is ``None``."""
    return NullProgress() if progress is None else progress
