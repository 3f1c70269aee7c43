"""The store shared between processes: manual retry after a restart, crash recovery.

Each test runs against a SQLite file and against a PostgreSQL database (``store_target``):
the other process opens the same store from its path or URL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
import task_fixtures as fx

from pipeline_kit.tasks import TaskInfo, TaskManager, TaskStatus, TaskType
from pipeline_kit.tasks._types import utcnow

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, text=True,
                          capture_output=True, timeout=timeout)


def test_manual_retry_in_a_fresh_process(store_target, tmp_path):
    store, marker = store_target, tmp_path / "fixed.txt"
    with TaskManager(store) as tm:
        h = tm.submit(fx.fail_unless_file, str(marker), task_type=TaskType.TRANSCRIPTION)
        with pytest.raises(FileNotFoundError):
            h.result(60)
        failed_id = h.task_id
    marker.write_text("fixed in another process")
    proc = run_python(f"""
        import json
        from pipeline_kit.tasks import TaskManager
        with TaskManager({store!r}) as tm:
            h = tm.retry({failed_id!r})
            print(json.dumps({{"result": h.result(30), "id": h.task_id}}))
    """)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["result"] == "fixed in another process"
    with TaskManager(store) as tm:
        new = tm.get_task_status(out["id"])
        assert new.status is TaskStatus.COMPLETED
        assert new.retry_of == failed_id and new.attempt == 2
        assert new.callable_ref == "task_fixtures:fail_unless_file"


def test_refused_retry_of_lambda_in_a_fresh_process(store_target):
    store = store_target
    with TaskManager(store) as tm:
        h = tm.submit(lambda: 1 / 0, task_type=TaskType.TRANSCRIPTION)
        with pytest.raises(ZeroDivisionError):
            h.result(60)
    proc = run_python(f"""
        from pipeline_kit.tasks import TaskManager, TaskNotRetryableError
        with TaskManager({store!r}) as tm:
            try:
                tm.retry({h.task_id!r})
            except TaskNotRetryableError as e:
                print(e)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "lambda" in proc.stdout and "cannot be retried" in proc.stdout


def test_sigkilled_owner_is_marked_interrupted(store_target, tmp_path):
    store, marker = store_target, tmp_path / "running"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(TESTS)])}
    code = f"""
        import time, task_fixtures as fx
        from pipeline_kit.tasks import TaskManager, TaskType
        tm = TaskManager({store!r}, max_workers=1)
        running = tm.submit(fx.write_then_hang, {str(marker)!r}, task_type=TaskType.TRANSCRIPTION)
        pending = tm.submit(fx.noop, task_type=TaskType.CHAPTER_ANALYSIS)
        print(running.task_id, pending.task_id, flush=True)
        time.sleep(600)
    """
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, text=True,
                             stdout=subprocess.PIPE)
    try:
        task_id, pending_id = child.stdout.readline().split()
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), "child task never started"
        time.sleep(0.1)  # let RUNNING reach the store
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
    with TaskManager(store) as tm:
        info = tm.get_task_status(task_id)
        assert info.status is TaskStatus.FAILED
        assert "interrupted" in info.error_message and str(child.pid) in info.error_message
        pending = tm.get_task_status(pending_id)
        assert pending.status is TaskStatus.FAILED and "interrupted" in pending.error_message
        assert tm.metrics().interrupted == 2


def test_stale_heartbeat_from_another_host_is_interrupted(store_target):
    store = store_target
    with TaskManager(store) as tm:
        old = utcnow() - timedelta(minutes=10)
        fresh = utcnow()
        for tid, hb in (("remote-stale", old), ("remote-fresh", fresh)):
            tm.store.insert(TaskInfo(
                task_id=tid, task_type=TaskType.TRANSCRIPTION, status=TaskStatus.RUNNING,
                started_at=old, heartbeat_at=hb, host="elsewhere", pid=1, manager_id="m2",
            ))
        assert tm.recover(stale_after=60) == ["remote-stale"]
        assert tm.get_task_status("remote-fresh").status is TaskStatus.RUNNING
        assert "no heartbeat" in tm.get_task_status("remote-stale").error_message


def test_heartbeat_is_written_while_running(store_target):
    with TaskManager(store_target, heartbeat_interval=0.05) as tm:
        h = tm.submit(fx.block, "hb", task_type=TaskType.TRANSCRIPTION)
        assert fx.event("hb.started").wait(60)

        def heartbeat() -> object:
            stored = tm.store.get(h.task_id)  # written by the store writer, maybe not yet
            return None if stored is None else stored.heartbeat_at

        deadline = time.monotonic() + 60  # polls for each condition; asserts no duration
        first = heartbeat()
        while first is None and time.monotonic() < deadline:
            time.sleep(0.05)
            first = heartbeat()
        later = first
        while later == first and time.monotonic() < deadline:
            time.sleep(0.05)
            later = heartbeat()
        assert first is not None and later is not None and later > first
        assert tm.store.get(h.task_id).manager_id == tm.manager_id
        fx.event("hb.release").set()
        h.result(60)
