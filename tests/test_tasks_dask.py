"""executor="dask" on a real LocalCluster(n_workers=2, processes=True): results, progress
from workers, cancel, worker loss → failed attempt → retry, one model load per worker,
and the pipeline on the bundled sample giving the local executor's results."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402
import dask_fixtures  # noqa: E402

from pipeline_kit.pipeline._pipeline import run_pipeline  # noqa: E402
from pipeline_kit.stages._graph_query import to_node_link_json  # noqa: E402
from pipeline_kit.tasks import RetryPolicy, TaskManager, TaskStatus  # noqa: E402

pytestmark = pytest.mark.slow
WAV = Path(__file__).resolve().parents[1] / "data" / "sample" / "austen_sample.wav"


@contextlib.contextmanager
def _local_cluster():
    """A client of a fresh two-process LocalCluster whose workers import from tests/."""
    here = os.path.dirname(os.path.abspath(__file__))
    mp = pytest.MonkeyPatch()
    # worker processes import the task functions from tests/
    mp.setenv("PYTHONPATH", os.pathsep.join([here, *filter(None, sys.path)]))
    # as TaskManager(dask_client="local") does: a dead worker fails the task at once
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                           dashboard_address=None)
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()
        mp.undo()


@pytest.fixture(scope="module")
def client():
    """One cluster shared by the module's tests that leave its workers alive."""
    with _local_cluster() as c:
        yield c


@pytest.fixture
def tm(client, tmp_path):
    with TaskManager(tmp_path / "t.db", dask_client=client, progress_interval=0.05) as m:
        yield m


@pytest.fixture
def own_tm(tmp_path):
    """A manager on a cluster of its own, for a test that kills a worker (in any test order
    the shared cluster's workers stay untouched)."""
    with _local_cluster() as c, TaskManager(tmp_path / "t.db", dask_client=c,
                                            progress_interval=0.05) as m:
        yield m


