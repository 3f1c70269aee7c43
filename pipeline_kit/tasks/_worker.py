"""``executor="process"``: run tasks in worker processes, talking JSON lines.

The parent writes a request line (an id, a callable reference, JSON arguments) to a
worker's stdin and later, maybe, ``cancel <id>``. The worker writes ``progress``, then
one ``result`` or ``error`` line tagged with the id to its original stdout; the task's
own prints go to stderr. No pickle crosses the pipe, so only importable functions with
JSON arguments can run this way, and the result comes back as JSON data. A worker runs
one request at a time and then waits for the next: a :class:`WorkerPool` keeps idle
workers, so small tasks do not each pay for a Python start.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import traceback
from typing import Any

from pipeline_kit.base._progress import Span, TaskCancelled, as_span
from pipeline_kit.tasks._callables import (
    decode_args,
    exception_ref,
    rebuild_exception,
    resolve_ref,
    to_result_data,
    wants_progress,
)
from pipeline_kit.tasks._remote_progress import RemoteProgress


class _ChildProgress(RemoteProgress):
    """Progress inside the worker process: throttled JSON lines to the parent."""

    def __init__(self, out: Any, cancelled: threading.Event, interval: float) -> None:
        super().__init__(interval)
        self._out, self._cancelled = out, cancelled
        self._lock = threading.Lock()

    def _send(self, value: float | None, total: float | None, step: str | None,
              within: Span | None) -> None:
        send(self._out, self._lock,
             {"progress": value, "total": total, "step": step, "within": within})

    def _is_cancelled(self) -> bool:
        return self._cancelled.is_set()


def send(out: Any, lock: threading.Lock, msg: dict[str, Any]) -> None:
    """Write one protocol line."""
    with lock:
        out.write(json.dumps(msg) + "\n")
        out.flush()


def child_main() -> int:
    """Entry point of a worker process (``python -m pipeline_kit.tasks._worker``): runs
    the requests of its stdin one after another until stdin closes."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything a task prints goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    lock = threading.Lock()
    requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
    current: dict[str, Any] = {"id": None, "cancelled": threading.Event()}
    early: set[str] = set()  # cancels of requests queued but not started yet
    state = threading.Lock()

    def listen() -> None:
        """The only reader of stdin: requests are queued, ``cancel N`` stops task N."""
        for line in sys.stdin:
            if line.startswith("cancel"):
                wanted = (line.split()[1:] or [str(current["id"])])[0]
                with state:
                    if wanted == str(current["id"]):
                        current["cancelled"].set()
                    else:
                        early.add(wanted)
            elif line.strip():
                requests.put(json.loads(line))
        current["cancelled"].set()  # parent went away: stop too
        requests.put(None)

    threading.Thread(target=listen, daemon=True).start()
    while (req := requests.get()) is not None:
        cancelled = threading.Event()
        with state:
            current.update(id=req.get("id"), cancelled=cancelled)
            if str(req.get("id")) in early:
                early.discard(str(req.get("id")))
                cancelled.set()
        _run_request(req, out, lock, cancelled)
    return 0


def _run_request(req: dict[str, Any], out: Any, lock: threading.Lock,
                 cancelled: threading.Event) -> None:
    """Run one request; its result or error goes to ``out`` as one line."""
    progress: _ChildProgress | None = None
    tag = {"id": req["id"]} if "id" in req else {}
    try:
        fn = resolve_ref(req["ref"])
        args, kwargs = decode_args(req["args"])
        if wants_progress(fn):
            progress = _ChildProgress(out, cancelled, req.get("interval", 0.25))
            kwargs["progress"] = progress
        result = fn(*args, **kwargs)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        if progress is not None:
            progress.flush()
        send(out, lock, {**tag, "result": to_result_data(result)})
    except BaseException as e:  # noqa: BLE001 - every failure is reported to the parent
        if progress is not None:
            progress.flush()  # the last real progress arrives before the error
        err = {"type": exception_ref(e), "message": str(e), "traceback": traceback.format_exc()}
        send(out, lock, {**tag, "error": err})


