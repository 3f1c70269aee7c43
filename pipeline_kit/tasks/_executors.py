"""Where a task's code runs: the manager's loop (``async def``), a thread, a worker
process, or a Dask cluster.

Each executor takes a :class:`~pipeline_kit.tasks._run.Run` and reports back to
its manager only through two loop-side calls posted from the worker thread:
``_l_running(run)`` when the code starts and ``_l_finished(run, result, data, exc,
tb)`` when it ends. State transitions stay the manager's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import os
import threading
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from pipeline_kit.tasks._callables import to_result_data, wants_progress
from pipeline_kit.tasks._run import Run, current_manager_var, current_task
from pipeline_kit.tasks._types import TaskStatus


class ExecutorHost(Protocol):
    """What an executor reports to, on the manager's loop: a run started or ended."""

    _loop: asyncio.AbstractEventLoop
    _tasks: set[asyncio.Task[Any]]
    progress_interval: float

    def _post(self, fn: Callable[..., Any], *args: Any) -> None: ...

    def _l_running(self, run: Run) -> None: ...

    def _l_finished(self, run: Run, result: Any, data: Any, exc: BaseException | None,
                    tb: str | None) -> None: ...

    def _l_cancel_run(self, run: Run, reason: str) -> bool: ...


def _wants_progress(fn: Any) -> bool:
    try:
        return wants_progress(fn)
    except TypeError:  # unhashable callable object
        return wants_progress.__wrapped__(fn)


def call_with_progress(run: Run) -> Any:
    """Call the run's function, adding its reporter as ``progress`` when it takes one."""
    kwargs = run.kwargs
    if _wants_progress(run.fn):
        kwargs = {**kwargs, "progress": run.reporter}
    return run.fn(*run.args, **kwargs)


class AsyncExecutor:
    """Runs ``async def`` functions as asyncio tasks on the manager's own loop."""

    def __init__(self, manager: ExecutorHost) -> None:
        self._mgr = manager

    def start(self, run: Run) -> None:
        """Called on the manager's loop."""
        task = self._mgr._loop.create_task(self._run(run))
        run.atask = task
        self._mgr._tasks.add(task)  # a strong reference until it is done
        task.add_done_callback(self._mgr._tasks.discard)

    async def _run(self, run: Run) -> None:
        mgr = self._mgr
        mgr._l_running(run)
        if run.info.status is not TaskStatus.RUNNING:
            return
        current_task.set(run.info.task_id)  # this asyncio task's own context
        current_manager_var.set(mgr)
        try:
            result = await call_with_progress(run)
            data = to_result_data(result)
        except asyncio.CancelledError:
            if not run.info.is_terminal:
                mgr._l_cancel_run(run, "task was cancelled")
        except BaseException as e:  # noqa: BLE001
            mgr._l_finished(run, None, None, e, traceback.format_exc())
        else:
            mgr._l_finished(run, result, data, None, None)


class ThreadExecutor:
    """Runs sync functions in the manager's thread pool (cancel is cooperative)."""

    def __init__(self, manager: ExecutorHost, max_workers: int | None) -> None:
        self._mgr = manager
        self._pool = cf.ThreadPoolExecutor(max_workers, thread_name_prefix="pipeline-kit-task")

    def start(self, run: Run) -> None:
        self._pool.submit(self._work, run)

    def _work(self, run: Run) -> None:
        mgr = self._mgr
        if run.reporter.stop is not None or run.fn is None:
            return  # cancelled while queued
        mgr._post(mgr._l_running, run)
        token = current_task.set(run.info.task_id)
        mtoken = current_manager_var.set(mgr)
        try:
            result = call_with_progress(run)
            data = to_result_data(result)  # serialised here, off the manager's loop
        except BaseException as e:  # noqa: BLE001 - every outcome goes to the loop
            mgr._post(mgr._l_finished, run, None, None, e, traceback.format_exc())
        else:
            mgr._post(mgr._l_finished, run, result, data, None, None)
        finally:
            current_task.reset(token)
            current_manager_var.reset(mtoken)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _RemoteExecutor:
    """Shared waiting-thread side of the executors that run the code elsewhere."""

    def __init__(self, manager: ExecutorHost) -> None:
        self._mgr = manager

    def _pool(self) -> cf.ThreadPoolExecutor:
        raise NotImplementedError

    def _run_remote(self, run: Run) -> Any:
        raise NotImplementedError

    def start(self, run: Run) -> None:
        self._pool().submit(self._work, run)

    def _work(self, run: Run) -> None:
        mgr = self._mgr
        if run.reporter.stop is not None or run.fn is None:
            return
        mgr._post(mgr._l_running, run)
        try:
            result = self._run_remote(run)
        except BaseException as e:  # noqa: BLE001
            mgr._post(mgr._l_finished, run, None, None, e, traceback.format_exc())
        else:
            mgr._post(mgr._l_finished, run, result, result, None, None)


