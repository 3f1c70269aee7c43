"""Task store on a PostgreSQL server, so managers on many machines share one history.

Same ``tasks``/``documents`` tables as the SQLite store. Types: times are
``TIMESTAMPTZ``; JSON fields stay JSON *text* (``TEXT``), exactly as in SQLite, so
key order, NaN and ``\\u0000`` round-trip the same way (``json``/``jsonb`` would
reject NaN, which task arguments and results may hold). A hidden identity column
``seq`` plays SQLite's ``rowid``: insertion order among equal ``created_at``.

psycopg 3 is imported on first use (``pip install 'pipeline_kit[postgres]'``).
"""

from __future__ import annotations

import builtins
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from pipeline_kit.tasks._store_base import (
    COLUMNS,
    JSON_FIELDS,
    TIME_FIELDS,
    RowCodec,
    StoreConnectionError,
    TaskStore,
    filter_values,
    insert_sql,
    like_prefix,
    update_sql,
)
from pipeline_kit.tasks._types import TaskInfo

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMES = ("postgresql", "postgres")
SCHEMA_LOCK_KEY = 0x706B5F7461736B73  # pg_advisory_xact_lock key ("pk_tasks") for schema creation
_COLS = ", ".join(COLUMNS)


def is_postgres_url(target: str) -> bool:
    """True for ``postgresql://``, ``postgres://`` and ``postgresql+<driver>://`` URLs."""
    scheme = target.split("://", 1)[0].lower() if "://" in target else ""
    return scheme.split("+", 1)[0] in SCHEMES


def redact_url(url: str) -> str:
    """``url`` with any password (in the user part or the query) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, host = netloc.rsplit("@", 1)
            netloc = f"{user.split(':', 1)[0]}:***@{host}" if ":" in user else netloc
        query = "&".join(
            "password=***" if p.split("=", 1)[0].lower() == "password" else p
            for p in parts.query.split("&")
        ) if parts.query else ""
        out = f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
        return out + (f"#{parts.fragment}" if parts.fragment else "")
    except ValueError:
        return url.split("://", 1)[0] + "://***"


def _secrets(url: str) -> list[str]:
    """The password of ``url``, raw and decoded, for scrubbing error messages."""
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
        found += [p.split("=", 1)[1] for p in parts.query.split("&")
                  if p.split("=", 1)[0].lower() == "password" and "=" in p]
    except ValueError:
        return []
    return [s for f in found if f for s in {f, unquote(f)}]


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as e:
        raise ImportError(
            "the PostgreSQL task store needs psycopg 3: pip install 'pipeline_kit[postgres]'"
            f" ({e})"
        ) from e
    return psycopg


def _pg_type(name: str) -> str:
    if name in TIME_FIELDS:
        return "TIMESTAMPTZ"
    if name in JSON_FIELDS:
        return "TEXT"
    base = str(TaskInfo.__dataclass_fields__[name].type).split("|")[0].strip()
    return {"float": "DOUBLE PRECISION", "int": "BIGINT"}.get(base, "TEXT")


_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    {", ".join(f"{c} {_pg_type(c)}" for c in COLUMNS[1:])},
    seq BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX IF NOT EXISTS tasks_status ON tasks(status);
CREATE INDEX IF NOT EXISTS tasks_created ON tasks(created_at, seq);
CREATE INDEX IF NOT EXISTS tasks_parent ON tasks(parent_id);
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    data TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (collection, doc_id)
);
"""


def _missing_columns(conn: Any) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'tasks'"
        " AND table_schema = current_schema()"
    ).fetchall()
    have = {r["column_name"] for r in rows}
    return [c for c in COLUMNS if c not in have]


def _time_out(v: datetime) -> datetime:
    return v if v.tzinfo is not None else v.astimezone()  # naive = local time, as in SQLite


def _text_out(s: str) -> str:
    return s.replace("\x00", "\ufffd") if "\x00" in s else s  # PostgreSQL text cannot hold NUL


CODEC = RowCodec(time_out=_time_out, time_in=lambda v: v.astimezone(UTC), text_out=_text_out)


