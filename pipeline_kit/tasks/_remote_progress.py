"""Progress inside another process (process or Dask executor): throttled messages out."""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline_kit.base._progress import Span, TaskCancelled, to_percent
from pipeline_kit.tasks._throttle import Throttle


class RemoteProgress:
    """Keeps the latest update and sends at most one message per ``interval``.

    A change of step goes out sooner (after a tenth of the interval), so short steps
    are still seen; :meth:`flush` sends what is still unsent (called before the
    result, so a task's last real progress always arrives). Subclasses say how to
    send and how to tell a cancel. A message is ``(value, total, step, within)``, the
    arguments of the last ``update`` with a value, so units survive the trip.
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._throttle = Throttle(interval, step_interval=interval / 10, clock=clock)
        self._sent_step: str | None = None
        self._unsent = False
        self.value: float | None = None
        self.total: float | None = None
        self.within: Span | None = None
        self.step: str | None = None

    def update(self, value: float | None = None, total: float | None = None, *,
               step: str | None = None, within: Span | None = None) -> None:
        """Record progress (checks for a cancel first); maybe send it."""
        self.check_cancelled()
        if value is not None:
            to_percent(value, total, within)  # refuse bad arguments here, in the task's frame
            self.value, self.total, self.within = value, total, within
        if step is not None:
            self.step = step
        self._unsent = True
        if self._throttle.wait(step_changed=self.step != self._sent_step) == 0.0:
            self.flush()

    def flush(self) -> None:
        """Send the latest values now if they have not been sent."""
        if self._unsent:
            self._throttle.sent()
            self._sent_step, self._unsent = self.step, False
            self._send(self.value, self.total, self.step, self.within)

    def check_cancelled(self) -> None:
        """Raise :class:`TaskCancelled` once the task was cancelled."""
        if self._is_cancelled():
            raise TaskCancelled("task was cancelled")

    def _send(self, value: float | None, total: float | None, step: str | None,
              within: Span | None) -> None:
        raise NotImplementedError

    def _is_cancelled(self) -> bool:
        raise NotImplementedError
