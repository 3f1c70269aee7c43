"""The TaskStore contract, run against every backend (a SQLite file, a PostgreSQL database)."""

from __future__ import annotations

import math
import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline_kit.tasks import TaskInfo, TaskStatus, TaskStore, TaskType
from pipeline_kit.tasks._store import open_store
from pipeline_kit.tasks._types import utcnow

T = TaskType.TRANSCRIPTION


@pytest.fixture
def store(store_target):
    s = open_store(store_target)
    yield s
    s.close()


def integrity_errors() -> tuple[type[Exception], ...]:
    """What each backend raises for a duplicate task id."""
    try:
        import psycopg
    except ImportError:
        return (sqlite3.IntegrityError,)
    return (sqlite3.IntegrityError, psycopg.IntegrityError)


def full_info(task_id: str = "full") -> TaskInfo:
    """An attempt with every field set to a non-default value."""
    t0 = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    return TaskInfo(
        task_id=task_id, task_type="custom_kind", status=TaskStatus.FAILED,
        progress_percentage=42.5, started_at=t0, completed_at=t0 + timedelta(seconds=3),
        error_message="boom ✗", result_data={"z": 1, "a": [1.5, None, "ü"]},
        metadata={"audio": "a.wav", "nested": {"k": True}}, created_at=t0,
        updated_at=t0 + timedelta(seconds=3), heartbeat_at=t0 + timedelta(seconds=2),
        attempt=3, retry_of="prev", parent_id="parent", current_step="step 2/3",
        error_type="ValueError", error_traceback="Traceback ...", timeout=12.5,
        callable_ref="mod:fn", call_args='{"args": [], "kwargs": {}}',
        not_retryable_reason=None, host="host-a", pid=4_000_000_000, manager_id="m1",
    )


def test_is_a_taskstore_and_repr_names_it(store):
    assert isinstance(store, TaskStore)
    assert type(store).__name__ in repr(store)


def test_every_field_round_trips(store):
    info = full_info()
    store.insert(info)
    got = store.get("full")
    assert got == info
    assert got.started_at.tzinfo == UTC and got.result_data == {"z": 1, "a": [1.5, None, "ü"]}
    assert list(got.result_data) == ["z", "a"]  # JSON text kept as written (key order too)
    assert store.get("missing") is None


def test_defaults_and_enum_types_round_trip(store):
    info = TaskInfo(task_id="d", task_type=TaskType.GRAPH_GENERATION)
    store.insert(info)
    got = store.get("d")
    assert got == info and got.task_type is TaskType.GRAPH_GENERATION
    assert got.status is TaskStatus.PENDING and got.metadata == {} and got.result_data is None


def test_times_in_another_zone_are_the_same_instant_read_back_in_utc(store):
    cet = timezone(timedelta(hours=1))
    when = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=cet)
    store.insert(TaskInfo(task_id="tz", task_type=T, created_at=when, started_at=when))
    got = store.get("tz")
    assert got.created_at == when and got.created_at.tzinfo == UTC


def test_nan_and_infinity_in_json_round_trip(store):
    store.insert(TaskInfo(task_id="n", task_type=T, result_data={"wer": math.nan,
                                                                 "max": math.inf}))
    got = store.get("n").result_data
    assert math.isnan(got["wer"]) and got["max"] == math.inf


def test_a_nul_character_in_a_message_never_fails_the_write(store):
    info = TaskInfo(task_id="nul", task_type=T)
    store.insert(info)
    failed = info.replace(status=TaskStatus.FAILED, error_message="bad\x00byte",
                          result_data={"s": "a\x00b"})
    assert store.update(failed)
    got = store.get("nul")
    # SQLite keeps the NUL; PostgreSQL text cannot hold one and gets U+FFFD instead
    assert got.error_message.replace("\ufffd", "\x00") == "bad\x00byte"
    assert got.result_data == {"s": "a\x00b"}  # JSON text escapes it: exact everywhere


