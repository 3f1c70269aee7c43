"""Reading commands on a task store this process cannot write (a read-only home, or
another user's): ``tasks`` and ``status`` open the store read-only instead of through a
task manager (whose start-up recovery writes); ``retry`` and ``cancel`` refuse."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipeline_kit.tasks._types import SHORT_ID_MIN, TaskInfo


def store_writable(target: str | os.PathLike[str]) -> bool:
    """Whether this process may write the SQLite store at ``target`` (a server's store,
    given as a URL, is taken to be writable: the server decides)."""
    if "://" in str(target):
        return True
    path = Path(target)
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def read_tasks(target: str | os.PathLike[str], status: list[str] | None,
               task_type: list[str] | None) -> list[TaskInfo]:
    """The store's attempts, filtered, read without writing anything."""
    from pipeline_kit.tasks._store import open_store

    store = open_store(target, read_only=True)
    try:
        return store.list(status=status, task_type=task_type)
    finally:
        store.close()


def read_status(target: str | os.PathLike[str], task_id: str) -> dict[str, Any] | str:
    """The task of ``task_id`` (or a unique prefix of 6+ characters) as ``status`` shows
    it, or a one-line reason when there is none (unknown, or an ambiguous prefix)."""
    from pipeline_kit.tasks._store import open_store

    store = open_store(target, read_only=True)
    try:
        info = store.get(task_id)
        if info is None and len(task_id) >= SHORT_ID_MIN:
            found = store.find_ids(task_id)
            if len(found) > 1:
                return f"task id prefix {task_id!r} matches {len(found)} tasks: " \
                       f"{', '.join(found[:5])}"
            info = store.get(found[0]) if found else None
    finally:
        store.close()
    if info is None:
        hint = " (an id prefix needs at least 6 characters)" if len(task_id) < SHORT_ID_MIN \
            else ""
        return f"unknown task id {task_id!r}{hint}"
    d = info.to_dict()
    d.pop("call_args", None)
    return d
