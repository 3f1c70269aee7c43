"""The default task store: one SQLite file (WAL), shared by the processes of one machine."""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline_kit.tasks._store_base import (
    COLUMNS,
    TIME_FIELDS,
    RowCodec,
    TaskStore,
    default_store_path,
    filter_values,
    insert_sql,
    like_prefix,
    update_sql,
)
from pipeline_kit.tasks._types import TaskInfo

# Times are stored as POSIX seconds (REAL), so they sort and compare in SQL.
CODEC = RowCodec(
    time_out=lambda v: v.timestamp(),
    time_in=lambda v: datetime.fromtimestamp(v, UTC),
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    {", ".join(f"{c} {'REAL' if c in TIME_FIELDS else ''}".strip() for c in COLUMNS[1:])}
);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks(status);
CREATE INDEX IF NOT EXISTS tasks_created ON tasks(created_at);
CREATE INDEX IF NOT EXISTS tasks_parent ON tasks(parent_id);
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (collection, doc_id)
);
"""


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Add columns a newer TaskInfo has to a file made by an older version."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(tasks)")}
    for c in COLUMNS:
        if c not in have:
            kind = " REAL" if c in TIME_FIELDS else ""
            try:
                conn.execute(f"ALTER TABLE tasks ADD COLUMN {c}{kind}")
            except sqlite3.OperationalError as e:
                if "duplicate column" not in str(e):  # another process added it first
                    raise


class SQLiteTaskStore(TaskStore):
    """Task store in one SQLite file: WAL mode, a connection per thread, busy timeout.

    Several processes may share the file (one writer at a time, readers never block).
    ``read_only``: open an existing file only to read it (a read-only home, or another
    user's): nothing is created or migrated, and every write fails.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 10.0,
                 read_only: bool = False):
        self.path = Path(path) if path is not None else default_store_path()
        self.read_only = read_only
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._insert_sql = insert_sql("?")
        self._update_sql = update_sql("?")
        if read_only:
            self._conn().execute("SELECT count(*) FROM tasks")  # fails now if it is no store
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        _add_missing_columns(conn)

    def __repr__(self) -> str:
        return f"SQLiteTaskStore({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed")
            conn = self._connect()
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            if not self.read_only:
                conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        if not self.read_only:
            return sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        if not self.path.is_file():
            raise FileNotFoundError(f"no task store at {self.path}")
        uri = self.path.resolve().as_uri()
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=self.busy_timeout,
                               isolation_level=None, check_same_thread=False)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A WAL file in a folder this process cannot write: SQLite cannot create the
            # shared-memory index it needs. immutable=1 reads without it, trusting the
            # file not to change meanwhile (at worst a listing misses a write under way).
            conn.close()
            conn = sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None,
                                   check_same_thread=False)
        return conn

    def insert(self, info: TaskInfo) -> None:
        self._conn().execute(self._insert_sql, CODEC.to_row(info))

    def update(self, info: TaskInfo) -> bool:
        cur = self._conn().execute(self._update_sql, CODEC.update_params(info))
        return cur.rowcount > 0

    def write_many(self, inserts: Iterable[TaskInfo], updates: Iterable[TaskInfo]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(self._insert_sql, [CODEC.to_row(i) for i in inserts])
            conn.executemany(self._update_sql, [CODEC.update_params(i) for i in updates])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def get(self, task_id: str) -> TaskInfo | None:
        row = self._conn().execute("SELECT * FROM tasks WHERE task_id=?", (task_id,)).fetchone()
        return None if row is None else CODEC.from_row(row)

    def find_ids(self, prefix: str, limit: int = 20) -> list[str]:
        rows = self._conn().execute(
            "SELECT task_id FROM tasks WHERE task_id LIKE ? ESCAPE '\\' ORDER BY task_id LIMIT ?",
            (like_prefix(prefix), limit),
        )
        # LIKE ignores ASCII case in SQLite; ids are case-sensitive.
        return [r[0] for r in rows if r[0].startswith(prefix)]

    def list(self, status=None, task_type=None) -> list[TaskInfo]:  # noqa: D102
        sql, params = "SELECT * FROM tasks", []
        where = []
        for col, val in (("status", status), ("task_type", task_type)):
            if val is None:
                continue
            vals = filter_values(val)
            where.append(f"{col} IN ({', '.join('?' * len(vals))})")
            params += vals
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, rowid"
        return [CODEC.from_row(r) for r in self._conn().execute(sql, params)]

    def heartbeat(self, manager_id: str, task_ids: Iterable[str], when: datetime) -> None:
        ids = list(task_ids)
        if not ids:
            return
        marks = ", ".join("?" * len(ids))
        self._conn().execute(
            f"UPDATE tasks SET heartbeat_at=? WHERE manager_id=? AND status='running'"
            f" AND task_id IN ({marks})",
            (when.timestamp(), manager_id, *ids),
        )

    def put_document(self, collection: str, doc_id: str, data: dict[str, Any]) -> None:
        text = json.dumps(data)
        self._conn().execute(
            "INSERT INTO documents (collection, doc_id, data, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(collection, doc_id) DO UPDATE SET data=excluded.data,"
            " updated_at=excluded.updated_at",
            (collection, doc_id, text, datetime.now(UTC).timestamp()),
        )

    def get_document(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        row = self._conn().execute(
            "SELECT data FROM documents WHERE collection=? AND doc_id=?", (collection, doc_id)
        ).fetchone()
        return None if row is None else json.loads(row[0])

    def list_documents(self, collection: str) -> builtins.list[dict[str, Any]]:
        rows = self._conn().execute(
            "SELECT data FROM documents WHERE collection=? ORDER BY rowid", (collection,)
        )
        return [json.loads(r[0]) for r in rows]

    def delete_document(self, collection: str, doc_id: str) -> bool:
        cur = self._conn().execute(
            "DELETE FROM documents WHERE collection=? AND doc_id=?", (collection, doc_id)
        )
        return cur.rowcount > 0

    def close(self) -> None:
        self._closed = True
        with self._lock:
            conns, self._all = self._all, []
        for c in conns:
            try:
                c.close()
            except sqlite3.ProgrammingError:
                pass  # closed from another thread already
        self._local = threading.local()