class _Pool:
    """A few connections handed to one thread at a time (psycopg transactions are per connection).

    Broken connections are dropped on release; after a fork the child opens its own.
    """

    def __init__(self, connect: Callable[[], Any], size: int) -> None:
        self._connect, self._size = connect, size
        self._idle: list[Any] = []
        self._count = 0
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self.closed = False

    def acquire(self, what: str) -> tuple[Any, bool]:
        """A connection and whether it was used before (it may have gone stale)."""
        with self._cond:
            if self._pid != os.getpid():  # forked: the parent's sockets are not ours
                self._idle, self._count, self._pid = [], 0, os.getpid()
            while True:
                if self.closed:
                    raise RuntimeError(f"{what} is closed")
                if self._idle:
                    return self._idle.pop(), True
                if self._count < self._size:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            return self._connect(), False
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise

    def release(self, conn: Any) -> None:
        """Back to the idle list, or closed when broken, mid-transaction or the pool is closed."""
        from psycopg.pq import TransactionStatus

        idle = conn.info.transaction_status == TransactionStatus.IDLE
        with self._cond:
            keep = not self.closed and not conn.closed and idle and self._pid == os.getpid()
            if keep:
                self._idle.append(conn)
            else:
                self._count -= 1
            self._cond.notify()
        if not keep:
            conn.close()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            conn.close()


