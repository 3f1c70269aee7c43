"""When and after how long a failed attempt is tried again."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipeline_kit.base._progress import TaskCancelled


class TaskNotRetryableError(RuntimeError):
    """``retry()`` was asked for a task that cannot or must not run again."""


# Programming errors do not go away on a second attempt.
DEFAULT_NEVER_RETRY: tuple[type[BaseException], ...] = (
    TaskCancelled,
    TypeError,
    NameError,
    AttributeError,
    ImportError,
    NotImplementedError,
    SyntaxError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Automatic retries with capped exponential backoff and jitter.

    Attempt ``n`` (1 = first retry) waits ``min(max_backoff, backoff * factor**(n-1))``
    seconds, scaled by a random factor in ``[1 - jitter, 1 + jitter]``. An error is
    retried when it is an instance of ``retry_on`` and not of ``never_retry_on``;
    a cancelled task is never retried.
    """

    max_retries: int = 3
    backoff: float = 1.0
    factor: float = 2.0
    max_backoff: float = 60.0
    jitter: float = 0.1
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    never_retry_on: tuple[type[BaseException], ...] = DEFAULT_NEVER_RETRY

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.backoff < 0 or self.max_backoff < 0 or self.factor < 1:
            raise ValueError("need backoff >= 0, max_backoff >= 0 and factor >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be in [0, 1], got {self.jitter}")

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """True when attempt number ``attempt`` (1-based) failing with ``exc`` gets another go."""
        if attempt > self.max_retries or isinstance(exc, TaskCancelled):
            return False
        if isinstance(exc, self.never_retry_on):
            return False
        return isinstance(exc, self.retry_on)

    def delay(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based)."""
        base = min(self.max_backoff, self.backoff * self.factor ** max(0, retry_number - 1))
        if self.jitter:
            base *= 1 + (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base)


NO_RETRY = RetryPolicy(max_retries=0)
