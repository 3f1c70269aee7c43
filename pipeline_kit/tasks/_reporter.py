"""The progress object a running task calls: cheap, thread-safe, throttled.

``update`` only stores numbers and asks the :class:`Throttle`; at most one message
per ``interval`` crosses to the manager's loop, plus one trailing flush so the last
value before a quiet spell is not lost. Cancellation and timeouts arrive as a
``stop`` exception that the next ``update``/``check_cancelled`` raises.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from pipeline_kit.base._progress import Span, TaskCancelled, to_percent
from pipeline_kit.tasks._throttle import Throttle


class TaskProgress:
    """:class:`~pipeline_kit.base._progress.Progress` for one task attempt.

    ``flush`` is called (on the manager's loop) with this reporter when values
    should be published; ``post(fn, *args)`` runs ``fn`` on that loop from any thread.
    ``task_id`` lets a task name itself, e.g. as a parent. ``done``/``total`` keep
    the units of the last ``update(done, total)`` (None after a bare percentage).
    """

    __slots__ = (
        "task_id", "percent", "step", "done", "total", "stop", "_loop", "_send", "_flush",
        "_throttle", "_scheduled", "_on_stop",
    )

    def __init__(
        self,
        task_id: str,
        loop: asyncio.AbstractEventLoop,
        flush: Callable[[TaskProgress], None],
        interval: float = 0.25,
        post: Callable[..., None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.task_id = task_id
        self.percent: float | None = None
        self.step: str | None = None
        self.done: float | None = None
        self.total: float | None = None
        self.stop: BaseException | None = None
        self._loop, self._flush = loop, flush
        self._throttle = Throttle(interval, clock=clock)
        self._send = post if post is not None else loop.call_soon_threadsafe
        self._scheduled = False
        self._on_stop: list[Callable[[], None]] = []

    def update(
        self, value: float | None = None, total: float | None = None, *, step: str | None = None,
        within: Span | None = None,
    ) -> None:
        """Record progress (percent, or done/total units) and/or the current step name."""
        if self.stop is not None:
            raise self.stop
        if value is not None:
            self.percent = to_percent(value, total, within)
            self.done, self.total = (float(value), float(total)) if total is not None else (
                None, None)
        if step is not None:
            self.step = step
        wait = self._throttle.wait()
        if wait > 0:
            if not self._scheduled:  # one trailing flush per interval, never more
                self._scheduled = True
                self._post(wait)
            return
        self._throttle.sent()
        self._post(0.0)

    def check_cancelled(self) -> None:
        """Raise :class:`TaskCancelled` (or the timeout's stop signal) if asked to stop."""
        if self.stop is not None:
            raise self.stop

    # -- manager side (called on the manager's loop) -------------------------------

    def _post(self, delay: float) -> None:
        try:
            self._send(self._emit, delay)
        except RuntimeError:  # loop closed: the manager is gone, nobody listens
            pass

    def _emit(self, delay: float) -> None:
        if delay > 0:
            self._loop.call_later(delay, self._emit, 0.0)
            return
        self._scheduled = False
        self._throttle.sent()
        self._flush(self)

    def request_stop(self, exc: BaseException) -> None:
        """Ask the task to stop: its next progress call raises ``exc``."""
        if self.stop is None:
            self.stop = exc
            for hook in self._on_stop:
                hook()

    def on_stop(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` (on the manager's loop) when a stop is requested."""
        self._on_stop.append(hook)
        if self.stop is not None:
            hook()


__all__ = ["TaskProgress", "TaskCancelled"]
