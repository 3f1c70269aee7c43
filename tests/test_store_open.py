"""Choosing a store: paths, URLs, $PIPELINE_KIT_STORE, and the errors for bad targets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_kit.tasks._store import (
    STORE_ENV,
    SQLiteTaskStore,
    StoreConnectionError,
    open_store,
    redact_url,
)

REPO = Path(__file__).resolve().parents[1]


def test_paths_open_sqlite(tmp_path, monkeypatch):
    monkeypatch.delenv(STORE_ENV, raising=False)
    for target in (tmp_path / "a.sqlite3", str(tmp_path / "b.sqlite3")):
        s = open_store(target)
        assert isinstance(s, SQLiteTaskStore) and s.path == Path(target)
        assert open_store(s) is s  # a store is used as it is
        s.close()


def test_none_is_the_environment_then_the_default_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPELINE_KIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(STORE_ENV, raising=False)
    s = open_store()
    assert isinstance(s, SQLiteTaskStore) and s.path == tmp_path / "home" / "tasks.sqlite3"
    s.close()
    monkeypatch.setenv(STORE_ENV, "")  # empty counts as unset
    s = open_store()
    assert s.path == tmp_path / "home" / "tasks.sqlite3"
    s.close()
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "env.sqlite3"))
    s = open_store()
    assert s.path == tmp_path / "env.sqlite3"
    s.close()


def test_unsupported_url_is_named_without_its_password():
    with pytest.raises(ValueError, match=r"mysql://u:\*\*\*@db:3306/tasks") as e:
        open_store("mysql://u:s3cret@db:3306/tasks")
    assert "s3cret" not in str(e.value) and "postgresql://" in str(e.value)


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:p%40ss@h:5432/db", "postgresql://u:***@h:5432/db"),
    ("postgres://u@h/db", "postgres://u@h/db"),
    ("postgresql://h/db?sslmode=require&password=x", "postgresql://h/db?sslmode=require&password=***"),
    ("postgresql:///db", "postgresql:///db"),
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_names_url_and_problem():
    pytest.importorskip("psycopg")
    url = f"postgresql://u:s3cret@127.0.0.1:{free_port()}/tasks"
    with pytest.raises(StoreConnectionError) as e:
        open_store(url)
    msg = str(e.value)
    assert "u:***@127.0.0.1" in msg and "/tasks" in msg and "s3cret" not in msg
    assert "refused" in msg.lower()
    assert isinstance(e.value, ConnectionError)


def test_malformed_url_is_a_value_error():
    pytest.importorskip("psycopg")
    with pytest.raises(ValueError, match=r"invalid PostgreSQL URL postgresql://u:\*\*\*@h/db"):
        open_store("postgresql://u:s3cret@h/db?no_such_option=1")
    with pytest.raises((ValueError, StoreConnectionError), match="port") as e:
        open_store("postgresql://u:s3cret@127.0.0.1:notaport/db")
    assert "s3cret" not in str(e.value)


def test_without_psycopg_the_error_names_the_extra():
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "import pipeline_kit.tasks._store as st\n"
        "try:\n"
        "    st.open_store('postgresql://u@127.0.0.1:1/db')\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    assert "pipeline_kit[postgres]" in out.stdout and "psycopg" in out.stdout


def test_importing_the_store_does_not_import_psycopg():
    code = "import pipeline_kit.tasks, sys; print('psycopg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


NEW_COLUMNS = ("progress_done", "progress_total", "progress_rate")


def test_a_file_from_before_progress_units_gains_the_columns(tmp_path):
    import sqlite3

    from pipeline_kit.tasks import TaskInfo, TaskType
    from pipeline_kit.tasks._store_base import COLUMNS

    path = tmp_path / "old.sqlite3"
    old = [c for c in COLUMNS if c not in NEW_COLUMNS]
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE tasks (task_id TEXT PRIMARY KEY, {', '.join(old[1:])})")
        conn.execute("INSERT INTO tasks (task_id, task_type, status, created_at, updated_at,"
                     " metadata) VALUES ('old1', 'transcription', 'completed', 0, 0, '{}')")
    conn.close()
    store = SQLiteTaskStore(path)
    try:
        assert store.get("old1").progress_total is None  # the old row reads back
        store.insert(TaskInfo(task_id="new1", task_type=TaskType.PIPELINE, progress_done=2,
                              progress_total=5, progress_rate=0.5))
        got = store.get("new1")
        assert (got.progress_done, got.progress_total, got.progress_rate) == (2, 5, 0.5)
    finally:
        store.close()
