"""``executor="dask"``: run importable sync tasks on a ``dask.distributed`` cluster.

Same contract as ``executor="process"``: the task is an importable callable
reference plus JSON arguments, and its result comes back as JSON data, so any
worker of any cluster can run it. Module-level caches (the Whisper engine, the
embedder) live on in each worker process, so a worker loads a model once.

- Progress is pushed, not polled: the worker logs throttled ``(percent, step)``
  events on one topic (``Worker.log_event``); the manager's client subscribes once
  and routes each event to its task's reporter.
- Cancel: the manager cancels the future (enough while it is queued) and tells
  every worker the task id (``Client.run``); a running task stops at its next
  progress call, which checks a set in its own process (no round trip per call).
  A task still running ``kill_after`` seconds later (it never calls progress) is
  stopped by killing its worker process, which the worker's nanny then restarts
  (a thread cannot be stopped from outside; ``Client.restart_workers`` first waits
  for a graceful close and took ~5 s). The worker's cached models load again. A
  worker without a nanny is left running, with a warning.
- Worker loss: a cluster the manager starts itself is created with
  ``distributed.scheduler.allowed-failures = 0``, so a killed worker fails the
  task with ``KilledWorker`` (retriable with a RetryPolicy) instead of Dask quietly
  re-running it. A cluster you bring keeps its own setting.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import weakref
from typing import Any

from pipeline_kit.base._progress import Span, TaskCancelled, as_span
from pipeline_kit.tasks._remote_progress import RemoteProgress

TOPIC = "pipeline-kit-progress"
_cancelled: set[str] = set()  # worker side: ids of tasks told to stop
_running: set[str] = set()  # worker side: ids of tasks whose code is running now
log = logging.getLogger(__name__)


def _mark_cancelled(task_id: str) -> None:
    """Runs on every worker (``Client.run``)."""
    _cancelled.add(task_id)


async def _kill_this_worker() -> None:
    """Runs on a worker (``Client.run``): end its process at once; its nanny restarts it.

    A coroutine so that ``Client.run(wait=False)`` accepts it (no answer comes back).
    """
    os.kill(os.getpid(), signal.SIGKILL)


def _is_running(task_id: str) -> bool:
    """Runs on every worker (``Client.run``): is this task's code still running here?"""
    return task_id in _running


class _WorkerProgress(RemoteProgress):
    """Worker-side progress: throttled events to the manager, local cancel check."""

    def __init__(self, task_id: str, interval: float) -> None:
        from distributed import get_worker

        super().__init__(interval)
        self._worker, self._id = get_worker(), task_id

    def _send(self, value: float | None, total: float | None, step: str | None,
              within: Span | None) -> None:
        self._worker.log_event(TOPIC, {"id": self._id, "p": value, "t": total, "s": step,
                                       "w": within})

    def _is_cancelled(self) -> bool:
        return self._id in _cancelled


def dask_task(ref: str, args_json: str, task_id: str, interval: float) -> Any:
    """What runs on the worker: import ``ref``, call it, return JSON data."""
    from distributed import get_worker

    from pipeline_kit.base._threads import siblings
    from pipeline_kit.tasks._callables import (
        decode_args,
        resolve_ref,
        to_result_data,
        wants_progress,
    )

    progress = None
    _running.add(task_id)
    try:
        fn = resolve_ref(ref)
        args, kwargs = decode_args(args_json)
        if wants_progress(fn):
            progress = _WorkerProgress(task_id, interval)
            kwargs = {**kwargs, "progress": progress}
        with siblings(get_worker().state.nthreads):  # tasks of one worker share its cores
            return to_result_data(fn(*args, **kwargs))
    finally:
        if progress is not None:
            progress.flush()  # the last real progress, also of a failed task
        _cancelled.discard(task_id)
        _running.discard(task_id)


class DaskBridge:
    """Manager side of one client: submits tasks and routes their progress events."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._reporters: dict[str, Any] = {}
        client.subscribe_topic(TOPIC, self._on_event)

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        rep = self._reporters.get(str(msg.get("id")))
        if rep is not None:
            try:
                rep.update(msg.get("p"), msg.get("t"), step=msg.get("s"),
                           within=as_span(msg.get("w")))
            except TaskCancelled:
                pass  # the waiting thread sees the stop and cancels the work

    def run(self, ref: str, args_json: str, progress: Any, interval: float, task_id: str,
            kill_after: float = 1.0) -> Any:
        """Run one task on the cluster and block until it ends (call from a thread).

        Raises the task's own error, ``KilledWorker`` when its worker died, or
        ``progress.stop`` (cancel, timeout) after telling the workers to stop.
        """
        self._reporters[task_id] = progress
        woken = threading.Event()
        try:
            fut = self.client.submit(dask_task, ref, args_json, task_id, interval,
                                     key=f"pipeline-kit-{task_id}", pure=False)
            fut.add_done_callback(lambda _f: woken.set())
            progress.on_stop(woken.set)
            woken.wait()
            if progress.stop is not None:
                if not fut.done():
                    self.client.run(_mark_cancelled, task_id)
                    fut.cancel()
                    self._stop_stragglers(task_id, kill_after)
                raise progress.stop
            return fut.result()
        finally:
            self._reporters.pop(task_id, None)


    def _stop_stragglers(self, task_id: str, kill_after: float) -> None:
        """Restart the workers still running ``task_id`` ``kill_after`` s after its cancel."""
        deadline = time.monotonic() + kill_after
        while True:
            running = [addr for addr, yes in self.client.run(_is_running, task_id).items() if yes]
            if not running:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        nannied = [a for a in running if workers.get(a, {}).get("nanny")]
        for addr in set(running) - set(nannied):
            log.warning("task %s ignored its cancel and worker %s has no nanny to restart it; "
                        "the task runs on", task_id, addr)
        if nannied:
            log.warning("task %s ignored its cancel for %.1f s; killing worker(s) %s (their "
                        "nannies restart them)", task_id, kill_after, ", ".join(nannied))
            self.client.run(_kill_this_worker, workers=nannied, wait=False)


_bridges: weakref.WeakKeyDictionary[Any, DaskBridge] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def bridge_for(client: Any) -> DaskBridge:
    """The one :class:`DaskBridge` of ``client`` (shared by managers using it)."""
    with _lock:
        bridge = _bridges.get(client)
        if bridge is None:
            bridge = _bridges[client] = DaskBridge(client)
        return bridge


def connect(spec: Any) -> tuple[Any, list[Any]]:
    """A client for ``spec`` and the objects the caller must close.

    ``spec``: a ``distributed.Client`` (used as is, not closed by us), a scheduler
    address such as ``"tcp://10.0.0.5:8786"``, or ``"local"`` for a LocalCluster of
    worker processes on this machine.
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ImportError("executor='dask' needs the 'dask' extra: "
                          "pip install 'pipeline_kit[dask]'") from e
    if isinstance(spec, Client):
        return spec, []
    if not isinstance(spec, str):
        raise TypeError(f"dask_client must be a distributed.Client, an address or 'local', "
                        f"got {type(spec).__name__}")
    if spec == "local":
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = LocalCluster(processes=True, threads_per_worker=1,
                                   dashboard_address=None)
        client = Client(cluster)
        return client, [client, cluster]
    client = Client(spec)
    return client, [client]
