"""Task manager: run functions as tracked, persisted, cancellable, retryable tasks.

Knows nothing about audio; stages only see the :class:`~pipeline_kit.base._progress.Progress`
object it passes to any task function with a ``progress`` parameter.
"""

from __future__ import annotations

from pipeline_kit.base._progress import TaskCancelled
from pipeline_kit.tasks._callables import NotStorableError
from pipeline_kit.tasks._handle import TaskHandle
from pipeline_kit.tasks._manager import TaskManager, current_manager
from pipeline_kit.tasks._metrics import DurationStats, TaskMetrics
from pipeline_kit.tasks._reporter import TaskProgress
from pipeline_kit.tasks._retry import RetryPolicy, TaskNotRetryableError
from pipeline_kit.tasks._run import current_task_id
from pipeline_kit.tasks._store import (
    PostgresTaskStore,
    SQLiteTaskStore,
    StoreConnectionError,
    TaskStore,
    default_store_path,
    open_store,
    pipeline_home,
)
from pipeline_kit.tasks._types import AmbiguousTaskIdError, TaskInfo, TaskStatus, TaskType

__all__ = [
    "AmbiguousTaskIdError",
    "DurationStats",
    "NotStorableError",
    "RetryPolicy",
    "PostgresTaskStore",
    "SQLiteTaskStore",
    "StoreConnectionError",
    "TaskCancelled",
    "TaskHandle",
    "TaskInfo",
    "TaskManager",
    "TaskMetrics",
    "TaskNotRetryableError",
    "TaskProgress",
    "TaskStatus",
    "TaskStore",
    "TaskType",
    "current_manager",
    "current_task_id",
    "default_store_path",
    "open_store",
    "pipeline_home",
]
