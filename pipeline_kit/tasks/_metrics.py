"""Task statistics computed from the records themselves (never a separate counter)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline_kit.tasks._types import TaskInfo, TaskStatus


def _quantile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated quantile of already sorted values (like numpy's default)."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(frozen=True)
class DurationStats:
    """Run times in seconds of finished attempts."""

    count: int = 0
    mean: float | None = None
    p50: float | None = None
    p95: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> DurationStats:
        v = sorted(values)
        if not v:
            return cls()
        return cls(len(v), sum(v) / len(v), _quantile(v, 0.5), _quantile(v, 0.95), v[-1])


@dataclass(frozen=True)
class TaskMetrics:
    """Counts by type and status, durations, retries, cancellations, timeouts.

    ``store_errors``: store writes that failed after retrying (set by the manager).
    """

    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    duration: DurationStats = field(default_factory=DurationStats)
    duration_by_type: dict[str, DurationStats] = field(default_factory=dict)
    retries: int = 0
    cancellations: int = 0
    timeouts: int = 0
    interrupted: int = 0
    store_errors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute_metrics(infos: Iterable[TaskInfo]) -> TaskMetrics:
    """Metrics over task attempts (each attempt, including retries, is one record)."""
    by_status: Counter[str] = Counter()
    by_type: dict[str, Counter[str]] = defaultdict(Counter)
    durations: list[float] = []
    durations_by_type: dict[str, list[float]] = defaultdict(list)
    total = retries = timeouts = interrupted = 0
    for info in infos:
        total += 1
        status, kind = str(info.status), str(info.task_type)
        by_status[status] += 1
        by_type[kind][status] += 1
        retries += info.retry_of is not None
        timeouts += info.error_type == "TimeoutError"
        interrupted += info.error_type == "TaskInterrupted"
        if info.status is TaskStatus.COMPLETED or info.status is TaskStatus.FAILED:
            d = info.duration
            if d is not None and info.completed_at is not None:
                durations.append(d)
                durations_by_type[kind].append(d)
    return TaskMetrics(
        total=total,
        by_status=dict(by_status),
        by_type={k: dict(v) for k, v in by_type.items()},
        duration=DurationStats.of(durations),
        duration_by_type={k: DurationStats.of(v) for k, v in durations_by_type.items()},
        retries=retries,
        cancellations=by_status.get(TaskStatus.CANCELLED.value, 0),
        timeouts=timeouts,
        interrupted=interrupted,
    )
