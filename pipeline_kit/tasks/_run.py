"""Manager-side state of one attempt, and the context a running task sees."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

from pipeline_kit.tasks._handle import TaskChain
from pipeline_kit.tasks._reporter import TaskProgress
from pipeline_kit.tasks._types import TaskInfo

current_task: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pipeline_kit_current_task", default=None
)
# Holds the running task's TaskManager (typed loosely: the manager imports this module).
current_manager_var: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "pipeline_kit_current_manager", default=None
)


def current_task_id() -> str | None:
    """Id of the task whose code is running now (None outside a task)."""
    return current_task.get()


class Run:
    """Manager-side state of one attempt. ``info`` is swapped, never mutated.

    ``store_error`` says why the attempt's latest state could not be written to the
    store (None while every write succeeded).
    """

    __slots__ = (
        "info", "fn", "args", "kwargs", "chain", "reporter", "executor", "atask", "timer",
        "children", "store_error", "rate_base",
    )

    def __init__(self, info: TaskInfo, fn: Any, args: tuple, kwargs: dict, chain: TaskChain,
                 reporter: TaskProgress, executor: str) -> None:
        self.info, self.fn, self.args, self.kwargs = info, fn, args, kwargs
        self.chain, self.reporter, self.executor = chain, reporter, executor
        self.atask: asyncio.Task[Any] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.children: list[Run] = []
        self.store_error: str | None = None
        # (monotonic time, done, total) of the first report of the current unit count.
        self.rate_base: tuple[float, float, float] | None = None