# Tasks a worker process runs before it is replaced; 1 starts a fresh process per task
# (the behaviour before worker processes were kept), 0 or unset: no limit.
WORKER_TASKS_ENV = "PIPELINE_KIT_WORKER_TASKS"


class ProcessExecutor(_RemoteExecutor):
    """Runs tasks in worker processes (JSON in, JSON out), kept between tasks: at most
    ``max_processes`` run at once, and idle ones wait for the next task, so a small task
    does not pay for a Python start (``$PIPELINE_KIT_WORKER_TASKS`` caps the tasks per
    worker; 1 means a fresh process for each).

    A cancelled child that does not stop by itself within ``kill_after`` seconds is
    terminated (and not reused): a process, unlike a thread, can be stopped from outside.
    """

    def __init__(self, manager: ExecutorHost, max_processes: int | None,
                 kill_after: float) -> None:
        from pipeline_kit.tasks._worker import WorkerPool

        super().__init__(manager)
        self.kill_after = kill_after
        self._threads = cf.ThreadPoolExecutor(
            max_processes or os.cpu_count() or 2, thread_name_prefix="pipeline-kit-proc"
        )
        self.workers = WorkerPool(int(os.environ.get(WORKER_TASKS_ENV) or 0) or None)

    def _pool(self) -> cf.ThreadPoolExecutor:
        return self._threads

    def _run_remote(self, run: Run) -> Any:
        from pipeline_kit.tasks._worker import run_in_process

        ref, args = run.info.callable_ref, run.info.call_args
        if ref is None or args is None:  # submit() refuses such tasks for this executor
            raise RuntimeError(f"task {run.info.task_id} has no stored callable to run")
        return run_in_process(ref, args, run.reporter, self._mgr.progress_interval,
                              self.kill_after, self.workers)

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self.workers.close()


class DaskExecutor(_RemoteExecutor):
    """Runs tasks on a dask.distributed cluster; connects on first use.

    ``spec``: a ``distributed.Client``, a ``"tcp://..."`` address or ``"local"``.
    """

    def __init__(self, manager: ExecutorHost, spec: Any, kill_after: float) -> None:
        super().__init__(manager)
        self.spec, self.kill_after = spec, kill_after
        self._bridge: Any = None
        self._owned: list[Any] = []
        self._lock = threading.Lock()
        self._threads: cf.ThreadPoolExecutor | None = None

    def _pool(self) -> cf.ThreadPoolExecutor:
        # One waiting thread per running Dask task: the cluster, not this machine's
        # cores, bounds how many run at once.
        with self._lock:
            if self._threads is None:
                self._threads = cf.ThreadPoolExecutor(256, thread_name_prefix="pipeline-kit-dask")
            return self._threads

    def bridge(self) -> Any:
        """The Dask connection (connects on first use)."""
        with self._lock:
            if self._bridge is None:
                if self.spec is None:
                    raise ValueError("executor='dask' needs TaskManager(dask_client=...)")
                from pipeline_kit.tasks._dask_executor import bridge_for, connect

                client, self._owned = connect(self.spec)
                self._bridge = bridge_for(client)
            return self._bridge

    def _run_remote(self, run: Run) -> Any:
        return self.bridge().run(run.info.callable_ref, run.info.call_args, run.reporter,
                                 self._mgr.progress_interval, run.info.task_id,
                                 kill_after=self.kill_after)

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
        for owned in self._owned:  # client, then cluster, that we started
            try:
                owned.close()
            except Exception:  # noqa: BLE001 - closing best effort at shutdown
                pass