class PostgresTaskStore(TaskStore):
    """Task store in a PostgreSQL database given by a ``postgresql://`` URL.

    Creates its tables when missing (under an advisory lock, so processes starting
    together do not race). Thread-safe: each call borrows one of ``pool_size``
    connections; a connection the server dropped is replaced and the call retried once.
    """

    def __init__(self, url: str, *, pool_size: int = 4, connect_timeout: float = 10.0) -> None:
        self._pg = _import_psycopg()
        if not is_postgres_url(url):
            raise ValueError(f"not a PostgreSQL URL (postgresql://user@host/db): {redact_url(url)}")
        self._url = "postgresql://" + url.split("://", 1)[1]  # also postgres://, +driver
        self.url = redact_url(url)  # for display: the password is masked
        self._hide = _secrets(url)
        try:
            params = self._pg.conninfo.conninfo_to_dict(self._url)
        except self._pg.Error as e:
            raise ValueError(f"invalid PostgreSQL URL {self.url}: {self._scrub(e)}") from None
        self._kwargs: dict[str, Any] = {"autocommit": True, "application_name": "pipeline_kit"}
        if "connect_timeout" not in params:
            self._kwargs["connect_timeout"] = max(1, round(connect_timeout))
        self._insert_sql = insert_sql("%s")
        self._update_sql = update_sql("%s")
        self._pool = _Pool(self._connect, pool_size)
        try:
            self._run(self._create_schema)
        except self._pg.Error as e:
            self._pool.close()
            raise StoreConnectionError(
                f"cannot open task store {self.url}: {self._scrub(e)}"
            ) from None

    def __repr__(self) -> str:
        return f"PostgresTaskStore({self.url!r})"

    def _scrub(self, err: BaseException) -> str:
        msg = str(err).strip() or type(err).__name__
        for secret in self._hide:
            msg = msg.replace(secret, "***")
        return msg

    def _connect(self) -> Any:
        from psycopg.rows import dict_row

        return self._pg.connect(self._url, row_factory=dict_row, **self._kwargs)

    def _run(self, fn: Callable[[Any], T]) -> T:
        """``fn(connection)``, again on a new connection if a reused one turns out dead."""
        for attempt in (1, 2):
            conn, reused = self._pool.acquire(repr(self))
            try:
                return fn(conn)
            except self._pg.OperationalError:
                if attempt == 2 or not reused or not conn.broken:
                    raise
                log.info("%r: connection lost, reconnecting", self)
            finally:
                self._pool.release(conn)
        raise AssertionError("unreachable")

    @staticmethod
    def _create_schema(conn: Any) -> None:
        ready = conn.execute(
            "SELECT to_regclass('tasks') IS NOT NULL AND to_regclass('documents') IS NOT NULL"
            " AS ready"
        ).fetchone()["ready"]
        missing = [] if not ready else _missing_columns(conn)
        if ready and not missing:  # nothing to do, and no CREATE privilege needed
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            conn.execute(_SCHEMA)
            for c in _missing_columns(conn):  # a table made by an older version
                conn.execute(f"ALTER TABLE tasks ADD COLUMN IF NOT EXISTS {c} {_pg_type(c)}")

    def insert(self, info: TaskInfo) -> None:
        row = CODEC.to_row(info)
        self._run(lambda c: c.execute(self._insert_sql, row))

    def update(self, info: TaskInfo) -> bool:
        params = CODEC.update_params(info)
        return self._run(lambda c: c.execute(self._update_sql, params).rowcount > 0)

    def write_many(self, inserts: Iterable[TaskInfo], updates: Iterable[TaskInfo]) -> None:
        rows = [CODEC.to_row(i) for i in inserts]
        params = [CODEC.update_params(i) for i in updates]

        def write(conn: Any) -> None:
            with conn.transaction(), conn.cursor() as cur:
                if rows:
                    cur.executemany(self._insert_sql, rows)
                if params:
                    cur.executemany(self._update_sql, params)

        if rows or params:
            self._run(write)

    def get(self, task_id: str) -> TaskInfo | None:
        row = self._run(
            lambda c: c.execute(f"SELECT {_COLS} FROM tasks WHERE task_id=%s", (task_id,))
            .fetchone()
        )
        return None if row is None else CODEC.from_row(row)

    def find_ids(self, prefix: str, limit: int = 20) -> list[str]:
        rows = self._run(
            lambda c: c.execute(
                "SELECT task_id FROM tasks WHERE task_id LIKE %s ESCAPE '\\'"
                " ORDER BY task_id LIMIT %s", (like_prefix(prefix), limit)).fetchall()
        )
        return [r["task_id"] for r in rows]

    def list(self, status=None, task_type=None) -> list[TaskInfo]:  # noqa: D102
        where, params = [], []
        for col, val in (("status", status), ("task_type", task_type)):
            if val is not None:
                where.append(f"{col} = ANY(%s::text[])")
                params.append(filter_values(val))
        sql = f"SELECT {_COLS} FROM tasks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, seq"
        rows = self._run(lambda c: c.execute(sql, params).fetchall())
        return [CODEC.from_row(r) for r in rows]

    def heartbeat(self, manager_id: str, task_ids: Iterable[str], when: datetime) -> None:
        ids = list(task_ids)
        if ids:
            self._run(lambda c: c.execute(
                "UPDATE tasks SET heartbeat_at=%s WHERE manager_id=%s AND status='running'"
                " AND task_id = ANY(%s::text[])",
                (_time_out(when), manager_id, ids),
            ))

    def put_document(self, collection: str, doc_id: str, data: dict[str, Any]) -> None:
        args = (collection, doc_id, json.dumps(data), datetime.now(UTC))
        self._run(lambda c: c.execute(
            "INSERT INTO documents (collection, doc_id, data, updated_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (collection, doc_id) DO UPDATE SET data=EXCLUDED.data,"
            " updated_at=EXCLUDED.updated_at",
            args,
        ))

    def get_document(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        row = self._run(lambda c: c.execute(
            "SELECT data FROM documents WHERE collection=%s AND doc_id=%s", (collection, doc_id)
        ).fetchone())
        return None if row is None else json.loads(row["data"])

    def list_documents(self, collection: str) -> builtins.list[dict[str, Any]]:
        rows = self._run(lambda c: c.execute(
            "SELECT data FROM documents WHERE collection=%s ORDER BY seq", (collection,)
        ).fetchall())
        return [json.loads(r["data"]) for r in rows]

    def delete_document(self, collection: str, doc_id: str) -> bool:
        return self._run(lambda c: c.execute(
            "DELETE FROM documents WHERE collection=%s AND doc_id=%s", (collection, doc_id)
        ).rowcount > 0)

    def close(self) -> None:
        self._pool.close()
