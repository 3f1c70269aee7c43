"""Write-behind of task snapshots: every change of one loop turn commits in one transaction.

Lives on the manager's loop. A write that still fails after a few quick retries
is kept in memory and written again on :meth:`StoreWriter.requeue_unsaved` (the
manager calls it at every heartbeat and at close), so a flaky or full store
never silently loses a task's final state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from pipeline_kit.tasks._store import TaskStore
from pipeline_kit.tasks._types import TaskInfo

log = logging.getLogger(__name__)

# Pauses between the attempts of one store write before it counts as failed.
STORE_RETRY_PAUSES = (0.05, 0.25)


class StoreWriter:
    """Batches snapshots per loop turn and writes them, retrying and keeping failures.

    ``on_written(task_ids, error)`` is told after each commit which tasks were
    written (``error`` None) or could not be (``error`` says why).
    """

    def __init__(self, store: TaskStore, loop: asyncio.AbstractEventLoop,
                 on_written: Callable[[list[str], str | None], None]) -> None:
        self.store, self._loop, self._on_written = store, loop, on_written
        # task id -> [needs insert, latest snapshot]
        self._dirty: dict[str, list[Any]] = {}
        self._after: list[Callable[[], None]] = []
        self._unsaved: dict[str, list[Any]] = {}
        self.errors = 0  # writes that failed even after retrying

    @property
    def pending(self) -> bool:
        """True while snapshots wait for this turn's commit."""
        return bool(self._dirty)

    def write(self, info: TaskInfo, insert: bool = False) -> None:
        """Queue a snapshot; only the latest state of a task is written."""
        self._queue(info.task_id, insert, info)

    def _queue(self, task_id: str, insert: bool, info: TaskInfo) -> None:
        if not self._dirty:
            self._loop.call_soon(self.commit)
        entry = self._dirty.get(task_id)
        if entry is None:
            self._dirty[task_id] = [insert, info]
        else:
            entry[0] = entry[0] or insert
            entry[1] = info

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once the pending snapshots are written (or given up on)."""
        self._after.append(fn)

    def commit(self) -> None:
        """Write the queued snapshots in one transaction, then run the after-commit calls."""
        dirty, self._dirty = self._dirty, {}
        after, self._after = self._after, []
        if dirty:
            error = self._write_retrying(dirty)
            if error is None:
                self._on_written(list(dirty), None)
            else:
                self._keep(dirty, error)
        for fn in after:
            fn()

    def requeue_unsaved(self) -> None:
        """Queue again the snapshots a failed write left behind (newer queued ones win)."""
        unsaved, self._unsaved = self._unsaved, {}
        for task_id, (insert, info) in unsaved.items():
            entry = self._dirty.get(task_id)
            if entry is None:
                self._queue(task_id, insert, info)
            else:
                entry[0] = entry[0] or insert

    def _write_retrying(self, dirty: dict[str, list[Any]]) -> BaseException | None:
        inserts = [e[1] for e in dirty.values() if e[0]]
        updates = [e[1] for e in dirty.values() if not e[0]]
        error: BaseException | None = None
        for pause in (*STORE_RETRY_PAUSES, None):
            try:
                self.store.write_many(inserts, updates)
                return None
            except Exception as e:  # noqa: BLE001 - any store failure is retried, then surfaced
                error = e
                if pause is not None:
                    time.sleep(pause)  # brief: a locked or flaky store often recovers
        return error

    def _keep(self, dirty: dict[str, list[Any]], error: BaseException) -> None:
        self.errors += 1
        why = f"{type(error).__name__}: {error}"
        log.error("could not store %d task changes after %d attempts (%s); kept in memory, "
                  "written again at the next heartbeat", len(dirty),
                  len(STORE_RETRY_PAUSES) + 1, why)
        for task_id, (insert, info) in dirty.items():
            kept = self._unsaved.get(task_id)
            self._unsaved[task_id] = [insert or (kept is not None and kept[0]), info]
        self._on_written(list(dirty), why)
