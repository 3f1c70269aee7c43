"""What ``submit`` returns: block on it in a script, ``await`` it in a notebook."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
from collections.abc import Callable, Generator
from typing import Any, Protocol

from pipeline_kit.tasks._retry import RetryPolicy
from pipeline_kit.tasks._types import TaskInfo, TaskStatus
from pipeline_kit.tasks._views import views


class TaskOwner(Protocol):
    """What a :class:`~pipeline_kit.tasks.TaskHandle` asks of its manager."""

    def get_task_status(self, task_id: str) -> TaskInfo | None: ...

    def store_error(self, task_id: str) -> str | None: ...

    def cancel(self, task_id: str) -> bool: ...

    def _refuse_blocking_on_loop(self, what: str) -> None: ...


class TaskChain:
    """The attempts of one submitted task (the first and its retries) and one future.

    The future is settled once, by the final attempt; it is marked running at once
    so nobody can cancel it behind the manager's back.
    """

    __slots__ = ("future", "task_ids", "policy")

    def __init__(self, policy: RetryPolicy | None) -> None:
        self.future: cf.Future[Any] = cf.Future()
        self.future.set_running_or_notify_cancel()
        self.task_ids: list[str] = []
        self.policy = policy

    @property
    def current(self) -> str:
        return self.task_ids[-1]


async def await_future(fut: cf.Future[Any]) -> Any:
    """Await a concurrent future from any running loop without polling or cancelling it."""
    if fut.done():
        return fut.result()
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()

    def copy() -> None:
        if waiter.done():  # the awaiting coroutine was cancelled
            return
        exc = fut.exception()
        if exc is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(fut.result())

    def on_done(_: cf.Future[Any]) -> None:
        try:
            loop.call_soon_threadsafe(copy)
        except RuntimeError:
            pass  # that loop is closed; nobody is waiting any more

    fut.add_done_callback(on_done)
    return await waiter


class TaskHandle:
    """A submitted task. Follows automatic retries to the final attempt.

    ``result()`` blocks (scripts); ``await handle`` works in any running loop
    (Jupyter, or an ``async def`` task on the manager). A failed task raises its
    exception, a cancelled one :class:`~pipeline_kit.base._progress.TaskCancelled`, a
    timed-out one :class:`TimeoutError`.
    """

    __slots__ = ("_manager", "_chain")

    def __init__(self, manager: TaskOwner, chain: TaskChain) -> None:
        self._manager, self._chain = manager, chain

    @property
    def task_id(self) -> str:
        """Id of the latest attempt (changes when an automatic retry starts)."""
        return self._chain.current

    @property
    def task_ids(self) -> tuple[str, ...]:
        """Ids of every attempt so far, first to latest."""
        return tuple(self._chain.task_ids)

    @property
    def info(self) -> TaskInfo | None:
        """Snapshot of the latest attempt."""
        return self._manager.get_task_status(self.task_id)

    @property
    def status(self) -> TaskStatus | None:
        info = self.info
        return None if info is None else info.status

    @property
    def store_error(self) -> str | None:
        """Why the latest state is not in the store (a failed write); None when it is."""
        return self._manager.store_error(self.task_id)

    @property
    def manager(self) -> TaskOwner:
        return self._manager

    def done(self) -> bool:
        """True once the final attempt has finished (any terminal state)."""
        return self._chain.future.done()

    def result(self, timeout: float | None = None) -> Any:
        """Block until the task finishes and return its value (or raise its error)."""
        self._manager._refuse_blocking_on_loop("handle.result()")
        return self._chain.future.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Block until finished; the task's exception, or None if it completed."""
        self._manager._refuse_blocking_on_loop("handle.exception()")
        return self._chain.future.exception(timeout)

    def cancel(self) -> bool:
        """Cancel the latest attempt; False if it had already finished."""
        return self._manager.cancel(self.task_id)

    def add_done_callback(self, fn: Callable[[TaskHandle], Any]) -> None:
        """Call ``fn(handle)`` once the task finishes (on the thread that settles it)."""
        self._chain.future.add_done_callback(lambda _f: fn(self))

    @property
    def future(self) -> cf.Future[Any]:
        """The underlying concurrent future (settled once, by the final attempt)."""
        return self._chain.future

    def __await__(self) -> Generator[Any, None, Any]:
        return await_future(self._chain.future).__await__()

    def __repr__(self) -> str:
        info = self.info
        if info is None:
            return f"<TaskHandle {self.task_id}>"
        return (
            f"<TaskHandle {info.task_id[:8]} {info.task_type} {info.status.value} "
            f"{info.progress_percentage:.0f}% attempt {info.attempt}>"
        )

    def _ipython_display_(self) -> None:
        views().show(self._manager, select=self)