class Worker:
    """One worker process, running requests one at a time (JSON lines both ways)."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline_kit.tasks._worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env,
        )
        self.lock = threading.Lock()
        self.done = 0  # requests answered
        self.running: int | None = None  # id of the request it runs, if any

    def alive(self) -> bool:
        return self.proc.poll() is None

    def write(self, text: str) -> None:
        with self.lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(text)
            self.proc.stdin.flush()

    def stop_if_running(self, request: int, kill: bool) -> None:
        """Terminate (or kill) the process if it still runs ``request``."""
        if self.running == request and self.alive():
            self.proc.kill() if kill else self.proc.terminate()

    def close(self) -> None:
        """Close its stdin (it exits when idle), then make sure it is gone."""
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(2)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class WorkerPool:
    """Idle worker processes kept for the next task, so that a small task does not pay
    for a Python start and the imports of its module each time.

    ``max_tasks``: requests a worker runs before it is replaced (1: a fresh process per
    task, as before the pool; None: no limit). A worker whose task was killed, crashed
    or was interrupted is never reused.
    """

    def __init__(self, max_tasks: int | None = None) -> None:
        if max_tasks is not None and max_tasks < 1:
            raise ValueError(f"max_tasks must be at least 1 (or None), got {max_tasks}")
        self.max_tasks = max_tasks
        self._idle: list[Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._ids = itertools.count(1)

    def acquire(self) -> Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.close()
        return Worker()

    def release(self, worker: Worker, healthy: bool) -> None:
        keep = healthy and worker.alive() and (
            self.max_tasks is None or worker.done < self.max_tasks)
        with self._lock:
            if keep and not self._closed:
                self._idle.append(worker)
                return
        worker.close()

    def next_id(self) -> int:
        return next(self._ids)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()


def run_in_process(
    ref: str, args_json: str, progress: Any, interval: float, kill_after: float = 1.0,
    pool: WorkerPool | None = None,
) -> Any:
    """Parent side: run ``ref`` in a worker process (from ``pool``, else a fresh one),
    forwarding progress and cancellation.

    ``progress`` is the task's reporter (its stop request is sent to the worker as
    ``cancel N``; the worker is terminated if still on the task ``kill_after`` seconds
    later). Returns the JSON result or raises the worker's exception.
    """
    pool = pool if pool is not None else WorkerPool(max_tasks=1)
    worker = pool.acquire()
    request = pool.next_id()
    worker.running = request
    outcome: dict[str, Any] | None = None
    try:
        worker.write(json.dumps({"id": request, "ref": ref, "args": args_json,
                                 "interval": interval}) + "\n")

        def tell_cancel() -> None:
            try:
                worker.write(f"cancel {request}\n")
            except (OSError, ValueError):
                pass  # already exited
            # A process, unlike a thread, can be stopped by force if it does not listen:
            # SIGTERM after kill_after seconds, SIGKILL a second later.
            _later(kill_after, lambda: worker.stop_if_running(request, kill=False))
            _later(kill_after + 1.0, lambda: worker.stop_if_running(request, kill=True))

        progress.on_stop(tell_cancel)
        outcome = _read_outcome(worker, request, progress, tell_cancel)
    except (OSError, ValueError):
        outcome = None  # the worker died under us: reported below
    finally:
        worker.running = None
        if outcome is not None:
            worker.done += 1
        pool.release(worker, healthy=outcome is not None)
    if progress.stop is not None:
        raise progress.stop
    if outcome is None:
        code = worker.proc.wait()
        raise RuntimeError(f"worker process exited with code {code} without a result")
    if "error" in outcome:
        err = outcome["error"]
        exc = rebuild_exception(err["type"], err["message"])
        exc.remote_traceback = err["traceback"]  # type: ignore[attr-defined]
        raise exc
    return outcome["result"]


def _read_outcome(worker: Worker, request: int, progress: Any,
                  tell_cancel: Any) -> dict[str, Any] | None:
    """Progress lines until the request's result or error line; None if the worker died."""
    assert worker.proc.stdout is not None
    for line in worker.proc.stdout:
        msg = json.loads(line)
        if msg.get("id", request) != request:
            continue  # a late line of an earlier request
        if "progress" in msg:
            try:
                progress.update(msg["progress"], msg.get("total"), step=msg["step"],
                                within=as_span(msg.get("within")))
            except TaskCancelled:
                tell_cancel()
        else:
            return msg
    return None


def _later(seconds: float, fn: Any) -> None:
    timer = threading.Timer(seconds, fn)
    timer.daemon = True
    timer.start()


if __name__ == "__main__":
    sys.exit(child_main())