def _wait_status(tm, task_id, statuses, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        info = tm.get_task_status(task_id)
        if info is not None and info.status in statuses:
            return info
        time.sleep(0.05)
    raise AssertionError(f"{task_id} never reached {statuses}: {tm.get_task_status(task_id)}")


def test_runs_on_a_worker_and_progress_comes_back(tm):
    seen = []
    tm.subscribe(lambda i: seen.append((i.progress_percentage, i.current_step)))
    h = tm.submit(dask_fixtures.whoami, 21, executor="dask", task_type="t")
    out = h.result(timeout=60)
    assert out["x"] == 42 and out["pid"] != os.getpid()
    info = tm.get_task_status(h.task_id)
    assert info.status is TaskStatus.COMPLETED
    # steps logged on the worker arrived at the manager (and its subscribers)
    steps = [s for _, s in seen if s]
    steps = [s for i, s in enumerate(steps) if i == 0 or s != steps[i - 1]]
    assert steps == ["step 1", "step 2", "step 3"], seen
    assert tm.store.get(h.task_id).result_data == out


def test_a_step_part_of_the_bar_keeps_its_units_across_the_worker(tm):
    seen = []
    tm.subscribe(lambda i: seen.append((i.progress_percentage, i.progress_done,
                                        i.progress_total)))
    h = tm.submit(dask_fixtures.second_part, executor="dask", task_type="t")
    assert h.result(timeout=60) == "ok"
    assert (pytest.approx(68.75), 3, 8) in seen, seen


def test_cancel_stops_the_work_on_the_worker(tm, tmp_path):
    marker = tmp_path / "finished"
    h = tm.submit(dask_fixtures.slow, str(marker), executor="dask", task_type="t")
    end = time.monotonic() + 60
    while (tm.get_task_status(h.task_id).current_step != "working"
           and time.monotonic() < end):
        time.sleep(0.05)
    assert tm.cancel(h.task_id)
    info = _wait_status(tm, h.task_id, {TaskStatus.CANCELLED})
    assert info.status is TaskStatus.CANCELLED
    ended = Path(f"{marker}.ended")
    deadline = time.monotonic() + 120
    while not ended.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ended.exists(), "the cancelled task never stopped on the worker"
    assert not marker.exists(), "the worker kept running a cancelled task"
    # the worker is free again
    again = tm.submit(dask_fixtures.whoami, 1, executor="dask", task_type="t")
    assert again.result(timeout=60)["x"] == 2


def test_cancel_stops_a_non_cooperative_task_by_restarting_its_worker(tm, client, tmp_path):
    import task_fixtures as fx

    pid_file = tmp_path / "pid"
    h = tm.submit(fx.spin_forever, str(pid_file), executor="dask", task_type="t")
    pid = fx.wait_for_pid(pid_file)  # the worker process running it
    time.sleep(0.3)
    assert fx.cpu_ticks(pid) > 0
    t0 = time.monotonic()
    assert h.cancel()
    stopped_after = fx.seconds_until_cpu_stops(pid, t0)
    print(f"dask executor: CPU stopped {stopped_after:.2f} s after cancel (worker restarted)")
    # spin_forever never checks for cancel: its CPU stops only because its worker was killed
    # (seconds_until_cpu_stops fails if it still spins 15 s on); how fast depends on the load
    assert fx.cpu_ticks(pid) is None, f"worker {pid} still alive after the cancel"
    assert _wait_status(tm, h.task_id, {TaskStatus.CANCELLED}).status is TaskStatus.CANCELLED
    client.wait_for_workers(2, timeout=60)  # the restarted worker is back
    again = tm.submit(dask_fixtures.whoami, 1, executor="dask", task_type="t")
    assert again.result(timeout=60)["x"] == 2


def test_worker_killed_mid_task_fails_then_retries(own_tm, tmp_path):
    tm = own_tm
    marker = tmp_path / "pid"
    h = tm.submit(dask_fixtures.die_once, str(marker), executor="dask", task_type="t",
                  retry=RetryPolicy(max_retries=1, backoff=0, jitter=0))
    end = time.monotonic() + 60
    while not (marker.exists() and marker.read_text()) and time.monotonic() < end:
        time.sleep(0.05)
    victim = int(marker.read_text())
    os.kill(victim, signal.SIGKILL)
    result = h.result(timeout=120)  # the retry's result
    assert result != victim
    attempts = sorted(tm.snapshots(), key=lambda i: i.attempt)
    assert [a.status for a in attempts] == [TaskStatus.FAILED, TaskStatus.COMPLETED]
    assert attempts[0].error_type.endswith("KilledWorker"), attempts[0]
    assert attempts[1].retry_of == attempts[0].task_id


def test_each_worker_loads_the_model_once(tm):
    handles = [tm.submit(dask_fixtures.engine_identity, executor="dask", task_type="t")
               for _ in range(6)]
    seen: dict[int, set[int]] = {}
    for h in handles:
        pid, engine = h.result(timeout=180)
        seen.setdefault(pid, set()).add(engine)
    assert os.getpid() not in seen
    assert all(len(ids) == 1 for ids in seen.values()), seen


def test_pipeline_on_dask_matches_local_executor(client, tmp_path):
    with TaskManager(tmp_path / "local.db") as local:
        a = run_pipeline(WAV, manager=local, home=tmp_path / "home-local",
                         out_dir=tmp_path / "out-local", chunking_method="tfidf")
    with TaskManager(tmp_path / "dask.db", dask_client=client) as m:
        b = run_pipeline(WAV, manager=m, home=tmp_path / "home-dask",
                         out_dir=tmp_path / "out-dask", chunking_method="tfidf",
                         executor="dask")
        stage_infos = [m.get_task_status(t) for t in b.run_record["stage_tasks"].values()]
        parent = [i for i in m.snapshots() if i.task_type == "pipeline"][0]
    assert all(i.status is TaskStatus.COMPLETED for i in stage_infos)
    assert parent.progress_percentage == 100
    untimed = lambda t: dataclasses.replace(t, processing_time_seconds=0.0)  # noqa: E731
    assert untimed(a.transcript) == untimed(b.transcript)
    assert a.chunks == b.chunks and a.chapters == b.chapters and a.questions == b.questions
    assert to_node_link_json(a.graph) == to_node_link_json(b.graph)
    assert b.run_record["parameters"]["executor"] == "dask"


def test_dask_executor_needs_a_client(tmp_path):
    with TaskManager(tmp_path / "t.db") as m:
        with pytest.raises(ValueError, match="dask_client"):
            m.submit(dask_fixtures.noop, executor="dask", task_type="t")
        with pytest.raises(ValueError, match="dask_client"):
            run_pipeline(WAV, manager=m, home=tmp_path, executor="dask")
