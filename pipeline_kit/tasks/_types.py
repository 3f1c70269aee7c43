"""Task records: what kind of work, which state it is in, and its full history entry.

A :class:`TaskInfo` is an immutable snapshot. The manager replaces it on every
change, so a snapshot handed to another thread (a widget, ``get_task_status``)
never changes under the reader.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any


class TaskType(StrEnum):
    """The kinds of work the toolkit runs (the seed's six plus a parent run)."""

    AUDIO_UPLOAD_PROCESSING = "audio_upload_processing"
    TRANSCRIPTION = "transcription"
    SEMANTIC_CHUNKING = "semantic_chunking"
    GRAPH_GENERATION = "graph_generation"
    CHAPTER_ANALYSIS = "chapter_analysis"
    QUESTION_GENERATION = "question_generation"
    PIPELINE = "pipeline"


class TaskStatus(StrEnum):
    """Life cycle of one attempt: PENDING → RUNNING → one terminal state."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})
ACTIVE = frozenset({TaskStatus.PENDING, TaskStatus.RUNNING})


SHORT_ID_MIN = 6  # the shortest id prefix a user may type (lines and tables show 6)


class AmbiguousTaskIdError(ValueError):
    """An id prefix that matches several task attempts; ``matches`` lists them."""

    def __init__(self, prefix: str, matches: list[str]) -> None:
        self.prefix, self.matches = prefix, matches
        super().__init__(f"task id prefix {prefix!r} is ambiguous: it matches "
                         f"{', '.join(matches)}; type more characters")


def utcnow() -> datetime:
    """Timezone-aware current time in UTC (all task times use it)."""
    return datetime.now(UTC)


def coerce_task_type(value: TaskType | str) -> TaskType | str:
    """A :class:`TaskType` when ``value`` names one, else the string (custom types)."""
    if isinstance(value, TaskType):
        return value
    try:
        return TaskType(value)
    except ValueError:
        if not isinstance(value, str) or not value:
            msg = f"task_type must be a TaskType or a non-empty string: {value!r}"
            raise ValueError(msg) from None
        return value


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """One attempt of one task: the seed's fields plus times, lineage and ownership.

    ``callable_ref``/``call_args`` keep how to run the attempt again in a new process
    (``"module:qualname"`` and JSON); ``not_retryable_reason`` says why they could not
    be stored. ``host``/``pid``/``manager_id`` name the owner, for crash recovery.
    """

    task_id: str
    task_type: TaskType | str
    status: TaskStatus = TaskStatus.PENDING
    progress_percentage: float = 0.0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    error_message: str | None = None
    result_data: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    heartbeat_at: datetime | None = None
    attempt: int = 1
    retry_of: str | None = None
    parent_id: str | None = None
    current_step: str | None = None
    error_type: str | None = None
    error_traceback: str | None = None
    timeout: float | None = None
    callable_ref: str | None = None
    call_args: str | None = None
    not_retryable_reason: str | None = None
    host: str | None = None
    pid: int | None = None
    manager_id: str | None = None
    progress_done: float | None = None
    progress_total: float | None = None
    progress_rate: float | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to now while running); None before it starts."""
        if self.started_at is None:
            return None
        end = self.completed_at or utcnow()
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None without units or a rate)."""
        if (self.status is not TaskStatus.RUNNING or not self.progress_rate
                or self.progress_done is None or self.progress_total is None):
            return None
        return max(0.0, (self.progress_total - self.progress_done) / self.progress_rate)

    def replace(self, **changes: Any) -> TaskInfo:
        """A copy with ``changes`` applied (snapshots are immutable)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict: enums as values, times as ISO 8601 strings."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Enum):
                v = v.value
            elif isinstance(v, datetime):
                v = v.isoformat()
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskInfo:
        """Inverse of :meth:`to_dict`."""
        kw = dict(d)
        kw["task_type"] = coerce_task_type(kw["task_type"])
        kw["status"] = TaskStatus(kw.get("status", "pending"))
        for f in dataclasses.fields(cls):
            if f.name.endswith("_at") and isinstance(kw.get(f.name), str):
                kw[f.name] = datetime.fromisoformat(kw[f.name])
        return cls(**kw)
