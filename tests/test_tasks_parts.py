"""Task records, the stores (each backend), callable references, retry policy, metrics, reporter."""

from __future__ import annotations

import asyncio
import random
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import task_fixtures as fx
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_kit.base._progress import Progress, TaskCancelled
from pipeline_kit.tasks import (
    RetryPolicy,
    SQLiteTaskStore,
    TaskInfo,
    TaskProgress,
    TaskStatus,
    TaskStore,
    TaskType,
)
from pipeline_kit.tasks._callables import (
    NotStorableError,
    callable_ref,
    decode_args,
    encode_args,
    rebuild_exception,
    resolve_ref,
    to_result_data,
)
from pipeline_kit.tasks._metrics import compute_metrics
from pipeline_kit.tasks._store import open_store
from pipeline_kit.tasks._types import utcnow


def test_enums_match_the_seed():
    assert [t.value for t in TaskType] == [
        "audio_upload_processing", "transcription", "semantic_chunking", "graph_generation",
        "chapter_analysis", "question_generation", "pipeline",
    ]
    assert [s.value for s in TaskStatus] == [
        "pending", "running", "completed", "failed", "cancelled",
    ]
    assert TaskStatus.CANCELLED.is_terminal and not TaskStatus.RUNNING.is_terminal


def test_taskinfo_dict_round_trip():
    info = TaskInfo(task_id="t1", task_type=TaskType.GRAPH_GENERATION, metadata={"k": [1]},
                    started_at=utcnow(), result_data={"a": 1})
    assert TaskInfo.from_dict(info.to_dict()) == info
    assert info.to_dict()["status"] == "pending"


@pytest.fixture
def store(store_target):
    s = open_store(store_target)
    yield s
    s.close()


def test_sqlite_store_is_a_taskstore_in_wal_mode(tmp_path):
    store = SQLiteTaskStore(tmp_path / "s.sqlite3")
    assert isinstance(store, TaskStore)
    mode = store._conn().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


def test_store_round_trip_and_filters(store):
    now = utcnow()
    a = TaskInfo(task_id="a", task_type=TaskType.TRANSCRIPTION, created_at=now,
                 metadata={"x": 1}, result_data=[1, "two"])
    b = TaskInfo(task_id="b", task_type="custom_kind", created_at=now + timedelta(seconds=1))
    store.insert(a)
    store.insert(b)
    assert store.get("a") == a and store.get("nope") is None
    assert store.get("b").task_type == "custom_kind"
    assert [i.task_id for i in store.list()] == ["a", "b"]
    assert [i.task_id for i in store.list(task_type="transcription")] == ["a"]
    assert store.update(a.replace(status=TaskStatus.RUNNING, progress_percentage=50.0))
    assert [i.task_id for i in store.list(status=[TaskStatus.RUNNING])] == ["a"]


def test_store_update_never_leaves_a_terminal_state(store):
    info = TaskInfo(task_id="t", task_type=TaskType.TRANSCRIPTION)
    store.insert(info)
    assert store.update(info.replace(status=TaskStatus.RUNNING))
    assert not store.update(info.replace(status=TaskStatus.PENDING))  # no going back
    assert store.update(info.replace(status=TaskStatus.CANCELLED))
    for status in TaskStatus:
        assert not store.update(info.replace(status=status, progress_percentage=1.0))
    assert store.get("t").status is TaskStatus.CANCELLED


def test_store_threads_share_one_store(store):
    def worker(k):
        for i in range(20):
            store.insert(TaskInfo(task_id=f"{k}-{i}", task_type=TaskType.TRANSCRIPTION))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.list()) == 80


def test_callable_refs():
    assert callable_ref(fx.steps) == "task_fixtures:steps"
    assert resolve_ref("task_fixtures:steps") is fx.steps
    assert resolve_ref("os.path:join") is __import__("os").path.join
    with pytest.raises(NotStorableError, match="lambda"):
        callable_ref(lambda: 1)

    def inner():
        pass

    with pytest.raises(NotStorableError, match="closure"):
        callable_ref(inner)
    with pytest.raises(NotStorableError, match="bound method"):
        callable_ref(fx.Record("x").to_dict)
    with pytest.raises(NotStorableError, match="partial"):
        import functools

        callable_ref(functools.partial(fx.add, 1))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
    max_leaves=20,
)


@settings(max_examples=40, deadline=None)
@given(st.lists(json_values, max_size=4), st.dictionaries(st.text(max_size=8), json_values,
                                                           max_size=4))
def test_args_round_trip(args, kwargs):
    got_args, got_kwargs = decode_args(encode_args(tuple(args), kwargs))
    assert got_args == args and got_kwargs == kwargs


def test_args_paths_and_refusals():
    args, kwargs = decode_args(encode_args((Path("/a/b.wav"),), {"p": [Path("c")]}))
    assert args == [Path("/a/b.wav")] and kwargs == {"p": [Path("c")]}
    with pytest.raises(NotStorableError, match="argument 1 is a tuple"):
        encode_args(((1, 2),), {})
    with pytest.raises(NotStorableError, match="non-string key"):
        encode_args(({1: 2},), {})


