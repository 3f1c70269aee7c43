"""The task-store interface, the default data folder, and the row encoding all backends share.

Backends (:mod:`~pipeline_kit.tasks._store_sqlite`, :mod:`~pipeline_kit.tasks._store_postgres`)
keep the same ``tasks`` and ``documents`` tables; they differ only in SQL dialect and in
how a time is stored, so the :class:`RowCodec` here takes that one difference as hooks.
"""

from __future__ import annotations

import builtins
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline_kit.base._fs import default_home
from pipeline_kit.tasks._types import TERMINAL, TaskInfo, TaskStatus, coerce_task_type

DEFAULT_HOME = "~/.local/share/pipeline_kit"  # see base._fs.user_home_folder
STORE_FILENAME = "tasks.sqlite3"


def pipeline_home() -> Path:
    """The toolkit's data folder: ``$PIPELINE_KIT_HOME`` or a per-user folder
    (:func:`~pipeline_kit.base._fs.default_home`)."""
    return default_home()


def default_store_path() -> Path:
    """``<home>/tasks.sqlite3``, the default task store."""
    return pipeline_home() / STORE_FILENAME


class StoreConnectionError(ConnectionError):
    """A task store could not be reached or opened (the message names it, without secrets)."""


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

    def find_ids(self, prefix: str, limit: int = 20) -> list[str]:
        """Ids of attempts starting with ``prefix`` (at most ``limit``, sorted).

        Backends answer from their index; this fallback reads every record.
        """
        return sorted(i.task_id for i in self.list() if i.task_id.startswith(prefix))[:limit]

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
    def list_documents(self, collection: str) -> builtins.list[dict[str, Any]]:
        """All documents of a collection, in insertion order."""

    def delete_document(self, collection: str, doc_id: str) -> bool:
        """Remove a document; True when it existed."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections (the store may not be used afterwards)."""


# ------------------------------------------------------------------ shared encoding

COLUMNS: list[str] = list(TaskInfo.__dataclass_fields__)
JSON_FIELDS = frozenset({"metadata", "result_data"})
TIME_FIELDS = frozenset({"started_at", "completed_at", "created_at", "updated_at", "heartbeat_at"})
TERMINAL_SQL = ", ".join(f"'{s.value}'" for s in TERMINAL)


def insert_sql(mark: str) -> str:
    """``INSERT INTO tasks`` of every column, with ``mark`` as the parameter placeholder."""
    return f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join([mark] * len(COLUMNS))})"


def update_sql(mark: str) -> str:
    """The guarded UPDATE: a terminal attempt, or RUNNING→PENDING, matches no row.

    The guard sits in the WHERE clause so it holds against concurrent writers.
    Parameters are :meth:`RowCodec.update_params`.
    """
    sets = ", ".join(f"{c}={mark}" for c in COLUMNS[1:])
    return (
        f"UPDATE tasks SET {sets} WHERE task_id={mark} AND status NOT IN ({TERMINAL_SQL})"
        f" AND NOT (status='running' AND CAST({mark} AS TEXT)='pending')"
    )


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching strings that start with ``prefix`` (escape character ``\\``)."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def filter_values(value: Iterable[Any] | Any) -> list[str]:
    """A status/type filter (one value or several, enums or strings) as strings."""
    vals = [value] if isinstance(value, str) else list(value)
    return [str(v.value if hasattr(v, "value") else v) for v in vals]


def _same(v: Any) -> Any:
    return v


@dataclass(frozen=True)
class RowCodec:
    """TaskInfo ⇄ one row of the ``tasks`` table, in :data:`COLUMNS` order.

    JSON fields are JSON text and enums their values in every backend; how a time
    is stored (``time_out``/``time_in``) and any text clean-up (``text_out``) are
    the backend's.
    """

    time_out: Callable[[datetime], Any]
    time_in: Callable[[Any], datetime]
    text_out: Callable[[str], str] = _same

    def to_row(self, info: TaskInfo) -> tuple[Any, ...]:
        """Column values of ``info``, ready as statement parameters."""
        out = []
        for name in COLUMNS:
            v = getattr(info, name)
            if v is None:
                pass
            elif name in TIME_FIELDS:
                v = self.time_out(v)
            elif name in JSON_FIELDS:
                v = self.text_out(json.dumps(v))
            elif name in ("status", "task_type"):
                v = str(v.value if hasattr(v, "value") else v)
            elif isinstance(v, str):
                v = self.text_out(v)
            out.append(v)
        return tuple(out)

    def update_params(self, info: TaskInfo) -> tuple[Any, ...]:
        """Parameters of :func:`update_sql` for ``info``."""
        row = self.to_row(info)
        return (*row[1:], row[0], info.status.value)

    def from_row(self, row: Mapping[str, Any]) -> TaskInfo:
        """The TaskInfo of a row read by column name."""
        kw: dict[str, Any] = {}
        for name in COLUMNS:
            v = row[name]
            if v is not None and name in TIME_FIELDS:
                v = self.time_in(v)
            elif v is not None and name in JSON_FIELDS:
                v = json.loads(v)
            kw[name] = v
        kw["status"] = TaskStatus(kw["status"])
        kw["task_type"] = coerce_task_type(kw["task_type"])
        kw["metadata"] = kw["metadata"] or {}
        return TaskInfo(**kw)
