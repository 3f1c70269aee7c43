"""Progress inside another process (process or Dask executor): throttled messages out."""

from __future__ import annotations

import time

from pipeline_kit._progress import TaskCancelled, to_percent


class RemoteProgress:
    """Keeps the latest percent/step and sends at most one message per ``interval``.

    A change of step goes out sooner (after a tenth of the interval), so short steps
    are still seen. Subclasses say how to send and how to tell a cancel.
    """

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last = 0.0
        self._sent_step: str | None = None
        self.percent: float | None = None
        self.step: str | None = None

    def update(self, value: float | None = None, total: float | None = None, *,
               step: str | None = None) -> None:
        """Record progress (checks for a cancel first); maybe send it."""
        self.check_cancelled()
        if value is not None:
            self.percent = to_percent(value, total)
        if step is not None:
            self.step = step
        now = time.monotonic()
        gap = now - self._last
        if gap >= self._interval or (self.step != self._sent_step and gap >= self._interval / 10):
            self._last, self._sent_step = now, self.step
            self._send(self.percent, self.step)

    def check_cancelled(self) -> None:
        """Raise :class:`TaskCancelled` once the task was cancelled."""
        if self._is_cancelled():
            raise TaskCancelled("task was cancelled")

    def _send(self, percent: float | None, step: str | None) -> None:
        raise NotImplementedError

    def _is_cancelled(self) -> bool:
        raise NotImplementedError
