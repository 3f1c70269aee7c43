"""Where task records and generic JSON documents live, and how a store is chosen.

:class:`TaskStore` is the interface the manager uses, with one implementation per
backend: :class:`SQLiteTaskStore` (the default, one file) and
:class:`PostgresTaskStore` (a server that many machines share). :func:`open_store`
picks one from a path or a database URL.
"""

from __future__ import annotations

import os

from pipeline_kit.tasks._store_base import (
    DEFAULT_HOME,
    STORE_FILENAME,
    StoreConnectionError,
    TaskStore,
    default_store_path,
    pipeline_home,
)
from pipeline_kit.tasks._store_postgres import PostgresTaskStore, is_postgres_url, redact_url
from pipeline_kit.tasks._store_sqlite import SQLiteTaskStore

STORE_ENV = "PIPELINE_KIT_STORE"

__all__ = [
    "DEFAULT_HOME",
    "STORE_ENV",
    "STORE_FILENAME",
    "PostgresTaskStore",
    "SQLiteTaskStore",
    "StoreConnectionError",
    "TaskStore",
    "default_store_path",
    "open_store",
    "pipeline_home",
    "redact_url",
]


def open_store(target: TaskStore | str | os.PathLike[str] | None = None, *,
               read_only: bool = False) -> TaskStore:
    """The store for ``target``.

    A ``postgresql://`` (or ``postgres://``) URL opens a :class:`PostgresTaskStore`;
    a path opens a :class:`SQLiteTaskStore`. None means ``$PIPELINE_KIT_STORE`` (a
    URL or a path) when set, else the default file ``<home>/tasks.sqlite3``. An
    unreachable server raises :class:`StoreConnectionError` naming the URL (its
    password masked) and the problem; a malformed URL raises ValueError.
    ``read_only``: a SQLite file is opened only to read (it must exist); a server's
    store is opened as usual (its permissions are the server's business).
    """
    if isinstance(target, TaskStore):
        return target
    if target is None:
        target = os.environ.get(STORE_ENV) or None
    if isinstance(target, str) and "://" in target:
        if is_postgres_url(target):
            return PostgresTaskStore(target)
        raise ValueError(
            f"unsupported task store URL {redact_url(target)}:"
            " use postgresql://user:password@host:port/database or a SQLite file path"
        )
    return SQLiteTaskStore(target, read_only=read_only)
