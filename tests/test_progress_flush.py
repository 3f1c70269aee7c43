"""The trailing progress flush: the last value reported inside a throttle interval is
still published after it (not lost until the task ends).

Deterministic: the reporter's throttle takes the test's clock (``clock=``), which only
moves by hand; the event loop is run only between updates, so no thread races the
reporter.
"""

from __future__ import annotations

import asyncio

import pytest

from pipeline_kit.tasks._reporter import TaskProgress


class HandClock:
    """A ``time`` stand-in whose ``monotonic()`` only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


async def _until(flushed: list, n: int, timeout: float) -> None:
    """Let the loop run (its timers too) until ``n`` flushes arrived, or ``timeout``."""
    end = asyncio.get_running_loop().time() + timeout
    while len(flushed) < n and asyncio.get_running_loop().time() < end:
        await asyncio.sleep(0.01)


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


def test_last_update_inside_the_interval_is_flushed_after_it(clock):
    loop = asyncio.new_event_loop()
    flushed: list[tuple[float | None, str | None]] = []
    try:
        rep = TaskProgress("t", loop, lambda r: flushed.append((r.percent, r.step)),
                           interval=0.2, clock=clock.monotonic)
        rep.update(10, 100, step="a")  # first update: published at once
        loop.run_until_complete(_until(flushed, 1, timeout=5))
        assert flushed == [(10.0, "a")]

        clock.now += 0.05  # inside the interval: held back, one trailing flush scheduled
        rep.update(50, 100, step="b")
        clock.now += 0.05
        rep.update(99, 100, step="c")  # the last value before a quiet spell
        assert flushed == [(10.0, "a")]

        loop.run_until_complete(_until(flushed, 2, timeout=5))
        assert flushed == [(10.0, "a"), (99.0, "c")], "the trailing flush did not publish"
    finally:
        loop.close()


def test_one_trailing_flush_per_interval(clock):
    loop = asyncio.new_event_loop()
    flushed: list[tuple[float | None, str | None]] = []
    try:
        rep = TaskProgress("t", loop, lambda r: flushed.append((r.percent, r.step)),
                           interval=0.2, clock=clock.monotonic)
        rep.update(0, 100)
        loop.run_until_complete(_until(flushed, 1, timeout=5))
        for i in range(1, 101):  # a burst inside one interval
            clock.now += 0.001
            rep.update(i, 100)
        loop.run_until_complete(_until(flushed, 3, timeout=1.0))  # waits out a 3rd
        assert flushed == [(0.0, None), (100.0, None)]
    finally:
        loop.close()
