"""Crash recovery: unfinished tasks whose owner died are marked FAILED ("interrupted").

An owner is the (host, pid, manager id) written on every attempt. On the same host
a dead pid is proof; for another host only a heartbeat older than a threshold is.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime

from pipeline_kit.base._fs import pid_alive
from pipeline_kit.tasks._store import TaskStore
from pipeline_kit.tasks._types import ACTIVE, TaskInfo, TaskStatus, utcnow

log = logging.getLogger(__name__)
INTERRUPTED = "TaskInterrupted"


def dead_owner_reason(info: TaskInfo, host: str, now: datetime, stale: float) -> str | None:
    """Why the owner of ``info`` is considered dead, or None if it may still be alive."""
    if info.host == host and info.pid and os.name != "nt":
        if not pid_alive(info.pid):
            return f"its process {info.pid} on {info.host} is no longer running"
        return None
    last = info.heartbeat_at or info.updated_at or info.created_at
    age = (now - last).total_seconds()
    if age > stale:
        return f"no heartbeat from {info.host} pid {info.pid} for {age:.0f} s"
    return None


def recover_interrupted(
    store: TaskStore, *, host: str, manager_id: str, stale_after: float
) -> list[str]:
    """Mark PENDING/RUNNING attempts of dead owners FAILED; return their ids."""
    now = utcnow()
    out = []
    for info in store.list(status=ACTIVE):
        if info.manager_id == manager_id:
            continue
        reason = dead_owner_reason(info, host, now, stale_after)
        if reason is None:
            continue
        new = info.replace(
            status=TaskStatus.FAILED, completed_at=now, updated_at=now,
            error_type=INTERRUPTED, error_message=f"interrupted: {reason}",
        )
        if store.update(new):  # refused if the owner finished it meanwhile
            out.append(info.task_id)
            log.warning("task %s %s", info.task_id, new.error_message)
    return out
