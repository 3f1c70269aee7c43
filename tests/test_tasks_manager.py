"""TaskManager with real threads, a real event loop and a real store.

Most tests run once per backend (``store_target``: a SQLite file, then a PostgreSQL
database); the ones about the SQLite file itself stay SQLite-only.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pandas as pd
import pytest
import task_fixtures as fx

from pipeline_kit.base._progress import TaskCancelled
from pipeline_kit.tasks import (
    RetryPolicy,
    TaskManager,
    TaskNotRetryableError,
    TaskStatus,
    TaskType,
)
from pipeline_kit.tasks._store import STORE_ENV, SQLiteTaskStore, open_store

T = TaskType.TRANSCRIPTION


@pytest.fixture
def tm(store_target):
    with TaskManager(store_target, progress_interval=0.01) as m:
        yield m


def test_statuses_progress_and_persistence(tm, store_target):
    seen: list[tuple[str, float, str | None]] = []
    tm.subscribe(lambda i: seen.append((i.status.value, i.progress_percentage, i.current_step)))
    h = tm.submit(fx.steps, 20, 0.005, task_type=T, metadata={"audio": "a.wav"})
    assert h.result(timeout=10) == {"steps": 20}
    info = h.info
    assert info.status is TaskStatus.COMPLETED and info.progress_percentage == 100
    assert info.current_step == "step 20/20" and info.result_data == {"steps": 20}
    assert info.started_at <= info.completed_at and info.metadata == {"audio": "a.wav"}
    statuses = [s for s, _, _ in seen]
    assert statuses[0] == "pending" and statuses[1] == "running" and statuses[-1] == "completed"
    assert statuses.index("completed") == len(statuses) - 1
    mids = [p for s, p, _ in seen if s == "running"]
    assert mids == sorted(mids) and any(0 < p < 100 for p in mids)  # progress flowed, in order
    # the stored record matches, read through a separate store (as another process would)
    other = open_store(store_target)
    stored = other.get(h.task_id)
    assert stored.status is TaskStatus.COMPLETED and stored.result_data == {"steps": 20}
    assert stored.callable_ref == "task_fixtures:steps"
    other.close()


def test_progress_writes_are_throttled(store_target):
    with TaskManager(store_target, progress_interval=0.25) as tm:
        seen = []
        tm.subscribe(lambda i: seen.append(i) if i.status is TaskStatus.RUNNING else None)
        h = tm.submit(fx.steps, 20_000, task_type=T)
        h.result(timeout=10)
        assert len(seen) <= 10  # 20 000 updates, a handful of published snapshots


def test_await_from_running_loop_and_block_in_script(tm):
    async def main():
        h1 = tm.submit(fx.add, 1, 2, task_type=T)
        h2 = tm.submit(fx.async_steps, 5, task_type=T)
        return await h1, await h2, await asyncio.gather(h1, h2)

    assert asyncio.run(main()) == (3, 5, [3, 5])
    assert tm.submit(fx.add, 2, 3, task_type=T).result(timeout=5) == 5


def test_real_object_in_memory_json_in_store(tm):
    h = tm.submit(fx.make_record, "hello", task_type=T)
    assert isinstance(h.result(5), fx.Record)
    assert h.info.result_data == {"text": "hello"}
    assert tm.store.get(h.task_id).result_data == {"text": "hello"}


def test_cancel_pending_at_once(store_target):
    with TaskManager(store_target, max_workers=1) as tm:
        blocker = tm.submit(fx.block, "cp", task_type=T)
        assert fx.event("cp.started").wait(5)
        queued = tm.submit(fx.add, 1, 1, task_type=T)
        assert queued.cancel()
        assert queued.info.status is TaskStatus.CANCELLED
        with pytest.raises(TaskCancelled):
            queued.result(timeout=1)
        fx.event("cp.release").set()
        assert blocker.result(5) == "cp"
        assert tm.store.get(queued.task_id).status is TaskStatus.CANCELLED
        assert queued.info.started_at is None  # it never ran


def test_cancel_running_stops_at_next_progress_call(tm):
    h = tm.submit(fx.block, "cr", task_type=T)
    assert fx.event("cr.started").wait(5)
    assert tm.cancel(h.task_id)
    with pytest.raises(TaskCancelled):
        h.result(timeout=5)
    assert fx.event("cr.stopped").wait(5)  # the worker saw TaskCancelled in check_cancelled
    assert h.info.status is TaskStatus.CANCELLED
    assert not tm.cancel(h.task_id)  # already finished


def test_timeout_fails_with_named_limit(tm):
    h = tm.submit(fx.block, "to", task_type=T, timeout=0.2)
    with pytest.raises(TimeoutError, match=r"exceeded its timeout of 0.2 s"):
        h.result(timeout=5)
    assert fx.event("to.stopped").wait(5)  # told to stop at its next progress call
    info = h.info
    assert info.status is TaskStatus.FAILED and info.error_type == "TimeoutError"
    assert "0.2 s" in info.error_message
    assert tm.metrics().timeouts == 1


def test_automatic_retry_with_backoff(tm):
    policy = RetryPolicy(max_retries=3, backoff=0.05, factor=2.0, jitter=0.0)
    t0 = time.monotonic()
    h = tm.submit(fx.fail_times, "auto", 2, task_type=T, retry=policy)
    assert h.result(timeout=10) == "auto ok after 3 calls"
    elapsed = time.monotonic() - t0
    assert elapsed >= 0.05 + 0.10 - 0.01  # two waits: backoff, backoff*factor
    assert len(h.task_ids) == 3 and h.task_id == h.task_ids[-1]
    infos = [tm.get_task_status(t) for t in h.task_ids]
    assert [i.attempt for i in infos] == [1, 2, 3]
    assert [i.status for i in infos] == [TaskStatus.FAILED, TaskStatus.FAILED,
                                        TaskStatus.COMPLETED]
    assert infos[1].retry_of == infos[0].task_id and infos[2].retry_of == infos[1].task_id
    assert infos[0].error_type == "ConnectionError"
    assert tm.metrics().retries == 2


def test_retry_gives_up_and_never_retries_programming_errors(tm):
    h = tm.submit(fx.fail_times, "giveup", 10, task_type=T,
                  retry=RetryPolicy(max_retries=2, backoff=0.01, jitter=0))
    with pytest.raises(ConnectionError):
        h.result(timeout=5)
    assert len(h.task_ids) == 3
    h2 = tm.submit(fx.add, 1, "x", task_type=T, retry=RetryPolicy(backoff=0.01))
    with pytest.raises(TypeError):
        h2.result(timeout=5)
    assert len(h2.task_ids) == 1


def test_cancel_during_backoff_cancels_the_pending_retry(tm):
    h = tm.submit(fx.fail_times, "backoff-cancel", 5, task_type=T,
                  retry=RetryPolicy(max_retries=3, backoff=5.0, jitter=0))
    deadline = time.monotonic() + 5
    while len(h.task_ids) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # test-side wait for the first failure
    assert tm.cancel(h.task_ids[0])  # the old id follows to the pending retry
    with pytest.raises(TaskCancelled):
        h.result(timeout=1)
    assert h.info.status is TaskStatus.CANCELLED and len(h.task_ids) == 2


def test_manual_retry_in_same_process(tm, tmp_path):
    marker = tmp_path / "fixed.txt"
    h = tm.submit(fx.fail_unless_file, str(marker), task_type=T)
    with pytest.raises(FileNotFoundError):
        h.result(5)
    marker.write_text("fixed")
    h2 = tm.retry(h.task_id)
    assert h2.result(5) == "fixed"
    assert h2.info.retry_of == h.task_id and h2.info.attempt == 2


def test_refused_retry_of_lambda_has_clear_message(tm):
    h = tm.submit(lambda: 1 / 0, task_type=T)
    with pytest.raises(ZeroDivisionError):
        h.result(5)
    with pytest.raises(TaskNotRetryableError, match="lambda") as e:
        tm.retry(h.task_id)
    assert "module:qualname" in str(e.value) and h.task_id in str(e.value)

    def local(x):
        raise ValueError(x)

    h = tm.submit(local, 1, task_type=T)
    with pytest.raises(ValueError):
        h.result(5)
    with pytest.raises(TaskNotRetryableError, match="local function or closure"):
        tm.retry(h.task_id)
    h = tm.submit(fx.fail, object(), task_type=T)  # argument not storable as JSON
    with pytest.raises(ValueError):
        h.result(5)
    with pytest.raises(TaskNotRetryableError, match="argument 1 is a object"):
        tm.retry(h.task_id)


def test_cancelled_and_completed_tasks_are_not_retried(tm):
    h = tm.submit(fx.block, "nr", task_type=T)
    assert fx.event("nr.started").wait(5)
    h.cancel()
    with pytest.raises(TaskNotRetryableError, match="never retried"):
        tm.retry(h.task_id)
    ok = tm.submit(fx.add, 1, 1, task_type=T)
    ok.result(5)
    with pytest.raises(TaskNotRetryableError, match="completed"):
        tm.retry(ok.task_id)


def test_finished_task_never_regresses(tm):
    leaked = []

    def keep(progress):
        leaked.append(progress)
        return "done"

    h = tm.submit(keep, task_type=T)
    assert h.result(5) == "done"
    # a late update from a leaked progress object, from another thread
    t = threading.Thread(target=lambda: leaked[0].update(10, step="late"))
    t.start()
    t.join()
    time.sleep(0.1)
    assert h.info.status is TaskStatus.COMPLETED and h.info.progress_percentage == 100
    assert tm.cancel(h.task_id) is False
    # the store refuses too, even if asked directly
    stale = h.info.replace(status=TaskStatus.RUNNING, progress_percentage=5.0)
    assert tm.store.update(stale) is False
    assert tm.store.get(h.task_id).status is TaskStatus.COMPLETED
    running = tm.submit(fx.block, "rg", task_type=T)
    assert fx.event("rg.started").wait(5)
    deadline = time.monotonic() + 5  # RUNNING must be in the store, not only in memory
    while getattr(tm.store.get(running.task_id), "status", None) is not TaskStatus.RUNNING:
        assert time.monotonic() < deadline, "RUNNING never reached the store"
        time.sleep(0.01)
    assert tm.store.update(running.info.replace(status=TaskStatus.PENDING)) is False
    fx.event("rg.release").set()
    running.result(5)


def test_200_concurrent_tasks_no_lost_or_out_of_order_final_states(store_target):
    with TaskManager(store_target, max_workers=16, progress_interval=0.005) as tm:
        order: dict[str, list[str]] = {}
        tm.subscribe(lambda i: order.setdefault(i.task_id, []).append(i.status.value))
        handles = [tm.submit(fx.steps, 50, 0.0005, task_type=T) for _ in range(200)]
        done, not_done = tm.wait(handles, timeout=60)
        assert not not_done and len(done) == 200
        assert all(h.result() == {"steps": 50} for h in handles)
        for h in handles:
            seq = order[h.task_id]
            assert seq[0] == "pending" and seq[-1] == "completed" and seq.count("completed") == 1
            assert seq.index("running") < seq.index("completed")
        df = tm.tasks(status="completed", task_type=T)
        assert len(df) == 200 and (df["progress_percentage"] == 100).all()
        stored = tm.store.list(status=TaskStatus.COMPLETED)
        assert len(stored) == 200


def test_async_parent_pipeline_submits_and_awaits_children(tm):
    h = tm.submit(fx.pipeline, 3, task_type=TaskType.PIPELINE)
    assert h.result(timeout=10) == [{"steps": 3}] * 3
    children = [i for i in tm.snapshots() if i.parent_id == h.task_id]
    assert len(children) == 3 and all(c.status is TaskStatus.COMPLETED for c in children)


def test_cancelling_parent_cancels_children(tm):
    h = tm.submit(fx.pipeline_blocking_child, "pc", task_type=TaskType.PIPELINE)
    assert fx.event("pc.started").wait(5)
    h.cancel()
    with pytest.raises(TaskCancelled):
        h.result(5)
    child = next(i for i in tm.snapshots() if i.parent_id == h.task_id)
    assert child.status is TaskStatus.CANCELLED and "parent" in child.error_message
    assert fx.event("pc.stopped").wait(5)


def test_result_blocking_on_manager_loop_is_refused(tm):
    async def bad():
        return tm.submit(fx.add, 1, 2, task_type=T).result()

    with pytest.raises(RuntimeError, match="await"):
        tm.submit(bad, task_type=T).result(5)


def test_tasks_dataframe_and_metrics(tm):
    tm.submit(fx.add, 1, 1, task_type=T).result(5)
    with pytest.raises(ValueError):
        tm.submit(fx.fail, "x", task_type=TaskType.GRAPH_GENERATION).result(5)
    df = tm.tasks()
    assert isinstance(df, pd.DataFrame) and len(df) == 2
    assert set(df["status"]) == {"completed", "failed"}
    assert len(tm.tasks(task_type="graph_generation")) == 1
    assert len(tm.tasks(status=[TaskStatus.FAILED, "cancelled"])) == 1
    m = tm.metrics()
    assert m.total == 2 and m.by_status == {"completed": 1, "failed": 1}
    assert m.by_type["transcription"] == {"completed": 1}
    assert m.duration.count == 2 and m.duration.p50 is not None and m.duration.p95 >= m.duration.p50
    assert m.to_dict()["by_status"]["failed"] == 1


def test_metrics_include_other_managers_records(store_target):
    with TaskManager(store_target) as a:
        a.submit(fx.add, 1, 1, task_type=T).result(5)
    with TaskManager(store_target) as b:
        assert b.metrics().total == 1
        assert b.get_task_status(a.snapshots()[0].task_id).status is TaskStatus.COMPLETED


def test_process_executor_progress_flows_back(tm):
    import os

    seen = []
    tm.subscribe(lambda i: seen.append(i.current_step) if i.current_step else None)
    h = tm.submit(fx.process_steps, 5, 0.05, task_type=T, executor="process")
    out = h.result(timeout=30)
    assert out["steps"] == 5 and out["pid"] != os.getpid()
    assert any(s.startswith("proc ") for s in seen)
    with pytest.raises(ValueError, match="process"):
        tm.submit(lambda: 1, task_type=T, executor="process")


def test_process_executor_errors_and_cancel(tm, tmp_path):
    h = tm.submit(fx.fail, "in child", task_type=T, executor="process")
    with pytest.raises(ValueError, match="in child"):
        h.result(timeout=30)
    assert "Traceback" in h.info.error_traceback and h.info.error_type == "ValueError"
    marker = tmp_path / "started"
    h = tm.submit(fx.process_until_cancelled, str(marker), task_type=T, executor="process")
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    h.cancel()
    with pytest.raises(TaskCancelled):
        h.result(timeout=5)


def test_documents(tm):
    tm.put_document("audio", "a1", {"path": "x.wav", "duration": 1.5})
    tm.put_document("audio", "a2", {"path": "y.wav"})
    tm.put_document("audio", "a1", {"path": "x.wav", "duration": 2.0})
    assert tm.get_document("audio", "a1") == {"path": "x.wav", "duration": 2.0}
    assert tm.get_document("audio", "nope") is None
    assert [d["path"] for d in tm.list_documents("audio")] == ["x.wav", "y.wav"]
    assert tm.list_documents("runs") == []


def test_close_cancels_unfinished_and_refuses_new_work(store_target):
    tm = TaskManager(store_target)
    h = tm.submit(fx.block, "close", task_type=T)
    assert fx.event("close.started").wait(5)
    tm.close()
    with pytest.raises(TaskCancelled):
        h.result(1)
    with pytest.raises(RuntimeError, match="closed"):
        tm.submit(fx.noop, task_type=T)
    store = open_store(store_target)
    assert store.get(h.task_id).status is TaskStatus.CANCELLED
    store.close()


def test_default_store_under_pipeline_kit_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_KIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(STORE_ENV, raising=False)
    with TaskManager() as tm:
        tm.submit(fx.noop, task_type=T).result(5)
        assert isinstance(tm.store, SQLiteTaskStore)
        assert tm.store.path == tmp_path / "home" / "tasks.sqlite3"
    assert (tmp_path / "home" / "tasks.sqlite3").exists()


def test_store_from_environment_comes_before_the_default_file(store_target, tmp_path,
                                                               monkeypatch):
    monkeypatch.setenv("PIPELINE_KIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(STORE_ENV, store_target)
    with TaskManager() as tm:
        h = tm.submit(fx.add, 2, 2, task_type=T)
        assert h.result(5) == 4
    assert not (tmp_path / "home" / "tasks.sqlite3").exists()
    other = open_store(store_target)
    assert other.get(h.task_id).result_data == 4
    other.close()


def test_async_task_timeout_and_cancel(tm):
    h = tm.submit(fx.async_sleep, 30, task_type=T, timeout=0.1)
    with pytest.raises(TimeoutError, match="0.1 s"):
        h.result(5)
    h = tm.submit(fx.async_sleep, 30, task_type=T)
    time.sleep(0.05)
    assert h.cancel()
    with pytest.raises(TaskCancelled):
        h.result(5)
    assert h.info.status is TaskStatus.CANCELLED


def test_units_rate_and_eta_while_running(tm, store_target):
    running = []
    tm.subscribe(lambda i: running.append(i) if i.status is TaskStatus.RUNNING else None)
    h = tm.submit(fx.steps, 20, 0.05, task_type=T)
    h.result(30)
    rated = [i for i in running if i.progress_rate]
    assert rated, "no snapshot carried a rate"
    for i in rated:
        assert i.progress_total == 20 and 0 < i.progress_done <= 20
        assert 2 < i.progress_rate < 60  # units per second of a 20-per-second loop
        assert i.eta == pytest.approx((20 - i.progress_done) / i.progress_rate)
    info = h.info
    assert info.progress_done == info.progress_total == 20 and info.eta is None
    stored = open_store(store_target)
    assert stored.get(h.task_id).progress_total == 20  # units persist in every backend
    stored.close()


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_failed_task_keeps_its_last_real_progress(store_target, executor):
    # A long interval: the last update is still waiting for its throttled flush
    # when the task fails, and the failure must record it anyway.
    with TaskManager(store_target, progress_interval=5.0) as tm:
        h = tm.submit(fx.fail_after, 8, 3, task_type=T, executor=executor)
        with pytest.raises(ValueError, match="after 3 of 8"):
            h.result(30)
        info = h.info
        assert info.status is TaskStatus.FAILED
        assert info.progress_percentage == pytest.approx(37.5)
        assert (info.progress_done, info.progress_total) == (3, 8)
        assert info.current_step == "unit 3/8"


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_step_part_of_the_bar_keeps_its_own_units(store_target, executor):
    """``within=(50, 100)``: 3 of 8 units show as 3/8 at 68.75 % (also across processes)."""
    with TaskManager(store_target, progress_interval=5.0) as tm:
        h = tm.submit(fx.second_part_units, task_type=T, executor=executor)
        with pytest.raises(ValueError, match="second part"):
            h.result(30)
        info = h.info
        assert info.progress_percentage == pytest.approx(68.75)
        assert (info.progress_done, info.progress_total) == (3, 8)


class FlakyStore(SQLiteTaskStore):
    """A real SQLite store whose batch writes fail on demand (an injected disk error)."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.fail_next = 0  # fail this many writes, then work
        self.broken = False  # fail every write while set
        self.failures = 0

    def write_many(self, inserts, updates) -> None:
        import sqlite3

        if self.broken or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            self.failures += 1
            raise sqlite3.OperationalError("disk I/O error (injected)")
        super().write_many(inserts, updates)


