"""Task routes: status in the seed's shape, cancel, retry, listing and metrics."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from pipeline_kit.faces.api._deps import AppState, state
from pipeline_kit.faces.api._schemas import (
    ID_PATTERN,
    CancelOut,
    ErrorBody,
    RetryOut,
    TaskList,
    TaskStatusOut,
)
from pipeline_kit.tasks import AmbiguousTaskIdError, TaskInfo, TaskNotRetryableError, TaskStatus

router = APIRouter(tags=["tasks"])
TaskId = Annotated[str, Path(pattern=ID_PATTERN,
                             description="task id, or a unique prefix of 6 or more characters")]
# 409 also answers an id prefix that matches several tasks (the detail lists them).
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (404, 409, 422)}


def _task(app: AppState, task_id: str) -> TaskInfo:
    """The task named by a full id or a unique prefix; 404 unknown, 409 ambiguous."""
    try:
        info = app.manager.get_task_status(task_id)
    except AmbiguousTaskIdError as e:
        raise HTTPException(409, str(e)) from None
    if info is None:
        raise HTTPException(404, f"no task with id {task_id!r}")
    return info


@router.get("/tasks/{task_id}/status", response_model=TaskStatusOut, responses=NOT_FOUND)
def task_status(task_id: TaskId, app: AppState = Depends(state)) -> TaskStatusOut:
    """The seed's status: status, progress_percentage, times, error, current_step, metadata."""
    return TaskStatusOut.of(_task(app, task_id))


@router.post("/tasks/{task_id}/cancel", response_model=CancelOut, responses=NOT_FOUND)
def cancel_task(task_id: TaskId, app: AppState = Depends(state)) -> CancelOut:
    """Cancel a pending or running task (and its child tasks).

    A running task stops at its next progress report: ``status`` may still say
    ``running`` in this answer.
    """
    info = _task(app, task_id)
    task_id = info.task_id
    if info.is_terminal:
        raise HTTPException(409, f"task {task_id} is already {info.status.value}")
    if not app.manager.cancel(task_id):
        latest = app.manager.get_task_status(task_id) or info
        if latest.is_terminal:
            raise HTTPException(409, f"task {task_id} is already {latest.status.value}")
        raise HTTPException(409, f"task {task_id} is run by another process "
                            f"(pid {info.pid} on {info.host}); only its owner can cancel it")
    latest = app.manager.get_task_status(task_id) or info
    return CancelOut(task_id=task_id, cancelled=True, status=latest.status)


@router.post("/tasks/{task_id}/retry", status_code=202, response_model=RetryOut,
             responses=NOT_FOUND)
def retry_task(task_id: TaskId, app: AppState = Depends(state)) -> RetryOut:
    """Run a failed task again as a new attempt (a pipeline resumes from its artifacts)."""
    task_id = _task(app, task_id).task_id
    try:
        handle = app.manager.retry(task_id)
    except TaskNotRetryableError as e:
        raise HTTPException(409, str(e)) from None
    except KeyError:
        raise HTTPException(404, f"no task with id {task_id!r}") from None
    info = handle.info
    return RetryOut(task_id=handle.task_id, retry_of=task_id,
                    status=info.status if info is not None else TaskStatus.PENDING)


def _value(v: Any) -> Any:
    """A DataFrame cell as a plain value (NaN/NaT become None)."""
    if v is None or isinstance(v, dict | list | str):
        return v
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "to_pydatetime"):
        return None if str(v) == "NaT" else v.to_pydatetime()
    if isinstance(v, datetime):
        return v
    if hasattr(v, "item"):  # numpy scalar
        return v.item()
    return v


@router.get("/tasks", response_model=TaskList, responses={422: {"model": ErrorBody}})
def list_tasks(
    # Typed without None: optional, but never null in the schema.
    status: Annotated[list[TaskStatus], Query(description="any of these")] = None,  # type: ignore
    # Any string: stages may declare task types beyond the well-known TaskType values.
    task_type: Annotated[list[str], Query(description="any of these")] = None,  # type: ignore
    parent_id: Annotated[str, Query(pattern=ID_PATTERN,
                                    description="children of this task")] = None,  # type: ignore
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    app: AppState = Depends(state),
) -> TaskList:
    """Task attempts, newest first, filtered by status, type or parent."""
    df = app.manager.tasks(status=status, task_type=task_type)
    if parent_id is not None:
        df = df[df["parent_id"] == parent_id]
    df = df.iloc[::-1]
    rows = df.iloc[offset:offset + limit].to_dict("records")
    out = []
    for row in rows:
        r = {k: _value(v) for k, v in row.items()}
        out.append(TaskStatusOut(
            task_id=r["task_id"], status=TaskStatus(r["status"]),
            progress_percentage=int(r["progress_percentage"] or 0),
            started_at=r["started_at"], completed_at=r["completed_at"],
            error_message=r["error_message"], current_step=r["current_step"],
            metadata=r["metadata"] or {}, task_type=r["task_type"], created_at=r["created_at"],
            parent_id=r["parent_id"], attempt=int(r["attempt"] or 1), retry_of=r["retry_of"],
            error_type=r["error_type"]))
    return TaskList(total=len(df), tasks=out)


@router.get("/metrics", response_model=dict[str, Any])
def metrics(app: AppState = Depends(state)) -> dict[str, Any]:
    """Counts by status and type, durations (mean/p50/p95/max), retries, cancellations."""
    return app.manager.metrics().to_dict()
