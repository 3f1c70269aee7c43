"""The one rule for how often progress crosses a boundary (thread → loop, process → parent)."""

from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    """At most one message per ``interval`` seconds; a new step may go out after ``step_interval``.

    ``clock`` is injectable so tests decide time instead of sleeping.
    """

    __slots__ = ("interval", "step_interval", "clock", "_last")

    def __init__(self, interval: float, *, step_interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.step_interval = interval if step_interval is None else step_interval
        self.clock = clock
        self._last = float("-inf")

    def wait(self, step_changed: bool = False) -> float:
        """Seconds until a message may go out (0.0: now)."""
        limit = self.step_interval if step_changed else self.interval
        return max(0.0, limit - (self.clock() - self._last))

    def sent(self) -> None:
        """Note that a message went out now."""
        self._last = self.clock()
