"""executor="process" keeps its worker processes between tasks (issue 32): small tasks do
not each pay for a Python start; a worker that crashed or was killed is replaced."""

from __future__ import annotations

import os
import time

import pytest
import task_fixtures as fx

from pipeline_kit.base._progress import TaskCancelled
from pipeline_kit.tasks import TaskManager, TaskStatus


@pytest.fixture
def tm(tmp_path, monkeypatch):
    monkeypatch.delenv("PIPELINE_KIT_WORKER_TASKS", raising=False)
    with TaskManager(tmp_path / "tasks.sqlite3", max_processes=2) as manager:
        yield manager


def _pid(tm: TaskManager) -> int:
    return tm.submit(os.getpid, task_type="probe", executor="process").result(120)


def test_small_tasks_reuse_one_worker_process(tm):
    pids = [_pid(tm) for _ in range(6)]  # was: six processes, one per task
    assert len(set(pids)) == 1 and pids[0] != os.getpid()
    # two at a time: at most two workers (max_processes), still reused
    handles = [tm.submit(fx.process_steps, 2, 0.05, task_type="probe", executor="process")
               for _ in range(6)]
    more = {h.result(120)["pid"] for h in handles}
    assert 1 <= len(more) <= 2 and pids[0] in more


def test_a_crashed_worker_fails_its_task_and_is_replaced(tm):
    first = _pid(tm)
    h = tm.submit(os._exit, 3, task_type="probe", executor="process")
    with pytest.raises(RuntimeError, match="exited with code 3 without a result"):
        h.result(120)
    after = _pid(tm)
    assert after != first and after != os.getpid()
    assert _pid(tm) == after  # the new one is kept in turn


def test_a_worker_killed_on_cancel_is_not_reused(tm, tmp_path):
    pid_file = tmp_path / "pid"
    h = tm.submit(fx.spin_forever, str(pid_file), task_type="probe", executor="process")
    spinning = fx.wait_for_pid(pid_file)
    assert h.cancel()
    with pytest.raises(TaskCancelled):
        h.result(60)
    deadline = time.monotonic() + 60
    while fx.cpu_ticks(spinning) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fx.cpu_ticks(spinning) is None  # terminated
    assert _pid(tm) != spinning
    # a cooperative task that stops on cancel leaves its worker reusable
    marker = tmp_path / "started"
    h = tm.submit(fx.process_until_cancelled, str(marker), task_type="probe",
                  executor="process")
    while not marker.exists() and time.monotonic() < deadline + 60:
        time.sleep(0.02)
    _pid(tm)  # the second worker (max_processes=2) answers meanwhile
    both = _workers()
    assert len(both) == 2
    assert h.cancel()
    with pytest.raises(TaskCancelled):
        h.result(60)
    assert h.status is TaskStatus.CANCELLED
    assert _workers() == both  # none replaced: the cancelled task's worker waits for more
    assert _pid(tm) in both


def _workers() -> set[int]:
    """Pids of this process's worker processes."""
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)
            if "pipeline_kit.tasks._worker" in " ".join(p.cmdline())}


def test_one_process_per_task_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_KIT_WORKER_TASKS", "1")
    with TaskManager(tmp_path / "tasks.sqlite3", max_processes=2) as manager:
        assert len({_pid(manager) for _ in range(3)}) == 3
