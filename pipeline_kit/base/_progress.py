"""The one progress callback type that flows from stages to the task manager.

Stages accept any object with ``update`` and ``check_cancelled``; they never know
whether a widget, a text line, a Dask worker or nothing at all is listening.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

Span = tuple[float, float]


class TaskCancelled(Exception):
    """Raised inside a task at its next progress call after it was cancelled."""


@runtime_checkable
class Progress(Protocol):
    """What a stage may call while it works. Safe to call from any thread."""

    def update(
        self, value: float | None = None, total: float | None = None, *, step: str | None = None,
        within: Span | None = None,
    ) -> None:
        """Report progress: a percentage (``update(42)``) or ``update(done, total)``.

        ``step`` names what is being done now (``"Transcribing"``). Either may be
        omitted to change only the other. ``within=(lo, hi)`` says that this step is
        the part lo..hi % of the task: its own ``done``/``total`` (seconds of audio
        scanned for speech, then seconds of speech decoded) fill that part of the bar
        and are shown as they are, never summed into a total of mixed units.
        """

    def check_cancelled(self) -> None:
        """Raise :class:`TaskCancelled` if the task was cancelled."""


def to_percent(value: float | None, total: float | None,
               within: Span | None = None) -> float | None:
    """Normalise ``update`` arguments to the task's percentage clamped to [0, 100]
    (placed inside ``within`` when given)."""
    if value is None:
        return None
    if total is not None:
        if total <= 0:
            raise ValueError(f"progress total must be positive, got {total!r}")
        value = 100.0 * value / total
    pct = min(100.0, max(0.0, float(value)))
    if within is None:
        return pct
    lo, hi = within
    if not 0 <= lo <= hi <= 100:
        raise ValueError(f"progress part must satisfy 0 <= lo <= hi <= 100, got {within!r}")
    return lo + (hi - lo) * pct / 100.0


def as_span(value: Sequence[float] | None) -> Span | None:
    """A ``within`` that crossed a process as JSON (a list, or None) back as a Span."""
    return None if value is None else (float(value[0]), float(value[1]))


class NullProgress:
    """A progress sink that ignores updates and is never cancelled."""

    def update(
        self, value: float | None = None, total: float | None = None, *, step: str | None = None,
        within: Span | None = None,
    ) -> None:
        to_percent(value, total, within)  # still validates arguments, so misuse shows in tests

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
        self, value: float | None = None, total: float | None = None, *, step: str | None = None,
        within: Span | None = None,
    ) -> None:
        pct = to_percent(value, total, within)
        scaled = None if pct is None else self.start + (self.end - self.start) * pct / 100.0
        self.parent.update(scaled, step=step)

    def check_cancelled(self) -> None:
        self.parent.check_cancelled()


class _WholeBarOnly:
    """A sink written before ``within`` existed: a part's progress reaches it as the
    task's bare percentage (its units are dropped, its bar stays right)."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def update(
        self, value: float | None = None, total: float | None = None, *, step: str | None = None,
        within: Span | None = None,
    ) -> None:
        if within is None:
            self.sink.update(value, total, step=step)
        else:
            self.sink.update(to_percent(value, total, within), step=step)

    def check_cancelled(self) -> None:
        self.sink.check_cancelled()


def _takes_within(progress: Any) -> bool:
    try:
        params = inspect.signature(progress.update).parameters.values()
    except (TypeError, ValueError):  # no signature to read: assume the current protocol
        return True
    return any(p.name == "within" or p.kind is p.VAR_KEYWORD for p in params)


def ensure_progress(progress: Progress | None) -> Progress:
    """``progress`` ready for every ``update`` argument: a :class:`NullProgress` for
    None, and a sink whose ``update`` takes no ``within`` wrapped to get percentages."""
    if progress is None:
        return NullProgress()
    return progress if _takes_within(progress) else _WholeBarOnly(progress)
