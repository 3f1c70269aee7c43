"""What only the PostgreSQL store has: URLs, schema creation races, lost connections, roles.

Needs a server (``PIPELINE_KIT_TEST_POSTGRES_URL``; ``source .ci/services.sh``).
"""

from __future__ import annotations

import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from pipeline_kit.tasks import TaskInfo, TaskManager, TaskStatus, TaskType
from pipeline_kit.tasks._store import PostgresTaskStore, StoreConnectionError, open_store
from pipeline_kit.tasks._store_base import COLUMNS
from pipeline_kit.tasks._store_sqlite import SQLiteTaskStore

T = TaskType.TRANSCRIPTION


def with_user(url: str, user: str, password: str | None = None) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    auth = f"{user}:{password}" if password else user
    return urlunsplit(parts._replace(netloc=f"{auth}@{host}"))


def with_scheme(url: str, scheme: str) -> str:
    return scheme + "://" + url.split("://", 1)[1]


def columns(conn, table: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name=%s"
        " ORDER BY ordinal_position", (table,))]


def test_same_tables_and_columns_as_sqlite(postgres_url, tmp_path):
    import psycopg

    PostgresTaskStore(postgres_url).close()
    lite = SQLiteTaskStore(tmp_path / "t.sqlite3")
    lite_cols = {t: [r[1] for r in lite._conn().execute(f"PRAGMA table_info({t})")]
                 for t in ("tasks", "documents")}
    lite.close()
    with psycopg.connect(postgres_url) as conn:
        assert columns(conn, "tasks") == [*lite_cols["tasks"], "seq"] == [*COLUMNS, "seq"]
        assert columns(conn, "documents") == [*lite_cols["documents"], "seq"]
        types = dict(conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name='tasks'").fetchall())
    assert types["created_at"] == "timestamp with time zone" and types["metadata"] == "text"
    assert types["progress_percentage"] == "double precision" and types["pid"] == "bigint"


def test_password_never_shows(postgres_url):
    url = with_user(postgres_url, "postgres", "s3cret")  # the test server trusts any password
    store = open_store(url)
    assert isinstance(store, PostgresTaskStore)
    assert "postgres:***@" in repr(store) and "s3cret" not in repr(store) + store.url
    with TaskManager(store=url) as tm:
        assert "s3cret" not in repr(tm)
        with pytest.raises(KeyError) as e:
            tm.retry("no-such-task")
        assert "***" in str(e.value) and "s3cret" not in str(e.value)
    store.close()


@pytest.mark.parametrize("scheme", ["postgres", "postgresql+psycopg"])
def test_url_scheme_variants(postgres_url, scheme):
    store = open_store(with_scheme(postgres_url, scheme))
    store.insert(TaskInfo(task_id="s", task_type=T))
    store.close()
    other = open_store(postgres_url)
    assert other.get("s") is not None
    other.close()


def test_missing_database_is_named(postgres_url):
    parts = urlsplit(postgres_url)
    url = urlunsplit(parts._replace(path="/pk_no_such_db"))
    with pytest.raises(StoreConnectionError, match=r"pk_no_such_db.*does not exist"):
        open_store(url)


def test_many_processes_creating_the_schema_at_once(postgres_url):
    """Stores opened together on an empty database all succeed (advisory-locked DDL)."""
    barrier, errors, stores = threading.Barrier(8), [], []

    def open_one():
        barrier.wait()
        try:
            stores.append(PostgresTaskStore(postgres_url))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    stores[0].insert(TaskInfo(task_id="one", task_type=T))
    assert all(s.get("one") is not None for s in stores)
    for s in stores:
        s.close()


def test_connection_dropped_by_the_server_is_replaced(postgres_url):
    import psycopg

    store = PostgresTaskStore(postgres_url)
    info = TaskInfo(task_id="t", task_type=T)
    store.insert(info)
    db = urlsplit(postgres_url).path.lstrip("/")
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname=%s AND pid <> pg_backend_pid()) k", (db,)).fetchone()[0]
    assert killed >= 1
    assert store.get("t") is not None  # retried once on a fresh connection
    assert store.update(info.replace(status=TaskStatus.RUNNING))
    store.close()


def test_worker_role_without_create_rights_uses_an_existing_store(postgres_url):
    """Machines may run as a role that can read and write the tables but not create them."""
    import psycopg

    PostgresTaskStore(postgres_url).close()  # the schema, created by the owner
    role = f"pk_worker_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as owner:
        owner.execute(f"CREATE ROLE {role} LOGIN")
        owner.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        owner.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON tasks, documents TO {role}")
    try:
        url = with_user(postgres_url, role)
        with psycopg.connect(url) as c, pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("CREATE TABLE nope (x int)")
        with TaskManager(url) as tm:
            h = tm.submit(sum, [1, 2, 3], task_type=T)
            assert h.result(10) == 6
            tm.put_document("runs", "r1", {"ok": True})
        store = open_store(url)
        assert store.get(h.task_id).status is TaskStatus.COMPLETED
        assert store.list_documents("runs") == [{"ok": True}]
        store.close()
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as owner:
            owner.execute(f"DROP OWNED BY {role}")
            owner.execute(f"DROP ROLE {role}")


def test_pool_bounds_connections_per_store(postgres_url):
    import psycopg

    store = PostgresTaskStore(postgres_url, pool_size=2)
    store.insert(TaskInfo(task_id="p", task_type=T))
    db = urlsplit(postgres_url).path.lstrip("/")

    def reader():
        for _ in range(30):
            assert store.get("p") is not None

    threads = [threading.Thread(target=reader) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(postgres_url) as admin:
        n = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname=%s"
                          " AND application_name='pipeline_kit'", (db,)).fetchone()[0]
    assert 1 <= n <= 2
    store.close()


def test_a_table_from_before_progress_units_gains_the_columns(postgres_url):
    import psycopg

    from pipeline_kit.tasks._store_postgres import _pg_type

    new = ("progress_done", "progress_total", "progress_rate")
    old = [c for c in COLUMNS[1:] if c not in new]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE tasks (task_id TEXT PRIMARY KEY, "
                     f"{', '.join(f'{c} {_pg_type(c)}' for c in old)}, "
                     "seq BIGINT GENERATED ALWAYS AS IDENTITY)")
        conn.execute("CREATE TABLE documents (collection TEXT NOT NULL, doc_id TEXT NOT NULL,"
                     " data TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL,"
                     " seq BIGINT GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (collection, doc_id))")
    store = PostgresTaskStore(postgres_url)
    try:
        with psycopg.connect(postgres_url) as conn:
            assert set(new) <= set(columns(conn, "tasks"))
        store.insert(TaskInfo(task_id="n1", task_type="diarization", progress_done=2,
                              progress_total=5, progress_rate=0.5))
        got = store.get("n1")
        assert (got.progress_done, got.progress_total, got.progress_rate) == (2, 5, 0.5)
    finally:
        store.close()