def test_duplicate_insert_is_refused(store):
    store.insert(TaskInfo(task_id="dup", task_type=T, attempt=1))
    with pytest.raises(integrity_errors()):
        store.insert(TaskInfo(task_id="dup", task_type=T, attempt=2))
    assert store.get("dup").attempt == 1


def test_update_guard(store):
    info = TaskInfo(task_id="g", task_type=T)
    assert not store.update(info.replace(status=TaskStatus.RUNNING))  # not stored yet
    store.insert(info)
    assert store.update(info.replace(progress_percentage=1.0))  # PENDING → PENDING
    assert store.update(info.replace(status=TaskStatus.RUNNING, progress_percentage=5.0))
    assert not store.update(info.replace(status=TaskStatus.PENDING))  # no going back
    assert store.update(info.replace(status=TaskStatus.RUNNING, progress_percentage=50.0))
    assert store.get("g").progress_percentage == 50.0
    assert store.update(info.replace(status=TaskStatus.COMPLETED, progress_percentage=100.0))
    for status in TaskStatus:
        assert not store.update(info.replace(status=status, progress_percentage=1.0))
    got = store.get("g")
    assert got.status is TaskStatus.COMPLETED and got.progress_percentage == 100.0


@pytest.mark.parametrize("final", [TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_every_terminal_state_is_final(store, final):
    info = TaskInfo(task_id="f", task_type=T)
    store.insert(info)
    assert store.update(info.replace(status=final))
    assert not store.update(info.replace(status=TaskStatus.COMPLETED))
    assert store.get("f").status is final


def test_racing_terminal_updates_from_two_stores_one_wins(store, store_target):
    """Two owners (e.g. a manager and another process's recovery) finish the same attempt."""
    other = open_store(store_target)
    try:
        for n in range(10):
            info = TaskInfo(task_id=f"race{n}", task_type=T, status=TaskStatus.RUNNING)
            store.insert(info)
            barrier, won = threading.Barrier(2), {}

            def finish(s, status, info=info, barrier=barrier, won=won):
                barrier.wait()
                won[status] = s.update(info.replace(status=status))

            threads = [threading.Thread(target=finish, args=(s, st)) for s, st in
                       ((store, TaskStatus.COMPLETED), (other, TaskStatus.FAILED))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(won.values()) == [False, True]
            winner = next(st for st, ok in won.items() if ok)
            assert store.get(info.task_id).status is winner
    finally:
        other.close()


def test_write_many_applies_inserts_then_updates(store):
    a = TaskInfo(task_id="a", task_type=T)
    b = TaskInfo(task_id="b", task_type=T)
    store.write_many([a, b], [a.replace(status=TaskStatus.RUNNING),
                              b.replace(status=TaskStatus.CANCELLED)])
    assert store.get("a").status is TaskStatus.RUNNING
    assert store.get("b").status is TaskStatus.CANCELLED
    # refused updates in a batch are skipped, the others still apply
    store.write_many([], [b.replace(status=TaskStatus.RUNNING),
                          a.replace(status=TaskStatus.COMPLETED)])
    assert store.get("b").status is TaskStatus.CANCELLED
    assert store.get("a").status is TaskStatus.COMPLETED
    store.write_many([], [])


def test_write_many_is_one_transaction(store):
    store.insert(TaskInfo(task_id="x", task_type=T))
    new = TaskInfo(task_id="new", task_type=T)
    clash = TaskInfo(task_id="x", task_type=T)
    with pytest.raises(integrity_errors()):
        store.write_many([new, clash], [])
    assert store.get("new") is None  # rolled back with the failing insert
    store.write_many([new], [])  # and the store is usable afterwards
    assert store.get("new") is not None


def test_list_order_and_filters(store):
    now = utcnow()
    rows = [
        TaskInfo(task_id="late", task_type=T, created_at=now + timedelta(seconds=5)),
        TaskInfo(task_id="tie2", task_type=TaskType.PIPELINE, created_at=now,
                 status=TaskStatus.RUNNING),
        TaskInfo(task_id="tie1", task_type="custom", created_at=now,
                 status=TaskStatus.FAILED),
        TaskInfo(task_id="early", task_type=T, created_at=now - timedelta(seconds=5),
                 status=TaskStatus.COMPLETED),
    ]
    for r in rows:
        store.insert(r)
    ids = lambda infos: [i.task_id for i in infos]  # noqa: E731
    assert ids(store.list()) == ["early", "tie2", "tie1", "late"]  # equal times: insertion order
    assert ids(store.list(status="failed")) == ["tie1"]
    assert ids(store.list(status=TaskStatus.RUNNING)) == ["tie2"]
    assert ids(store.list(status=[TaskStatus.PENDING, "completed"])) == ["early", "late"]
    assert ids(store.list(status=set())) == []
    assert ids(store.list(task_type=T)) == ["early", "late"]
    assert ids(store.list(task_type=["custom", TaskType.PIPELINE])) == ["tie2", "tie1"]
    assert ids(store.list(status="pending", task_type=T)) == ["late"]
    assert ids(store.list(status="pending", task_type="custom")) == []


def test_heartbeat_touches_only_running_attempts_of_that_manager(store):
    t0 = utcnow() - timedelta(minutes=5)
    for tid, status, owner in (("r1", TaskStatus.RUNNING, "m1"), ("r2", TaskStatus.RUNNING, "m1"),
                               ("p1", TaskStatus.PENDING, "m1"), ("o1", TaskStatus.RUNNING, "m2"),
                               ("d1", TaskStatus.COMPLETED, "m1")):
        store.insert(TaskInfo(task_id=tid, task_type=T, status=status, manager_id=owner,
                              heartbeat_at=t0))
    when = utcnow()
    store.heartbeat("m1", ["r1", "p1", "o1", "d1", "unknown"], when)
    store.heartbeat("m1", [], when)  # nothing to do
    beats = {i.task_id: i.heartbeat_at for i in store.list()}
    assert beats == {"r1": when, "r2": t0, "p1": t0, "o1": t0, "d1": t0}


def test_documents(store):
    store.put_document("audio", "a1", {"path": "x.wav", "duration": 1.5})
    store.put_document("audio", "a2", {"z": 1, "a": {"nested": [1, "ü", None]}})
    store.put_document("runs", "a1", {"other": "collection"})
    store.put_document("audio", "a1", {"path": "x.wav", "duration": 2.0})  # replace in place
    assert store.get_document("audio", "a1") == {"path": "x.wav", "duration": 2.0}
    assert store.get_document("audio", "nope") is None
    assert store.get_document("runs", "a1") == {"other": "collection"}
    docs = store.list_documents("audio")
    assert docs == [{"path": "x.wav", "duration": 2.0}, {"z": 1, "a": {"nested": [1, "ü", None]}}]
    assert list(docs[1]) == ["z", "a"]
    assert store.list_documents("empty") == []
    assert store.delete_document("audio", "a1") is True
    assert store.delete_document("audio", "a1") is False
    assert [list(d) for d in store.list_documents("audio")] == [["z", "a"]]


def test_threads_share_one_store(store):
    errors = []

    def worker(k):
        try:
            for i in range(25):
                info = TaskInfo(task_id=f"{k}-{i}", task_type=T)
                store.insert(info)
                assert store.update(info.replace(status=TaskStatus.RUNNING))
                assert store.get(info.task_id).status is TaskStatus.RUNNING
                store.list(status="running")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.list(status="running")) == 200


def test_two_stores_on_one_target_see_each_other(store, store_target):
    other = open_store(store_target)  # reopening also finds the schema already there
    try:
        store.insert(TaskInfo(task_id="shared", task_type=T))
        assert other.get("shared") is not None
        other.put_document("c", "d", {"v": 1})
        assert store.get_document("c", "d") == {"v": 1}
    finally:
        other.close()


def test_closed_store_refuses_use(store_target):
    s = open_store(store_target)
    s.insert(TaskInfo(task_id="c", task_type=T))
    s.close()
    with pytest.raises(RuntimeError, match="closed"):
        s.get("c")
    s.close()  # twice is fine
    again = open_store(store_target)
    assert again.get("c") is not None
    again.close()