def test_result_data():
    assert to_result_data(fx.Record("t")) == {"text": "t"}
    assert to_result_data({"a": [1, 2]}) == {"a": [1, 2]}
    assert to_result_data([fx.Record("x"), Path("p")]) == [{"text": "x"}, "p"]
    assert "__unserialisable__" in to_result_data(object())


def test_rebuild_exception():
    assert isinstance(rebuild_exception("ValueError", "m"), ValueError)
    e = rebuild_exception("nowhere.mod:Err", "boom")
    assert "nowhere.mod:Err: boom" in str(e)


def test_retry_policy_backoff_is_capped_exponential_with_jitter():
    p = RetryPolicy(backoff=1.0, factor=2.0, max_backoff=5.0, jitter=0.0)
    assert [p.delay(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    pj = RetryPolicy(backoff=1.0, jitter=0.1)
    rng = random.Random(0)
    assert all(0.9 <= pj.delay(1, rng) <= 1.1 for _ in range(100))
    assert p.should_retry(ConnectionError(), 1) and not p.should_retry(ConnectionError(), 4)
    assert not p.should_retry(TaskCancelled(), 1) and not p.should_retry(TypeError(), 1)
    only = RetryPolicy(retry_on=(OSError,))
    assert only.should_retry(OSError(), 1) and not only.should_retry(ValueError(), 1)
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


def test_metrics_quantiles():
    start = utcnow()
    infos = [
        TaskInfo(task_id=str(i), task_type=TaskType.TRANSCRIPTION, status=TaskStatus.COMPLETED,
                 started_at=start, completed_at=start + timedelta(seconds=i + 1))
        for i in range(10)
    ]
    infos.append(TaskInfo(task_id="c", task_type=TaskType.PIPELINE, status=TaskStatus.CANCELLED,
                          retry_of="0"))
    m = compute_metrics(infos)
    assert m.total == 11 and m.cancellations == 1 and m.retries == 1
    assert m.duration.count == 10 and m.duration.mean == pytest.approx(5.5)
    assert m.duration.p50 == pytest.approx(5.5) and m.duration.p95 == pytest.approx(9.55)


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_reporter_throttles_and_its_trailing_flush_keeps_the_last_value():
    # The loop runs in this thread only when the test says so, and time is the
    # test's clock: no race decides how many flushes happen.
    loop = asyncio.new_event_loop()
    clock = _Clock()
    flushed = []
    try:
        rep = TaskProgress("t", loop, lambda r: flushed.append((r.percent, r.step, r.done)),
                           0.05, clock=clock)
        assert isinstance(rep, Progress)
        rep.update(1, 1000, step="s")
        loop.run_until_complete(asyncio.sleep(0))  # the immediate flush of the first update
        assert flushed == [(0.1, "s", 1.0)]
        for i in range(1, 1000):
            rep.update(i + 1, 1000, step="s")
        loop.run_until_complete(asyncio.sleep(0))
        assert len(flushed) == 1  # throttled: only a trailing flush is scheduled
        loop.run_until_complete(asyncio.sleep(0.1))  # past the trailing flush's delay
        assert flushed == [(0.1, "s", 1.0), (100.0, "s", 1000.0)]  # one trailing, the last
        assert (rep.done, rep.total) == (1000.0, 1000.0)
        clock.now += 1.0
        rep.update(50)  # a bare percentage drops the units
        loop.run_until_complete(asyncio.sleep(0))
        assert flushed[-1] == (50.0, "s", None) and rep.total is None
        rep.request_stop(TaskCancelled("stop"))
        with pytest.raises(TaskCancelled):
            rep.update(1)
        with pytest.raises(TaskCancelled):
            rep.check_cancelled()
    finally:
        loop.close()


def test_remote_progress_sends_step_changes_sooner_and_flushes_the_rest():
    from pipeline_kit.tasks._remote_progress import RemoteProgress

    sent = []

    class Recorder(RemoteProgress):
        def _send(self, value, total, step, within):
            sent.append((value, total, step) if within is None else (value, total, step, within))

        def _is_cancelled(self):
            return False

    clock = _Clock()
    p = Recorder(1.0, clock=clock)
    p.update(1, 10, step="a")
    p.update(2, 10, step="a")  # within the interval: held back
    assert sent == [(1, 10, "a")]
    clock.now += 0.2
    p.update(3, 10, step="b")  # a new step after a tenth of the interval goes out
    p.update(4, 10, step="b")
    assert sent == [(1, 10, "a"), (3, 10, "b")]
    p.flush()
    p.flush()  # nothing new: nothing sent
    assert sent == [(1, 10, "a"), (3, 10, "b"), (4, 10, "b")]
    clock.now += 2.0
    p.update(5, 8, step="c", within=(50.0, 100.0))  # a part of the bar travels with it
    assert sent[-1] == (5, 8, "c", (50.0, 100.0))
    with pytest.raises(ValueError, match="total must be positive"):
        p.update(1, 0)


@pytest.mark.parametrize("stmt", ["import pipeline_kit.notebook._display",
                                  "import pipeline_kit.tasks",
                                  "from pipeline_kit import show",
                                  "from pipeline_kit.notebook._display import TaskPanel"])
def test_imports_have_no_cycle_and_stay_light(stmt):
    import subprocess
    import sys

    code = f"{stmt}; import sys; print('pandas' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]  # widgets load only when a panel is shown
