"""The task manager: runs functions as tracked, persisted, cancellable tasks.

Design (like dask.distributed's Client): the manager owns one event-loop thread and
every state transition happens there, in order, and is written to the store at
once. Sync functions run in a thread pool (or a worker process), ``async def``
functions on the manager's loop. Handles wrap a ``concurrent.futures.Future``, so
scripts block on ``handle.result()`` and notebooks ``await handle`` — nothing
polls, and Jupyter's own loop is never re-entered.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures as cf
import dataclasses
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal

from pipeline_kit.base._progress import TaskCancelled
from pipeline_kit.tasks._callables import (
    NotStorableError,
    callable_ref,
    decode_args,
    encode_args,
    exception_ref,
    is_async,
    resolve_ref,
)
from pipeline_kit.tasks._executors import (
    AsyncExecutor,
    DaskExecutor,
    ProcessExecutor,
    ThreadExecutor,
)
from pipeline_kit.tasks._handle import TaskChain, TaskHandle
from pipeline_kit.tasks._metrics import TaskMetrics, compute_metrics
from pipeline_kit.tasks._recovery import recover_interrupted
from pipeline_kit.tasks._reporter import TaskProgress
from pipeline_kit.tasks._retry import RetryPolicy, TaskNotRetryableError
from pipeline_kit.tasks._run import Run, current_manager_var, current_task
from pipeline_kit.tasks._store import TaskStore, open_store
from pipeline_kit.tasks._types import (
    SHORT_ID_MIN,
    AmbiguousTaskIdError,
    TaskInfo,
    TaskStatus,
    TaskType,
    coerce_task_type,
    utcnow,
)
from pipeline_kit.tasks._views import views
from pipeline_kit.tasks._writer import StoreWriter

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

# Store collection through which a process asks the owner of a task to cancel it.
CANCEL_REQUESTS = "cancel_requests"
_RANK = {
    TaskStatus.PENDING: 0,
    TaskStatus.RUNNING: 1,
    TaskStatus.COMPLETED: 2,
    TaskStatus.FAILED: 2,
    TaskStatus.CANCELLED: 2,
}
_ids = random.Random()  # private: a user's random.seed() must not repeat task ids
os.register_at_fork(after_in_child=_ids.seed)


def current_manager() -> TaskManager | None:
    """The manager running the current task, so a parent task can submit children."""
    manager = current_manager_var.get()
    return manager if isinstance(manager, TaskManager) else None


def new_task_id() -> str:
    """A random 128-bit hex id (uuid4-like, without a system call per task)."""
    return f"{_ids.getrandbits(128):032x}"


class TaskManager:
    """Submit functions as tasks; track, persist, cancel, retry and display them.

    ``store`` is a path to a SQLite file, a ``postgresql://`` URL, a
    :class:`TaskStore`, or None for ``$PIPELINE_KIT_STORE`` if set, else
    ``$PIPELINE_KIT_HOME/tasks.sqlite3`` (default home ``./data``). Creating a
    manager marks tasks of dead owners on the same store as interrupted.
    ``kill_after``: seconds a cancelled process or Dask task may take to stop by
    itself before its process is terminated (a thread task can only stop itself).
    """

    def __init__(
        self,
        store: TaskStore | str | os.PathLike[str] | None = None,
        *,
        max_workers: int | None = None,
        max_processes: int | None = None,
        progress_interval: float = 0.25,
        heartbeat_interval: float = 5.0,
        stale_after: float | None = None,
        default_retry: RetryPolicy | None = None,
        recover: bool = True,
        kill_after: float = 1.0,
        dask_client: Any = None,
    ) -> None:
        self.manager_id = uuid.uuid4().hex[:12]
        self.host, self.pid = socket.gethostname(), os.getpid()
        self._own_store = not isinstance(store, TaskStore)
        self.store: TaskStore = store if isinstance(store, TaskStore) else open_store(store)
        self.progress_interval = progress_interval
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = max(60.0, 6 * heartbeat_interval) if stale_after is None else stale_after
        self.default_retry = default_retry
        self.kill_after = kill_after
        # executor="dask": a distributed.Client, a "tcp://..." address or "local";
        # connected on first use (see tasks/_dask_executor.py).
        self._threads = ThreadExecutor(self, max_workers)
        self._processes = ProcessExecutor(self, max_processes, kill_after)
        self._dask = DaskExecutor(self, dask_client, kill_after)
        self._async = AsyncExecutor(self)
        self._runs: dict[str, Run] = {}
        self._active: dict[str, Run] = {}  # non-terminal attempts; loop thread only
        self._subs: list[Callable[[TaskInfo], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()  # strong references to our asyncio tasks
        # Calls from other threads, drained in order; one wake-up per batch, not per call.
        self._inbox: deque[tuple[Callable[..., Any], tuple[Any, ...]]] = deque()
        self._wake_pending = False
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._writer = StoreWriter(self.store, self._loop, self._on_written)
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run_loop, args=(started,), name=f"pipeline-kit-{self.manager_id}",
            daemon=True,
        )
        self._thread.start()
        started.wait()
        self._hb: asyncio.TimerHandle | None = None
        if recover:
            self.recover()
        self._call(self._l_heartbeat)
        atexit.register(_close_at_exit, weakref.ref(self))

    # ------------------------------------------------------------------ loop plumbing

    def _run_loop(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop_tid = threading.get_ident()
        started.set()
        try:
            self._loop.run_forever()
            self._drain()  # calls posted while closing still get their answer
            if self._tasks:  # let cancelled async tasks finish their clean-up
                self._loop.run_until_complete(asyncio.wait(list(self._tasks), timeout=2.0))
        finally:
            self._loop.close()

    def _on_loop(self) -> bool:
        return threading.get_ident() == self._loop_tid

    def _post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop, in posting order, from any thread."""
        self._inbox.append((fn, args))
        if not self._wake_pending:  # append-then-check: the drain cannot miss this call
            self._wake_pending = True
            try:
                self._loop.call_soon_threadsafe(self._drain)
            except RuntimeError:
                pass  # loop closed: the manager is gone

    def _drain(self) -> None:
        self._wake_pending = False
        inbox = self._inbox
        while inbox:
            fn, args = inbox.popleft()
            try:
                fn(*args)
            except Exception:
                log.exception("task manager callback %r failed", fn)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the manager's loop after what is already queued there."""
        if self._on_loop():
            self._loop.call_soon(fn, *args)
        else:
            self._post(fn, *args)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` on the loop thread and return its result (direct when already there)."""
        if self._on_loop():
            return fn(*args)
        fut: cf.Future[Any] = cf.Future()

        def run() -> None:
            try:
                fut.set_result(fn(*args))
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller
                fut.set_exception(e)

        if self._closed:
            raise RuntimeError("this TaskManager is closed")
        self._post(run)  # same queue as submits: a cancel never overtakes its submit
        return fut.result()

    def _refuse_blocking_on_loop(self, what: str) -> None:
        if self._on_loop():
            raise RuntimeError(f"{what} would block the task manager's loop; use 'await' instead")

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run (views stop following a closed manager)."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this TaskManager is closed")

    # ------------------------------------------------------------------ submitting

    def submit(
        self,
        fn: Callable[..., Any],
        /,
        *args: Any,
        task_type: TaskType | str,
        metadata: dict[str, Any] | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        parent_id: str | None = None,
        executor: Literal["thread", "process", "dask"] = "thread",
        **kwargs: Any,
    ) -> TaskHandle:
        """Run ``fn(*args, **kwargs)`` as a task and return its handle at once.

        ``fn`` gets a ``progress`` argument if it has a parameter of that name.
        ``timeout`` (seconds, counted from the start) fails it with TimeoutError;
        ``retry`` retries failures automatically (default: the manager's
        ``default_retry``, None = no retries). ``parent_id`` defaults to the task
        calling ``submit``, if any. ``executor="process"`` runs a sync function in a
        worker process (it must be importable and take JSON arguments).
        """
        self._check_open()
        if executor not in ("thread", "process", "dask"):
            raise ValueError(f"executor must be 'thread', 'process' or 'dask', got {executor!r}")
        if executor == "dask" and not self.has_dask:
            raise ValueError("executor='dask' needs TaskManager(dask_client=...)")
        if "progress" in kwargs:
            raise TypeError("do not pass 'progress': the manager passes its own progress object")
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        meta = dict(metadata or {})
        try:
            json.dumps(meta)
        except (TypeError, ValueError) as e:
            raise ValueError(f"metadata must be JSON-serialisable: {e}") from e
        ref = args_json = reason = None
        try:
            ref = callable_ref(fn)
            args_json = encode_args(args, kwargs)
        except NotStorableError as e:
            reason = str(e)
        if executor in ("process", "dask") and reason:
            raise ValueError(f"executor={executor!r} cannot run this task: {reason}")
        info = TaskInfo(
            task_id=new_task_id(),
            task_type=coerce_task_type(task_type),
            metadata=meta,
            timeout=None if timeout is None else float(timeout),
            parent_id=parent_id if parent_id is not None else current_task.get(),
            callable_ref=ref,
            call_args=args_json,
            not_retryable_reason=reason,
            host=self.host,
            pid=self.pid,
            manager_id=self.manager_id,
        )
        chain = TaskChain(retry if retry is not None else self.default_retry)
        run = self._new_run(info, fn, args, kwargs, chain, executor)
        if self._on_loop():
            self._l_submit(run, 0.0)
        else:
            self._post(self._l_submit, run, 0.0)
        return TaskHandle(self, chain)

    def _new_run(self, info: TaskInfo, fn: Any, args: tuple, kwargs: dict, chain: TaskChain,
                 executor: str) -> Run:
        reporter = TaskProgress(info.task_id, self._loop, self._l_flush, self.progress_interval,
                                post=self._post)
        run = Run(info, fn, args, kwargs, chain, reporter, executor)
        self._runs[info.task_id] = run  # registered before the loop sees it: readable at once
        chain.task_ids.append(info.task_id)
        return run

    def retry(
        self,
        task_id: str,
        *,
        retry: RetryPolicy | None = None,
        executor: Literal["thread", "process", "dask"] = "thread",
    ) -> TaskHandle:
        """Run a failed task again as a new attempt (``retry_of`` = ``task_id``).

        Works in a new process too: the function is imported from its stored
        ``module:qualname`` and the arguments read from JSON. Raises
        :class:`TaskNotRetryableError` saying why when that is impossible.
        """
        self._check_open()
        task_id = self.resolve_id(task_id)
        info = self.get_task_status(task_id)
        if info is None:
            raise KeyError(f"no task {task_id!r} in memory or in {self.store!r}")
        if not info.is_terminal:
            raise TaskNotRetryableError(
                f"task {task_id} is still {info.status.value}; only a failed task can be retried"
            )
        if info.status is TaskStatus.CANCELLED:
            raise TaskNotRetryableError(
                f"task {task_id} was cancelled; a cancelled task is never retried"
            )
        if info.status is TaskStatus.COMPLETED:
            raise TaskNotRetryableError(
                f"task {task_id} completed successfully; submit it again to run it once more"
            )
        if info.not_retryable_reason or not info.callable_ref or info.call_args is None:
            why = info.not_retryable_reason or "its function and arguments were not stored"
            raise TaskNotRetryableError(f"task {task_id} cannot be retried: {why}")
        try:
            fn = resolve_ref(info.callable_ref)
        except Exception as e:
            raise TaskNotRetryableError(
                f"task {task_id} cannot be retried: its function {info.callable_ref!r} "
                f"does not import in this process ({e})"
            ) from e
        args, kwargs = decode_args(info.call_args)
        new = TaskInfo(
            task_id=new_task_id(), task_type=info.task_type, metadata=dict(info.metadata),
            timeout=info.timeout, parent_id=info.parent_id, attempt=info.attempt + 1,
            retry_of=info.task_id, callable_ref=info.callable_ref, call_args=info.call_args,
            host=self.host, pid=self.pid, manager_id=self.manager_id,
        )
        chain = TaskChain(retry)
        run = self._new_run(new, fn, tuple(args), kwargs, chain, executor)
        self._call(self._l_submit, run, 0.0)
        return TaskHandle(self, chain)

    # ------------------------------------------------------------------ loop-side steps

    def _l_submit(self, run: Run, delay: float) -> None:
        info = run.info
        self._writer.write(info, insert=True)
        self._active[info.task_id] = run
        parent = self._runs.get(info.parent_id) if info.parent_id else None
        if parent is not None:
            parent.children.append(run)
        self._publish(info)
        if parent is not None and parent.info.status is TaskStatus.CANCELLED:
            self._l_cancel_run(run, f"parent task {parent.info.task_id} was cancelled")
        elif delay > 0:
            run.timer = self._loop.call_later(delay, self._l_start, run)
        else:
            self._l_start(run)

    def _l_start(self, run: Run) -> None:
        run.timer = None
        if run.info.is_terminal:
            return
        if is_async(run.fn):
            self._async.start(run)
        else:
            self._executor(run.executor).start(run)

    def _set(self, run: Run, **changes: Any) -> bool:
        """The one place a state changes: never out of a terminal state, never backwards."""
        old = run.info
        if old.is_terminal:
            return False
        status = changes.get("status", old.status)
        if _RANK[status] < _RANK[old.status]:
            return False
        changes.setdefault("updated_at", utcnow())
        new = old.replace(**changes)
        run.info = new
        if new.is_terminal:
            self._active.pop(new.task_id, None)
        self._writer.write(new)
        self._publish(new)
        return True

    def _on_written(self, task_ids: list[str], error: str | None) -> None:
        """Note on each run whether its latest state reached the store."""
        for task_id in task_ids:
            run = self._runs.get(task_id)
            if run is not None:
                run.store_error = error

    def _l_running(self, run: Run) -> None:
        if run.info.status is not TaskStatus.PENDING:
            return
        now = utcnow()
        self._set(run, status=TaskStatus.RUNNING, started_at=now, heartbeat_at=now, updated_at=now)
        if run.info.timeout:
            run.timer = self._loop.call_later(run.info.timeout, self._l_timeout, run)

    def _l_flush(self, rep: TaskProgress) -> None:
        run = self._runs.get(rep.task_id)
        if run is None or run.info.status is not TaskStatus.RUNNING:
            return
        changes = self._progress_changes(run)
        if changes:
            self._set(run, **changes)

    def _progress_changes(self, run: Run) -> dict[str, Any]:
        """The reporter's latest values that differ from the record (with a derived rate)."""
        rep, info = run.reporter, run.info
        new: dict[str, Any] = {
            "progress_percentage": info.progress_percentage if rep.percent is None else rep.percent,
            "current_step": rep.step if rep.step is not None else info.current_step,
        }
        if rep.done is not None and rep.total is not None:
            new.update(progress_done=rep.done, progress_total=rep.total,
                       progress_rate=self._rate(run, rep.done, rep.total))
        elif rep.percent is not None:  # a bare percentage: earlier units no longer hold
            new.update(progress_done=None, progress_total=None, progress_rate=None)
            run.rate_base = None
        return {k: v for k, v in new.items() if getattr(info, k) != v}

    @staticmethod
    def _rate(run: Run, done: float, total: float) -> float | None:
        """Units per second since the first report of this unit count (a new total restarts)."""
        now = time.monotonic()
        base = run.rate_base
        if base is None or base[2] != total or done < base[1]:
            run.rate_base = (now, done, total)
            return None
        elapsed, gained = now - base[0], done - base[1]
        if elapsed <= 0 or gained <= 0:
            return run.info.progress_rate
        return gained / elapsed

    def _l_finished(self, run: Run, result: Any, data: Any, exc: BaseException | None,
                    tb: str | None) -> None:
        self._cancel_timer(run)
        if run.info.is_terminal:
            return  # cancelled or timed out earlier: the late outcome is dropped
        if exc is None:
            step = run.reporter.step if run.reporter.step is not None else run.info.current_step
            units = run.reporter.total
            done = {} if units is None else {"progress_done": units, "progress_total": units}
            self._set(run, status=TaskStatus.COMPLETED, progress_percentage=100.0,
                      current_step=step, completed_at=utcnow(), result_data=data, **done)
            self._resolve(run, result=result)
        elif isinstance(exc, (TaskCancelled, asyncio.CancelledError)):
            self._l_cancel_run(run, str(exc) or "task was cancelled")
        else:
            self._l_fail(run, exc, tb)

    def _l_fail(self, run: Run, exc: BaseException, tb: str | None) -> None:
        error_type = getattr(exc, "error_type", None) or exception_ref(exc)
        tb = getattr(exc, "remote_traceback", None) or tb
        # The last real progress, even if its throttled flush had not run yet.
        self._set(run, status=TaskStatus.FAILED, completed_at=utcnow(), error_type=error_type,
                  **self._progress_changes(run),
                  error_message=str(exc) or type(exc).__name__, error_traceback=tb)
        policy = run.chain.policy
        if (policy is not None and not self._closed and run.chain.current == run.info.task_id
                and policy.should_retry(exc, run.info.attempt)):
            old = run.info
            info = TaskInfo(
                task_id=new_task_id(), task_type=old.task_type, metadata=dict(old.metadata),
                timeout=old.timeout, parent_id=old.parent_id, attempt=old.attempt + 1,
                retry_of=old.task_id, callable_ref=old.callable_ref, call_args=old.call_args,
                not_retryable_reason=old.not_retryable_reason, host=self.host, pid=self.pid,
                manager_id=self.manager_id,
            )
            new = self._new_run(info, run.fn, run.args, run.kwargs, run.chain, run.executor)
            self._release(run)
            self._l_submit(new, policy.delay(old.attempt))
        else:
            self._resolve(run, exc=exc)

    def _l_timeout(self, run: Run) -> None:
        run.timer = None
        if run.info.is_terminal:
            return
        exc = TimeoutError(f"task exceeded its timeout of {run.info.timeout} s")
        run.reporter.request_stop(TaskCancelled(str(exc)))
        if run.atask is not None:
            run.atask.cancel()
        for child in run.children:
            self._l_cancel_run(child, f"parent task {run.info.task_id} timed out")
        self._l_fail(run, exc, None)

    def _l_cancel(self, task_id: str) -> bool:
        run = self._runs.get(task_id)
        if run is None:
            return False
        latest = self._runs.get(run.chain.current)
        if run.info.is_terminal and latest is not None:
            run = latest  # an earlier attempt: cancel the retry that follows it
        return self._l_cancel_run(run, "task was cancelled")

    def _l_cancel_run(self, run: Run, reason: str) -> bool:
        if run.info.is_terminal:
            return False
        self._cancel_timer(run)
        exc = TaskCancelled(reason)
        run.reporter.request_stop(exc)
        if run.atask is not None and not run.atask.done():
            run.atask.cancel()
        self._set(run, status=TaskStatus.CANCELLED, completed_at=utcnow(),
                  error_type="TaskCancelled", error_message=reason)
        self._resolve(run, exc=exc)
        for child in run.children:
            self._l_cancel_run(child, f"parent task {run.info.task_id} was cancelled")
        return True

    def _resolve(self, run: Run, *, result: Any = None, exc: BaseException | None = None) -> None:
        fut = run.chain.future
        if run.chain.current == run.info.task_id and not fut.done():
            settle = fut.set_result if exc is None else fut.set_exception
            value = result if exc is None else exc
            if self._writer.pending:  # settled once the final state is in the store
                self._writer.after_commit(lambda: None if fut.done() else settle(value))
            else:
                settle(value)
        self._release(run)

    @staticmethod
    def _release(run: Run) -> None:
        run.fn, run.args, run.kwargs = None, (), {}  # free arguments (audio, models) once settled

    @staticmethod
    def _cancel_timer(run: Run) -> None:
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None

    def _l_heartbeat(self) -> None:
        """Tell the store this manager still owns its unfinished tasks (for recovery)."""
        self._writer.requeue_unsaved()
        if self._active:
            now = utcnow()
            try:
                self.store.heartbeat(self.manager_id, list(self._active), now)
            except Exception:
                log.exception("heartbeat failed")
            for run in self._active.values():
                run.info = run.info.replace(heartbeat_at=now)
            self._l_take_cancel_requests()
        self._hb = self._loop.call_later(self.heartbeat_interval, self._l_heartbeat)

    def _l_take_cancel_requests(self) -> None:
        """Cancel our tasks that another process asked to cancel (see request_cancel)."""
        try:
            requests = self.store.list_documents(CANCEL_REQUESTS)
        except Exception:
            log.exception("reading cancel requests failed")
            return
        for req in requests:
            task_id = req.get("task_id")
            if task_id in self._runs:
                self._l_cancel_run(self._runs[task_id],
                                   f"task was cancelled (requested by {req.get('by')})")
                self.store.delete_document(CANCEL_REQUESTS, task_id)

    # ------------------------------------------------------------------ workers

    def _executor(self, name: str) -> ThreadExecutor | ProcessExecutor | DaskExecutor:
        if name == "dask":
            return self._dask
        return self._processes if name == "process" else self._threads

    def dask_bridge(self) -> Any:
        """The Dask connection of ``executor="dask"`` tasks (connects on first use)."""
        return self._dask.bridge()

    @property
    def has_dask(self) -> bool:
        """True when ``executor="dask"`` is available (a ``dask_client=`` was given)."""
        return self._dask.spec is not None

    @property
    def dask_client(self) -> Any:
        """The ``distributed.Client`` in use (connects on first use)."""
        return self.dask_bridge().client

    # ------------------------------------------------------------------ queries

    def resolve_id(self, task_id: str) -> str:
        """The full id of ``task_id``, which may be a unique prefix of 6 or more characters.

        An unknown id comes back unchanged (callers say "unknown"); a prefix of
        several attempts raises :class:`AmbiguousTaskIdError` listing them.
        """
        if task_id in self._runs or len(task_id) < SHORT_ID_MIN:
            return task_id
        found = {i for i in self._runs.copy() if i.startswith(task_id)}
        if not self._store_closed():
            found.update(self.store.find_ids(task_id))
        if len(found) > 1:
            raise AmbiguousTaskIdError(task_id, sorted(found))
        return found.pop() if found else task_id

    def get_task_status(self, task_id: str) -> TaskInfo | None:
        """Latest snapshot of one attempt (by id or unique id prefix): memory, else the store."""
        task_id = self.resolve_id(task_id)
        run = self._runs.get(task_id)
        if run is not None:
            return run.info
        return None if self._closed and self._own_store else self.store.get(task_id)

    def cancel(self, task_id: str) -> bool:
        """Cancel a task: at once if pending, at its next progress call if running.

        Its children are cancelled too. False if it was unknown or already finished.
        """
        if self._closed:
            return False
        return self._call(self._l_cancel, self.resolve_id(task_id))

    def request_cancel(self, task_id: str) -> str:
        """Cancel a task of this or any other process sharing the store.

        Returns ``"cancelled"`` (ours, done now), ``"requested"`` (another process
        runs it: it cancels the task at its next heartbeat, within
        ``heartbeat_interval`` seconds), ``"finished"`` or ``"unknown"``.
        """
        task_id = self.resolve_id(task_id)
        if self.cancel(task_id):
            return "cancelled"
        info = self.get_task_status(task_id)
        if info is None:
            return "unknown"
        if info.is_terminal:
            return "finished"
        self.store.put_document(CANCEL_REQUESTS, task_id, {
            "task_id": task_id, "requested_at": utcnow().isoformat(),
            "by": f"{self.host}:{self.pid}"})
        return "requested"

    def snapshots(self) -> list[TaskInfo]:
        """Snapshots of the attempts this manager has run, oldest first."""
        return [r.info for r in self._runs.copy().values()]

    def _all_infos(self, status: Any = None, task_type: Any = None) -> list[TaskInfo]:
        def norm(v: Any) -> set[str] | None:
            if v is None:
                return None
            vals = [v] if isinstance(v, str) else list(v)
            return {str(x.value if hasattr(x, "value") else x) for x in vals}

        statuses, types = norm(status), norm(task_type)
        merged = {i.task_id: i for i in self.store.list()} if not self._store_closed() else {}
        for run in self._runs.copy().values():
            merged[run.info.task_id] = run.info
        out = [
            i for i in merged.values()
            if (statuses is None or i.status.value in statuses)
            and (types is None or str(i.task_type) in types)
        ]
        out.sort(key=lambda i: i.created_at)
        return out

    def _store_closed(self) -> bool:
        return self._closed and self._own_store

    def tasks(
        self,
        status: TaskStatus | str | Iterable[TaskStatus | str] | None = None,
        task_type: TaskType | str | Iterable[TaskType | str] | None = None,
    ) -> pd.DataFrame:
        """All attempts (store + memory) as a DataFrame, optionally filtered."""
        import pandas as pd

        cols = [
            "task_id", "task_type", "status", "progress_percentage", "current_step", "attempt",
            "retry_of", "parent_id", "created_at", "started_at", "completed_at", "duration_s",
            "error_type", "error_message", "metadata", "host", "pid", "manager_id",
        ]
        rows = []
        for i in self._all_infos(status, task_type):
            d = {c: getattr(i, c, None) for c in cols}
            d["task_type"], d["status"] = str(i.task_type), i.status.value
            d["duration_s"] = i.duration if i.completed_at is not None else None
            rows.append(d)
        return pd.DataFrame(rows, columns=cols)

    def metrics(self) -> TaskMetrics:
        """Counts, durations (mean/p50/p95), retries, cancellations, timeouts, store errors.

        ``store_errors`` counts this manager's store writes that failed even after
        retrying (their snapshots stay in memory and are written again later).
        """
        return dataclasses.replace(compute_metrics(self._all_infos()),
                                   store_errors=self._writer.errors)

    def store_error(self, task_id: str) -> str | None:
        """Why the latest state of ``task_id`` is not in the store yet (None: it is)."""
        run = self._runs.get(self.resolve_id(task_id))
        return None if run is None else run.store_error

    def wait(
        self,
        handles: Iterable[TaskHandle],
        timeout: float | None = None,
        return_when: str = cf.ALL_COMPLETED,
    ) -> tuple[list[TaskHandle], list[TaskHandle]]:
        """Block until handles finish (like ``concurrent.futures.wait``): (done, not_done)."""
        self._refuse_blocking_on_loop("TaskManager.wait()")
        hs = list(handles)
        by_future = {id(h.future): h for h in hs}
        done, not_done = cf.wait([h.future for h in hs], timeout=timeout, return_when=return_when)
        return [by_future[id(f)] for f in done], [by_future[id(f)] for f in not_done]

    # ------------------------------------------------------------------ feed

    def subscribe(self, callback: Callable[[TaskInfo], None]) -> Callable[[], None]:
        """Call ``callback(info)`` on every change (on the manager thread; keep it quick).

        Returns a function that unsubscribes.
        """
        self._subs = [*self._subs, callback]

        def unsubscribe() -> None:
            self._subs = [s for s in self._subs if s is not callback]

        return unsubscribe

    def _publish(self, info: TaskInfo) -> None:
        for cb in self._subs:
            try:
                cb(info)
            except Exception:
                log.exception("task feed subscriber %r failed", cb)

    def display(self, mode: str | None = None, **kwargs: Any) -> None:
        """Show live progress: a widget panel in JupyterLab, text lines elsewhere."""
        views().show(self, mode=mode, **kwargs)

    def panel(self, **kwargs: Any) -> Any:
        """A widget panel of this manager's tasks (not shown yet): display it yourself."""
        return views().panel(self, **kwargs)

    # ------------------------------------------------------------------ recovery

    def recover(self, stale_after: float | None = None) -> list[str]:
        """Mark unfinished tasks of dead owners FAILED ("interrupted"); return their ids.

        Same host: the owner's pid is gone. Other host: no heartbeat for
        ``stale_after`` seconds.
        """
        stale = self.stale_after if stale_after is None else stale_after
        return recover_interrupted(self.store, host=self.host, manager_id=self.manager_id,
                                   stale_after=stale)

    # ------------------------------------------------------------------ documents

    def put_document(self, collection: str, doc_id: str, data: dict[str, Any]) -> None:
        """Store a JSON document (audio records, run records, ...) in the task store."""
        self.store.put_document(collection, doc_id, data)

    def get_document(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        return self.store.get_document(collection, doc_id)

    def list_documents(self, collection: str) -> list[dict[str, Any]]:
        return self.store.list_documents(collection)

    # ------------------------------------------------------------------ shutdown

    def close(self, wait: bool = False) -> None:
        """Stop the manager: cancel unfinished tasks (or first wait for them, ``wait=True``)."""
        if self._closed:
            return
        if self._on_loop():
            raise RuntimeError("close() cannot be called from a task on the manager's loop")
        if wait:
            cf.wait([r.chain.future for r in self._runs.copy().values()])
        self._call(self._l_shutdown)
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        for executor in (self._threads, self._processes, self._dask):
            executor.close()
        if self._own_store:
            self.store.close()

    def _l_shutdown(self) -> None:
        if self._hb is not None:
            self._hb.cancel()
        for run in list(self._active.values()):
            self._l_cancel_run(run, "task manager closed")
        self._writer.requeue_unsaved()  # a last chance for writes that failed earlier
        self._writer.commit()

    def __enter__(self) -> TaskManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._runs)} tasks"
        return f"<TaskManager {self.manager_id} {self.store!r} {state}>"


def _close_at_exit(ref: weakref.ref[TaskManager]) -> None:
    tm = ref()
    if tm is not None:
        try:
            tm.close()
        except Exception:
            pass
