"""Where task records and generic JSON documents live.

:class:`TaskStore` is the interface the manager uses; :class:`SQLiteTaskStore` is the
default implementation (a later backend, e.g. PostgreSQL, implements the same
methods). All SQL stays in the SQLite class.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline_kit.tasks.types import TERMINAL, TaskInfo, TaskStatus, coerce_task_type

DEFAULT_HOME = "./data"
STORE_FILENAME = "tasks.sqlite3"


def pipeline_home() -> Path:
    """The toolkit's data folder: ``$PIPELINE_KIT_HOME`` or ``./data``."""
    return Path(os.environ.get("PIPELINE_KIT_HOME") or DEFAULT_HOME)


def default_store_path() -> Path:
    """``<home>/tasks.sqlite3``, the default task store."""
    return pipeline_home() / STORE_FILENAME


class TaskStore(ABC):
    """Persistence of task attempts and JSON documents; safe to call from any thread.

    ``update`` must never move a finished attempt back to an earlier state: it
    returns False and changes nothing when the stored attempt is already terminal
    (or when a RUNNING attempt would go back to PENDING).
    """

    @abstractmethod
    def insert(self, info: TaskInfo) -> None:
        """Add a new attempt."""

    @abstractmethod
    def update(self, info: TaskInfo) -> bool:
        """Overwrite a non-terminal attempt with ``info``; False when refused."""

    def write_many(self, inserts: Iterable[TaskInfo], updates: Iterable[TaskInfo]) -> None:
        """Apply several inserts, then updates, at once (one transaction where possible).

        The manager batches the transitions of one loop turn through this.
        """
        for info in inserts:
            self.insert(info)
        for info in updates:
            self.update(info)

    @abstractmethod
    def get(self, task_id: str) -> TaskInfo | None:
        """One attempt, or None."""

    @abstractmethod
    def list(
        self,
        status: Iterable[TaskStatus | str] | TaskStatus | str | None = None,
        task_type: Iterable[str] | str | None = None,
    ) -> list[TaskInfo]:
        """Attempts, oldest first, optionally filtered by status and type."""

    @abstractmethod
    def heartbeat(self, manager_id: str, task_ids: Iterable[str], when: datetime) -> None:
        """Record that ``manager_id`` is still running ``task_ids``."""

    @abstractmethod
    def put_document(self, collection: str, doc_id: str, data: dict[str, Any]) -> None:
        """Insert or replace a JSON document."""

    @abstractmethod
    def get_document(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        """One document, or None."""

    @abstractmethod
    def list_documents(self, collection: str) -> list[dict[str, Any]]:
        """All documents of a collection, in insertion order."""

    def delete_document(self, collection: str, doc_id: str) -> bool:
        """Remove a document; True when it existed."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections (the store may not be used afterwards)."""


# ---------------------------------------------------------------- SQLite encoding

_JSON_FIELDS = {"metadata", "result_data"}
_TIME_FIELDS = {"started_at", "completed_at", "created_at", "updated_at", "heartbeat_at"}
_COLUMNS = [f for f in TaskInfo.__dataclass_fields__]
_TERMINAL_SQL = ", ".join(f"'{s.value}'" for s in TERMINAL)


def _ts(v: datetime | None) -> float | None:
    return None if v is None else v.timestamp()


def _row(info: TaskInfo) -> tuple[Any, ...]:
    out = []
    for name in _COLUMNS:
        v = getattr(info, name)
        if name in _TIME_FIELDS:
            v = _ts(v)
        elif name in _JSON_FIELDS:
            v = None if v is None else json.dumps(v)
        elif name in ("status", "task_type"):
            v = str(v.value if hasattr(v, "value") else v)
        out.append(v)
    return tuple(out)


def _info(row: sqlite3.Row) -> TaskInfo:
    kw: dict[str, Any] = {}
    for name in _COLUMNS:
        v = row[name]
        if name in _TIME_FIELDS:
            v = None if v is None else datetime.fromtimestamp(v, UTC)
        elif name in _JSON_FIELDS:
            v = None if v is None else json.loads(v)
        kw[name] = v
    kw["status"] = TaskStatus(kw["status"])
    kw["task_type"] = coerce_task_type(kw["task_type"])
    kw["metadata"] = kw["metadata"] or {}
    return TaskInfo(**kw)


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    {", ".join(f"{c} {'REAL' if c in _TIME_FIELDS else ''}".strip() for c in _COLUMNS[1:])}
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


class SQLiteTaskStore(TaskStore):
    """Task store in one SQLite file: WAL mode, a connection per thread, busy timeout.

    Several processes may share the file (one writer at a time, readers never block).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout: float = 10.0):
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)
        self._insert_sql = (
            f"INSERT INTO tasks ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        )
        sets = ", ".join(f"{c}=?" for c in _COLUMNS[1:])
        self._update_sql = (
            f"UPDATE tasks SET {sets} WHERE task_id=? AND status NOT IN ({_TERMINAL_SQL})"
            " AND NOT (status='running' AND ?='pending')"
        )

    def __repr__(self) -> str:
        return f"SQLiteTaskStore({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError(f"{self!r} is closed")
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def insert(self, info: TaskInfo) -> None:
        self._conn().execute(self._insert_sql, _row(info))

    @staticmethod
    def _update_params(info: TaskInfo) -> tuple[Any, ...]:
        row = _row(info)
        return (*row[1:], row[0], info.status.value)

    def update(self, info: TaskInfo) -> bool:
        cur = self._conn().execute(self._update_sql, self._update_params(info))
        return cur.rowcount > 0

    def write_many(self, inserts: Iterable[TaskInfo], updates: Iterable[TaskInfo]) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(self._insert_sql, [_row(i) for i in inserts])
            conn.executemany(self._update_sql, [self._update_params(i) for i in updates])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def get(self, task_id: str) -> TaskInfo | None:
        row = self._conn().execute("SELECT * FROM tasks WHERE task_id=?", (task_id,)).fetchone()
        return None if row is None else _info(row)

    def list(self, status=None, task_type=None) -> list[TaskInfo]:  # noqa: D102
        sql, params = "SELECT * FROM tasks", []
        where = []
        for col, val in (("status", status), ("task_type", task_type)):
            if val is None:
                continue
            vals = [val] if isinstance(val, str) else list(val)
            vals = [str(v.value if hasattr(v, "value") else v) for v in vals]
            where.append(f"{col} IN ({', '.join('?' * len(vals))})")
            params += vals
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, rowid"
        return [_info(r) for r in self._conn().execute(sql, params)]

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

    def list_documents(self, collection: str) -> list[dict[str, Any]]:
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
