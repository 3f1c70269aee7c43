"""``executor="process"``: run one task in a fresh Python process, talking JSON lines.

The parent writes one request line (callable reference + JSON arguments) to the
child's stdin and later, maybe, ``cancel``. The child writes ``progress``, then one
``result`` or ``error`` line to its original stdout; the task's own prints go to
stderr. No pickle crosses the pipe, so only importable functions with JSON
arguments can run this way, and the result comes back as JSON data.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import traceback
from typing import Any

from pipeline_kit.base._progress import TaskCancelled
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

    def _send(self, value: float | None, total: float | None, step: str | None) -> None:
        send(self._out, self._lock, {"progress": value, "total": total, "step": step})

    def _is_cancelled(self) -> bool:
        return self._cancelled.is_set()


def send(out: Any, lock: threading.Lock, msg: dict[str, Any]) -> None:
    """Write one protocol line."""
    with lock:
        out.write(json.dumps(msg) + "\n")
        out.flush()


def child_main() -> int:
    """Entry point of the worker process (``python -m pipeline_kit.tasks._worker``)."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the task prints goes to stderr, not into the protocol
    sys.stdout = sys.stderr
    lock = threading.Lock()
    req = json.loads(sys.stdin.readline())
    cancelled = threading.Event()

    def listen() -> None:
        for line in sys.stdin:
            if line.strip() == "cancel":
                cancelled.set()
        cancelled.set()  # parent went away: stop too

    threading.Thread(target=listen, daemon=True).start()
    progress: _ChildProgress | None = None
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
        send(out, lock, {"result": to_result_data(result)})
        return 0
    except BaseException as e:  # noqa: BLE001 - every failure is reported to the parent
        if progress is not None:
            progress.flush()  # the last real progress arrives before the error
        err = {"type": exception_ref(e), "message": str(e), "traceback": traceback.format_exc()}
        send(out, lock, {"error": err})
        return 1


def run_in_process(
    ref: str, args_json: str, progress: Any, interval: float, kill_after: float = 1.0
) -> Any:
    """Parent side: run ``ref`` in a child process, forwarding progress and cancellation.

    ``progress`` is the task's reporter (its stop request is sent to the child as
    ``cancel``; it is terminated if still running ``kill_after`` seconds later). Returns
    the JSON result or raises the child's exception.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline_kit.tasks._worker"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env,
    )
    lock = threading.Lock()
    assert proc.stdin is not None and proc.stdout is not None
    send(proc.stdin, lock, {"ref": ref, "args": args_json, "interval": interval})

    def tell_cancel() -> None:
        try:
            _write(proc, lock, "cancel\n")
        except (OSError, ValueError):
            pass  # already exited
        # A process, unlike a thread, can be stopped by force if it does not listen:
        # SIGTERM after kill_after seconds, SIGKILL a second later.
        _later(kill_after, lambda: None if proc.poll() is not None else proc.terminate())
        _later(kill_after + 1.0, lambda: None if proc.poll() is not None else proc.kill())

    progress.on_stop(tell_cancel)
    outcome: dict[str, Any] | None = None
    try:
        for line in proc.stdout:
            msg = json.loads(line)
            if "progress" in msg:
                try:
                    progress.update(msg["progress"], msg.get("total"), step=msg["step"])
                except TaskCancelled:
                    tell_cancel()
            else:
                outcome = msg
    finally:
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
    if progress.stop is not None:
        raise progress.stop
    if outcome is None:
        raise RuntimeError(f"worker process exited with code {proc.returncode} without a result")
    if "error" in outcome:
        err = outcome["error"]
        exc = rebuild_exception(err["type"], err["message"])
        exc.remote_traceback = err["traceback"]  # type: ignore[attr-defined]
        raise exc
    return outcome["result"]


def _later(seconds: float, fn: Any) -> None:
    timer = threading.Timer(seconds, fn)
    timer.daemon = True
    timer.start()


def _write(proc: subprocess.Popen, lock: threading.Lock, text: str) -> None:
    with lock:
        assert proc.stdin is not None
        proc.stdin.write(text)
        proc.stdin.flush()


if __name__ == "__main__":
    sys.exit(child_main())