def test_a_store_write_that_fails_briefly_is_retried(tmp_path):
    store = FlakyStore(tmp_path / "tasks.sqlite3")
    with TaskManager(store) as tm:
        store.fail_next = 2  # the insert fails twice, the third attempt lands
        h = tm.submit(fx.add, 2, 3, task_type=T)
        assert h.result(10) == 5
        assert store.failures == 2
        assert h.store_error is None and tm.metrics().store_errors == 0
        stored = SQLiteTaskStore(tmp_path / "tasks.sqlite3")
        assert stored.get(h.task_id).status is TaskStatus.COMPLETED
        stored.close()
    store.close()


def test_a_store_that_keeps_failing_is_surfaced_then_caught_up(tmp_path):
    store = FlakyStore(tmp_path / "tasks.sqlite3")
    reader = SQLiteTaskStore(tmp_path / "tasks.sqlite3")  # another process's view
    with TaskManager(store, heartbeat_interval=0.2) as tm:
        h = tm.submit(fx.block, "sf", task_type=T)
        assert fx.event("sf.started").wait(5)
        deadline = time.monotonic() + 10
        while (seen := reader.get(h.task_id)) is None or seen.status is not TaskStatus.RUNNING:
            assert time.monotonic() < deadline, "RUNNING never reached the store"
            time.sleep(0.02)
        store.broken = True
        fx.event("sf.release").set()
        assert h.result(10) == "sf"  # the work itself is not lost
        assert "disk I/O error (injected)" in h.store_error
        assert tm.metrics().store_errors >= 1
        assert reader.get(h.task_id).status is TaskStatus.RUNNING  # the final state is not stored
        store.broken = False  # the disk recovers: the next heartbeat writes the final state
        deadline = time.monotonic() + 10
        while reader.get(h.task_id).status is not TaskStatus.COMPLETED:
            assert time.monotonic() < deadline, "final state never reached the store"
            time.sleep(0.05)
        assert reader.get(h.task_id).result_data == "sf"
        assert h.store_error is None  # caught up
        assert tm.metrics().store_errors >= 1  # the failures stay counted
    reader.close()
    store.close()


