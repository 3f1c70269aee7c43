"""One id for every command: a run id, a task id, or a unique prefix of either.

``runs`` prints run ids and ``tasks`` task ids; a user types back whichever they saw.
A run stands for its PIPELINE task (``status``/``cancel``/``retry``), and a task for
the run it belongs to (``show``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline_kit.tasks._types import SHORT_ID_MIN, AmbiguousTaskIdError, TaskInfo


class IdError(ValueError):
    """An id that names nothing, or several things."""


@dataclass(frozen=True)
class Resolved:
    """What an id named: a task (maybe the run's own) and the run it belongs to."""

    task: TaskInfo | None
    run: dict[str, Any] | None


def _run_matches(text: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    exact = [r for r in records if r.get("run_id") == text]
    if exact or len(text) < SHORT_ID_MIN:
        return exact
    return [r for r in records if str(r.get("run_id", "")).startswith(text)]


def _task_match(manager: Any, text: str) -> TaskInfo | None:
    try:
        full = manager.resolve_id(text)
    except AmbiguousTaskIdError as e:
        raise IdError(str(e)) from None
    return manager.get_task_status(full)


def _run_of(task: TaskInfo, manager: Any, records: list[dict[str, Any]]
            ) -> dict[str, Any] | None:
    """The run a task belongs to: the run of its pipeline task (itself or its parent)."""
    ids = {task.task_id, task.parent_id} - {None}
    meta_run = (task.metadata or {}).get("run_id") if isinstance(task.metadata, dict) else None
    if task.parent_id is not None and meta_run is None:
        parent = manager.get_task_status(task.parent_id)
        if parent is not None and isinstance(parent.metadata, dict):
            meta_run = parent.metadata.get("run_id")
    for r in records:
        stage_tasks = set((r.get("stage_tasks") or {}).values())
        if (r.get("task_id") in ids or task.task_id in stage_tasks
                or (meta_run and r.get("run_id") == meta_run)):
            return r
    return None


def resolve(manager: Any, text: str) -> Resolved:
    """The task and/or run ``text`` names; :class:`IdError` when none or several do."""
    text = text.strip()
    records = manager.store.list_documents("runs")
    task = _task_match(manager, text)
    runs = _run_matches(text, records)
    if len(runs) > 1:
        ids = ", ".join(sorted(str(r["run_id"]) for r in runs)[:5])
        raise IdError(f"run id prefix {text!r} is ambiguous: it matches {ids}; "
                      "type more characters")
    run = runs[0] if runs else None
    if task is not None and run is not None and run.get("task_id") != task.task_id:
        raise IdError(f"{text!r} is a prefix of task {task.task_id} and of run "
                      f"{run['run_id']}; type more characters")
    if run is not None:
        own = manager.get_task_status(run["task_id"]) if run.get("task_id") else None
        return Resolved(own, run)
    if task is not None:
        return Resolved(task, _run_of(task, manager, records))
    hint = f" (a prefix needs at least {SHORT_ID_MIN} characters)" \
        if len(text) < SHORT_ID_MIN else ""
    raise IdError(f"unknown id {text!r}: no run or task has it{hint}")