def test_cancel_kills_a_non_cooperative_process_task(tm, tmp_path):
    pid_file = tmp_path / "pid"
    h = tm.submit(fx.spin_forever, str(pid_file), task_type=T, executor="process")
    pid = fx.wait_for_pid(pid_file)
    time.sleep(0.3)
    assert fx.cpu_ticks(pid) > 0  # it really burns CPU, and never calls progress
    t0 = time.monotonic()
    assert h.cancel()
    stopped_after = fx.seconds_until_cpu_stops(pid, t0)
    print(f"process executor: CPU stopped {stopped_after:.2f} s after cancel")
    # it never checks for cancel, so only killing its process stops it (how fast: the load)
    assert fx.cpu_ticks(pid) is None, f"process {pid} still alive after the cancel"
    with pytest.raises(TaskCancelled):
        h.result(10)
    assert h.status is TaskStatus.CANCELLED


def test_any_task_type_string_is_accepted_stored_and_counted(tm, store_target):
    h = tm.submit(fx.add, 1, 2, task_type="speaker_diarization")
    assert h.result(10) == 3
    known = tm.submit(fx.add, 1, 1, task_type="transcription")  # a well-known value by name
    known.result(10)
    assert known.info.task_type is TaskType.TRANSCRIPTION
    other = open_store(store_target)
    assert other.get(h.task_id).task_type == "speaker_diarization"
    assert [i.task_id for i in other.list(task_type="speaker_diarization")] == [h.task_id]
    other.close()
    assert list(tm.tasks(task_type="speaker_diarization")["task_id"]) == [h.task_id]
    assert tm.metrics().by_type["speaker_diarization"] == {"completed": 1}
    for bad in ("", None, 3):
        with pytest.raises(ValueError, match="task_type"):
            tm.submit(fx.noop, task_type=bad)
