"""Live views of a task manager's progress feed: a widget panel, or plain text lines.

Both renderers subscribe to the same feed (``TaskManager.subscribe``), which sends
immutable :class:`~pipeline_kit.tasks.TaskInfo` snapshots from the manager's thread.

* :class:`TaskPanel` (JupyterLab): one ipywidgets row per task. Snapshots are applied
  on the kernel's own event loop (captured when the panel is made) via
  ``call_soon_threadsafe``, so worker threads never write into whichever cell runs.
* :class:`TerminalBars` (a terminal): one in-place tqdm bar per running task, a line
  per finished task and a summary table.
* :class:`TextRenderer` (papermill, CI, a pipe, a log): a line when a task starts or
  ends, at most one progress line per 10 s, such as
  ``[ 42%] transcription  a1b2c3  running  12.3s  Transcribing segment 3/9  ...``, and a
  summary table whenever the watched tasks are all finished.

ETAs come from :class:`MonotoneEta`: they never rise within one phase of a task.

``PIPELINE_KIT_PROGRESS=widget|text|none`` overrides the automatic choice.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO, cast

from pipeline_kit.base._progress import Span, TaskCancelled, to_percent
from pipeline_kit.tasks._types import TaskInfo, TaskStatus, utcnow
from pipeline_kit.tasks._views import register_views

if TYPE_CHECKING:
    from pipeline_kit.tasks._handle import TaskHandle
    from pipeline_kit.tasks._manager import TaskManager

MODES = ("widget", "text", "none")
BAR_STYLE = {
    TaskStatus.PENDING: "",
    TaskStatus.RUNNING: "info",
    TaskStatus.COMPLETED: "success",
    TaskStatus.FAILED: "danger",
    TaskStatus.CANCELLED: "",
}
COLOUR = {
    TaskStatus.PENDING: "#757575",
    TaskStatus.RUNNING: "#1565c0",
    TaskStatus.COMPLETED: "#2e7d32",
    TaskStatus.FAILED: "#c62828",
    TaskStatus.CANCELLED: "#9e9e9e",
}
_HEADLESS_PARENTS = (b"papermill", b"nbconvert", b"nbclient")
# A kernel whose parent is one of these has a front end that renders widgets.
_LIVE_PARENTS = (
    b"jupyter-lab", b"jupyter-server", b"jupyter-notebook", b"jupyter_server", b"jupyterlab",
    b"jupyter lab", b"jupyter notebook", b"jupyter server", b"notebook.app", b"voila",
    b"vscode",
)


# ---------------------------------------------------------------- detection


def _parent_cmdline() -> bytes | None:
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ")
    except OSError:
        return None


def under_papermill() -> bool:
    """True when a notebook is being executed headless (papermill, nbconvert, nbclient)."""
    if any(k.startswith("PAPERMILL") for k in os.environ):
        return True
    cmd = _parent_cmdline()
    return cmd is not None and any(name in cmd for name in _HEADLESS_PARENTS)


def has_live_frontend() -> bool:
    """True inside an IPython kernel that a live front end (JupyterLab) is attached to.

    A kernel started by anything else (papermill called from pytest or a script,
    nbval, nbclient) has no one to render widgets, so it gets text. Where the parent
    cannot be read (no /proc), any kernel counts as live.
    """
    if "ipykernel" not in sys.modules or under_papermill():
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None or getattr(ip, "kernel", None) is None:
        return False
    cmd = _parent_cmdline()
    return cmd is None or any(name in cmd for name in _LIVE_PARENTS)


def progress_mode() -> str:
    """``widget``, ``text`` or ``none``: ``$PIPELINE_KIT_PROGRESS``, else detected."""
    env = os.environ.get("PIPELINE_KIT_PROGRESS", "").strip().lower()
    if env in MODES:
        return env
    return "widget" if has_live_frontend() else "text"


# ---------------------------------------------------------------- selection


class _Selection:
    """Which tasks a renderer shows: all, or some ids plus their retries and children."""

    def __init__(self, select: TaskHandle | Iterable[str] | None) -> None:
        self.handle: TaskHandle | None = None
        self.ids: set[str] | None = None
        if select is None:
            return
        if hasattr(select, "task_ids"):
            self.handle = cast("TaskHandle", select)
            self.ids = set(self.handle.task_ids)
        else:
            self.ids = set(select)

    def matches(self, info: TaskInfo) -> bool:
        if self.ids is None or info.task_id in self.ids:
            return True
        if info.retry_of in self.ids or info.parent_id in self.ids:
            self.ids.add(info.task_id)
            return True
        return False


# ---------------------------------------------------------------- text


def format_elapsed(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds:.1f}s"


def _number(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


# What a task type's ``update(done, total)`` units count; other types show bare counts.
UNITS = {"transcription": "s audio", "diarization": "s audio",
         "question_generation": "chunks"}


def unit_name(info: TaskInfo) -> str:
    """The unit of ``info``'s counts (``"s audio"``), or '' when its type declares none."""
    return UNITS.get(str(info.task_type), "")


def format_eta(seconds: float | None) -> str:
    """``ETA 9s`` / ``ETA 1:05`` ('' for None)."""
    if seconds is None:
        return ""
    s = int(round(seconds))
    return f"ETA {s}s" if s < 60 else f"ETA {s // 60}:{s % 60:02d}"


def _phase(step: str | None) -> str:
    """A step without its counts: "Transcribing segment 3/9" -> "Transcribing segment #/#"."""
    return re.sub(r"\d+(\.\d+)?", "#", step or "")


class MonotoneEta:
    """Seconds left of one task that never go up within one phase of its work.

    The estimate is the time left at the average speed since the current phase began
    (percent gained per second of ``clock``); a phase is the step name without its
    counts, so "Detecting speech" and "Transcribing segment 3/9" are two. Within a
    phase a higher estimate holds the shown value instead of raising it. A new phase
    has its own speed (speech detection is fast, decoding slow): its ETA shows anew
    after ``warmup`` seconds, so no ETA jumps up while it is shown.
    """

    def __init__(self, clock: Any = time.monotonic, warmup: float = 2.0) -> None:
        self.clock, self.warmup = clock, warmup
        self._first: tuple[float, float] | None = None
        self._phase: str | None = None
        self.shown: float | None = None

    def update(self, percent: float, step: str | None = None) -> float | None:
        """The ETA to show now for a task at ``percent`` doing ``step``."""
        now = self.clock()
        phase = _phase(step) if step is not None else self._phase
        if self._first is None or percent < self._first[1] or phase != self._phase:
            self._first, self._phase, self.shown = (now, percent), phase, None
            return None
        t0, p0 = self._first
        if percent >= 100.0:
            self.shown = None
            return None
        if percent <= p0 or now - t0 < self.warmup:
            return self.shown
        raw = (100.0 - percent) * (now - t0) / (percent - p0)
        self.shown = raw if self.shown is None else min(raw, self.shown)
        return self.shown


def eta_step(info: TaskInfo) -> str | None:
    """The step that sets a task's ETA phase. A run's phase is its current stage (its
    step reads ``stage: step``): the run's remaining percent at that stage's pace. One
    phase for the whole run held a too-low ETA for a minute when the declared stage
    weights did not match this machine."""
    if str(info.task_type) == "pipeline":
        return (info.current_step or "").split(":", 1)[0]
    return info.current_step


def format_units(info: TaskInfo, eta: float | None = None) -> str:
    """``12/40 s audio  3.1/s  ETA 9s`` of a running task ('' when finished).

    Counts show only while they are below their total (a finished step never reads
    "done ... ETA"); ``eta`` is the caller's (monotone) estimate, else the task's own.
    """
    if info.status is not TaskStatus.RUNNING:
        return ""
    parts = []
    total, done = info.progress_total, info.progress_done or 0
    if total is not None and done < total:
        unit = unit_name(info)
        parts.append(f"{_number(done)}/{_number(total)}" + (f" {unit}" if unit else ""))
        if info.progress_rate:
            parts.append(f"{info.progress_rate:.3g}/s")
        if eta is None:
            eta = info.eta
    if info.progress_percentage < 100.0:
        parts.append(format_eta(eta))
    return "  ".join(p for p in parts if p)


STATUS_WIDTH = max(len(s.value) for s in TaskStatus)
ELAPSED_WIDTH = 7  # "1234.5s"


def task_label(info: TaskInfo) -> str:
    """A task's name in views: its type, plus its audio file's name for a top-level task."""
    audio = info.metadata.get("audio") if isinstance(info.metadata, dict) else None
    if audio and info.parent_id is None:
        return f"{info.task_type} {os.path.basename(str(audio))}"
    return str(info.task_type)


def run_header(info: TaskInfo) -> str | None:
    """``run 1a2b3c4d: interview.wav (upload, transcription, ...)`` for a top-level task
    whose metadata names a run or an audio file; None for others."""
    meta = info.metadata if isinstance(info.metadata, dict) else {}
    if info.parent_id is not None or not (meta.get("run_id") or meta.get("audio")):
        return None
    head = (f"run {str(meta['run_id'])[:8]}" if meta.get("run_id")
            else "batch notebook" if meta.get("batch") else str(info.task_type))
    if meta.get("audio"):
        head += f": {os.path.basename(str(meta['audio']))}"
    stages = meta.get("stages")
    if isinstance(stages, list) and stages:
        head += f" ({', '.join(map(str, stages))})"
    return head


def step_text(info: TaskInfo, eta: float | None = None) -> str:
    """The step, units/rate/ETA of a running task, or the error of a failed/cancelled one."""
    if info.status in (TaskStatus.FAILED, TaskStatus.CANCELLED) and info.error_message:
        return info.error_message.splitlines()[0][:120]
    return "  ".join(x for x in (info.current_step, format_units(info, eta)) if x)


def format_line(info: TaskInfo, name_width: int = 0, eta: float | None = None) -> str:
    """One line in aligned columns, the elapsed time before the free-length step text:
    ``[ 42%] transcription  a1b2c3  running      12.3s  Step  12/40  3.1/s  ETA 9s``."""
    elapsed = format_elapsed(info.duration) if info.started_at is not None else ""
    parts = [f"[{info.progress_percentage:3.0f}%] {task_label(info).ljust(name_width)}",
             info.task_id[:6], info.status.value.ljust(STATUS_WIDTH),
             elapsed.rjust(ELAPSED_WIDTH), step_text(info, eta)]
    return "  ".join(parts).rstrip()


def summary_table(infos: Iterable[TaskInfo]) -> str:
    """A plain-text table of tasks: id, type, status, attempt, time, step or error."""
    header = ("task", "type", "status", "attempt", "time", "step / error")
    rows = [header]
    for i in infos:
        note = i.error_message if i.status is not TaskStatus.COMPLETED else i.current_step
        note = (note or "").splitlines()[0][:80] if note else ""
        rows.append((i.task_id[:6], task_label(i), i.status.value, str(i.attempt),
                     format_elapsed(i.duration), note))
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    right = {3, 4}
    lines = ["  ".join(v.rjust(w) if c in right else v.ljust(w)
                       for c, (v, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class TextRenderer:
    """Prints status lines of the feed for a log (off a terminal), and a summary when all
    are finished.

    A task starting or ending is always a line (pending tasks are not shown). Progress
    is a line of the task that just moved when no line was printed for ``interval``
    seconds; a run's own row is left out while one of its stages runs (the stage's
    line says more). When nothing was printed for ``heartbeat`` seconds, the latest
    running task's line is printed again (its elapsed time grows), so a log under
    papermill or CI never goes quiet during a long stage. ETAs never rise
    (:class:`MonotoneEta`). Watching one handle, it stops after that task's summary.
    """

    def __init__(
        self,
        manager: TaskManager,
        *,
        select: TaskHandle | Iterable[str] | None = None,
        stream: TextIO | None = None,
        interval: float = 10.0,
        summary: bool = True,
        heartbeat: float = 30.0,
        clock: Any = time.monotonic,
    ) -> None:
        self.manager = manager
        self.stream = stream if stream is not None else sys.stdout
        self.interval, self.summary, self.heartbeat = interval, summary, heartbeat
        self.clock = clock
        self._sel = _Selection(select)
        self._name_width = 0
        self._headed: set[str] = set()
        self._status: dict[str, TaskStatus] = {}
        self._etas: dict[str, MonotoneEta] = {}
        self._seen: dict[str, TaskInfo] = {}
        self._latest: str | None = None
        self._printed = -float("inf")  # when the last line of any kind was written
        self._lock = threading.Lock()
        self._closed = False
        self._stopped = threading.Event()
        self._unsub = manager.subscribe(self._on_info)
        for info in manager.snapshots():
            if self._sel.matches(info) and not info.is_terminal:
                self._on_info(info)
        threading.Thread(target=self._beat, name="pipeline-kit-text-heartbeat",
                         daemon=True).start()

    def _beat(self) -> None:
        """Re-print the latest running task when nothing was printed for ``heartbeat`` s."""
        while not self._stopped.wait(min(1.0, self.heartbeat / 4)):
            if self.manager.closed:
                self.close()
                return
            with self._lock:
                info = self._seen.get(self._latest) if self._latest else None
                if (info is not None and info.status is TaskStatus.RUNNING
                        and self.clock() - self._printed >= self.heartbeat):
                    self._line(info)

    def _write(self, text: str) -> None:
        self._printed = self.clock()
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (ValueError, OSError):  # stream closed
            self.close()

    def _eta(self, info: TaskInfo) -> float | None:
        eta = self._etas.setdefault(info.task_id, MonotoneEta(self.clock))
        return eta.update(info.progress_percentage, eta_step(info)) \
            if info.status is TaskStatus.RUNNING else None

    def _line(self, info: TaskInfo) -> None:
        self._write(format_line(info, self._name_width, self._etas[info.task_id].shown
                                if info.task_id in self._etas else None))

    def _has_running_child(self, info: TaskInfo) -> bool:
        return any(i.parent_id == info.task_id and i.status is TaskStatus.RUNNING
                   for i in self._seen.values())

    def _on_info(self, info: TaskInfo) -> None:
        if self._closed or not self._sel.matches(info):
            return
        with self._lock:
            self._seen[info.task_id] = info
            self._eta(info)
            self._name_width = max(self._name_width, len(task_label(info)))
            header = run_header(info)
            if header and info.task_id not in self._headed:
                self._headed.add(info.task_id)
                self._write(f"== {header}")
            changed = self._status.get(info.task_id) is not info.status
            if info.status is TaskStatus.RUNNING and not self._has_running_child(info):
                self._latest = info.task_id
            self._status[info.task_id] = info.status
            if info.status is TaskStatus.PENDING:
                pass
            elif changed:
                self._line(info)
            elif not self._has_running_child(info):
                if self.clock() - self._printed >= self.interval:
                    self._line(info)
        if info.is_terminal:
            # Checked one loop turn later: a retry or the next child is published first.
            self.manager.call_soon(self._check_idle)

    def _check_idle(self) -> None:
        with self._lock:
            if self._closed or not self._seen:
                return
            if not all(i.is_terminal for i in self._seen.values()):
                return
            if self._sel.handle is not None and not self._sel.handle.done():
                return
            seen, self._seen = list(self._seen.values()), {}
            if self.summary:
                self._write(summary_table(seen))
        if self._sel.handle is not None:
            self.close()

    def close(self) -> None:
        """Stop listening to the feed."""
        self._closed = True
        self._stopped.set()
        self._unsub()

    def finish(self, timeout: float = 5.0) -> None:
        """Wait (up to ``timeout`` s) until a handle's view has printed its summary and
        closed itself, then close: for a caller whose task just ended."""
        if self._sel.handle is not None and self._sel.handle.done():
            self._stopped.wait(timeout)
        self.close()


BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar:20}| {elapsed}"


class TerminalBars:
    """On a terminal: one in-place tqdm bar per running task, the run's own on top.

    A bar shows the percent, the elapsed time, the step, units and a monotone ETA
    (the run's bar: the ETA of the whole run). A task that ends leaves one line
    (:func:`format_line`) above the bars, and a summary follows when all have ended.
    """

    def __init__(
        self,
        manager: TaskManager,
        *,
        select: TaskHandle | Iterable[str] | None = None,
        stream: TextIO | None = None,
        summary: bool = True,
        tick: float = 0.5,
        clock: Any = time.monotonic,
    ) -> None:
        self.manager = manager
        self.stream = stream if stream is not None else sys.stderr
        self.summary, self.tick, self.clock = summary, tick, clock
        self._sel = _Selection(select)
        self._bars: dict[str, Any] = {}
        self._infos: dict[str, TaskInfo] = {}
        self._etas: dict[str, MonotoneEta] = {}
        self._headed: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._stopped = threading.Event()
        self._unsub = manager.subscribe(self._on_info)
        for info in manager.snapshots():
            if self._sel.matches(info) and not info.is_terminal:
                self._on_info(info)
        threading.Thread(target=self._ticker, name="pipeline-kit-bars", daemon=True).start()

    def _ticker(self) -> None:
        """Redraw the bars every ``tick`` s, so elapsed times move during a quiet step."""
        while not self._stopped.wait(self.tick):
            if self.manager.closed:
                self.close()
                return
            with self._lock:
                for task_id, bar in self._bars.items():
                    self._draw(bar, self._infos[task_id])

    def _write(self, text: str) -> None:
        from tqdm import tqdm

        tqdm.write(text, file=self.stream)

    def _open(self, info: TaskInfo) -> Any:
        from tqdm import tqdm

        top = info.parent_id is None  # the header above names a run's file already
        return tqdm(total=100.0, file=self.stream, leave=False, dynamic_ncols=True,
                    desc=str(info.task_type) if top else f"  {info.task_type}",
                    bar_format=BAR_FORMAT, mininterval=0.0)

    def _draw(self, bar: Any, info: TaskInfo) -> None:
        bar.n = info.progress_percentage
        eta = self._etas[info.task_id].shown if info.task_id in self._etas else None
        text = step_text(info, eta).replace("{", "{{").replace("}", "}}")
        bar.bar_format = f"{BAR_FORMAT}  {text}"  # tqdm's own postfix adds a comma
        bar.refresh()

    def _on_info(self, info: TaskInfo) -> None:
        if self._closed or not self._sel.matches(info):
            return
        with self._lock:
            self._infos[info.task_id] = info
            header = run_header(info)
            if header and info.task_id not in self._headed:
                self._headed.add(info.task_id)
                self._write(f"== {header}")
            if info.status is TaskStatus.RUNNING:
                self._etas.setdefault(info.task_id, MonotoneEta(self.clock)).update(
                    info.progress_percentage, eta_step(info))
                bar = self._bars.get(info.task_id)
                if bar is None:
                    bar = self._bars[info.task_id] = self._open(info)
                self._draw(bar, info)
            elif info.is_terminal:
                bar = self._bars.pop(info.task_id, None)
                if bar is not None:
                    bar.close()
                self._write(format_line(info))
        if info.is_terminal:
            self.manager.call_soon(self._check_idle)

    def _check_idle(self) -> None:
        with self._lock:
            if self._closed or not self._infos:
                return
            if not all(i.is_terminal for i in self._infos.values()):
                return
            if self._sel.handle is not None and not self._sel.handle.done():
                return
            seen, self._infos = list(self._infos.values()), {}
            if self.summary:
                self._write(summary_table(seen))
        if self._sel.handle is not None:
            self.close()

    def close(self) -> None:
        """Stop listening to the feed and remove the bars still shown."""
        self._closed = True
        self._stopped.set()
        self._unsub()
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()

    def finish(self, timeout: float = 5.0) -> None:
        """As :meth:`TextRenderer.finish`."""
        if self._sel.handle is not None and self._sel.handle.done():
            self._stopped.wait(timeout)
        self.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


# ---------------------------------------------------------------- widgets


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


# the step cell: wrap long text (at any character if need be) instead of cutting it
WRAP_STYLE = "white-space:normal;overflow-wrap:anywhere;line-height:1.3"


def _fixed(width: str) -> Any:
    import ipywidgets as W

    return W.Layout(width=width, min_width=width, flex="0 0 auto", margin="0 6px 0 0")


class _Row:
    """The widgets of one task in fixed-width columns, so rows line up:
    id | name + bar | percent | status | elapsed | step (takes the rest) | cancel.

    The elapsed time stands before the step; a long step wraps onto more lines in its
    own column (and shows in full on hover) rather than being cut, so its rate and
    ETA stay visible. ``text`` is the step's plain text. A finished row hides its
    Cancel button.
    """

    def __init__(self, on_cancel: Any, info: TaskInfo, name_width: int) -> None:
        import ipywidgets as W

        self.info = info
        self.ident = W.Label(info.task_id[:6], layout=_fixed("7ch"))
        # the name is the task type (the panel's header names the run and its file)
        self.bar = W.FloatProgress(value=0.0, min=0.0, max=100.0,
                                   description=str(info.task_type), tooltip=task_label(info),
                                   layout=_fixed("200px"))
        self.set_name_width(name_width)
        self.percent = W.Label(layout=_fixed("5ch"))
        self.status = W.HTML(layout=_fixed("16ch"))
        self.elapsed = W.Label(layout=_fixed("8ch"))
        self.text = ""
        self.step = W.HTML(layout=W.Layout(flex="1 1 auto", width="auto", min_width="0",
                                           height="auto"))  # room for wrapped lines
        self.button = W.Button(description="Cancel", tooltip=f"cancel task {info.task_id}",
                               layout=_fixed("80px"))
        if on_cancel is None:
            self.button.layout.visibility = "hidden"
        else:
            self.button.on_click(lambda _b: on_cancel(self.info.task_id))
        self.box = W.HBox([self.ident, self.bar, self.percent, self.status, self.elapsed,
                           self.step, self.button], layout=W.Layout(width="100%"))
        self.set(info)

    def set_name_width(self, chars: int) -> None:
        """Room for names of ``chars`` characters (every row of a panel gets the same)."""
        self.bar.style.description_width = f"{chars + 1}ch"
        self.bar.layout.width = self.bar.layout.min_width = f"calc({chars + 1}ch + 200px)"

    def set(self, info: TaskInfo, eta: float | None = None) -> None:
        import html

        self.info = info
        self.bar.value = info.progress_percentage
        self.bar.bar_style = BAR_STYLE[info.status]
        self.bar.style.bar_color = "#9e9e9e" if info.status is TaskStatus.CANCELLED else None
        self.percent.value = f"{info.progress_percentage:.0f}%"
        label = info.status.value + (f" (attempt {info.attempt})" if info.attempt > 1 else "")
        self.status.value = (
            f'<b style="color:{COLOUR[info.status]}">{label}</b>'
        )
        self.text = step_text(info, eta)
        quoted = html.escape(self.text)
        self.step.value = (f'<div title="{quoted}" style="{WRAP_STYLE}">{quoted}</div>'
                           if quoted else "")
        self.elapsed.value = format_elapsed(info.duration)
        self.button.disabled = info.is_terminal
        if info.is_terminal:
            self.button.layout.visibility = "hidden"


class TaskPanel:
    """A live ipywidgets panel of tasks, updated on the kernel's loop.

    ``loop`` defaults to the loop running where the panel is created (the kernel's);
    without one, snapshots are applied directly on the manager's thread.
    """

    def __init__(
        self,
        manager: TaskManager,
        *,
        select: TaskHandle | Iterable[str] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        tick: float = 1.0,
        clock: Any = time.monotonic,
    ) -> None:
        import ipywidgets as W

        self.manager = manager
        self.clock = clock
        self._etas: dict[str, MonotoneEta] = {}
        self.loop = loop if loop is not None else _running_loop()
        self.tick = tick
        self.rows: dict[str, _Row] = {}
        self.name_width = 12
        self.header = W.HTML(layout=W.Layout(margin="0 0 4px 0", display="none"))
        self.headers: dict[str, str] = {}
        self.rows_box = W.VBox([])
        self.widget = W.VBox([self.header, self.rows_box])
        self._sel = _Selection(select)
        self._tick_handle: asyncio.TimerHandle | None = None
        self._closed = False
        self._unsub = manager.subscribe(self._on_info)
        for info in manager.snapshots():
            if self._sel.matches(info):
                self._apply(info)

    def _on_info(self, info: TaskInfo) -> None:
        """Feed callback (manager thread): hand the snapshot to the kernel's loop."""
        if self._closed or not self._sel.matches(info):
            return
        if self.loop is None:
            self._apply(info)
            return
        try:
            self.loop.call_soon_threadsafe(self._apply, info)
        except RuntimeError:  # the kernel's loop is gone
            self.close()

    def _apply(self, info: TaskInfo) -> None:
        row = self.rows.get(info.task_id)
        if row is None:
            self._add_header(info)
            self._widen(len(str(info.task_type)))
            row = self.rows[info.task_id] = _Row(self.manager.cancel, info, self.name_width)
            self.rows_box.children = (*self.rows_box.children, row.box)
            self._eta(info)  # the first observation of its speed
        elif row.info.updated_at > info.updated_at or (
            row.info.is_terminal and not info.is_terminal
        ):
            return  # an older snapshot arriving late
        else:
            row.set(info, self._eta(info))
        if info.status is TaskStatus.RUNNING:
            self._schedule_tick()

    def _eta(self, info: TaskInfo) -> float | None:
        if info.status is not TaskStatus.RUNNING:
            return None
        eta = self._etas.setdefault(info.task_id, MonotoneEta(self.clock))
        return eta.update(info.progress_percentage, eta_step(info))

    def _add_header(self, info: TaskInfo) -> None:
        """Name the run(s) shown: one line per top-level task that names a run or file."""
        import html

        text = run_header(info)
        if text is None:
            return
        self.headers[info.task_id] = text
        self.header.value = "<br>".join(f"<b>{html.escape(t)}</b>"
                                        for t in self.headers.values())
        self.header.layout.display = None

    def _widen(self, chars: int) -> None:
        """Give every row's name column room for ``chars`` characters (names are not cut)."""
        if chars <= self.name_width:
            return
        self.name_width = chars
        for r in self.rows.values():
            r.set_name_width(chars)

    def _schedule_tick(self) -> None:
        if self.loop is not None and self._tick_handle is None and not self._closed:
            self._tick_handle = self.loop.call_later(self.tick, self._on_tick)

    def _on_tick(self) -> None:
        self._tick_handle = None
        running = [r for r in self.rows.values() if r.info.status is TaskStatus.RUNNING]
        for r in running:
            start = r.info.started_at
            r.elapsed.value = format_elapsed((utcnow() - start).total_seconds() if start else None)
        if running:
            self._schedule_tick()

    def close(self) -> None:
        """Stop following the feed (the widgets stay as they are)."""
        self._closed = True
        self._unsub()
        if self._tick_handle is not None:
            self._tick_handle.cancel()

    def finish(self, timeout: float = 0.0) -> None:
        """Stop following the feed (the final snapshots were applied already)."""
        self.close()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


# ---------------------------------------------------------------- without a manager


class ProgressView:
    """A :class:`~pipeline_kit.base._progress.Progress` that shows itself, for a call run
    directly rather than as a task (``pk.sweep(...)`` in a notebook cell).

    It renders the same row (widget) or lines (text) as a task's, from a snapshot it
    keeps up to date: percent, step, units with rate and ETA. ``finish`` records the end.
    """

    def __init__(self, label: str, *, mode: str | None = None, stream: TextIO | None = None,
                 interval: float = 2.0) -> None:
        import uuid

        self.mode = (mode or progress_mode()).lower()
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.stream = stream or (sys.stdout if _in_kernel() else sys.stderr)
        self.interval = interval
        self.info = TaskInfo(task_id=uuid.uuid4().hex, task_type=label,
                             status=TaskStatus.RUNNING, started_at=utcnow())
        self._started = time.monotonic()
        self._printed = 0.0
        self.row: _Row | None = None
        if self.mode == "widget":
            from IPython.display import display

            # a direct call holds the kernel, so a click could only land after the end
            self.row = _Row(None, self.info, len(label))
            display(self.row.box)
        self._render(force=True)

    def update(self, value: float | None = None, total: float | None = None, *,
               step: str | None = None, within: Span | None = None) -> None:
        """Record progress: a percentage or ``done, total`` units, and/or a step name."""
        changes: dict[str, Any] = {"updated_at": utcnow()}
        pct = to_percent(value, total, within)
        if pct is not None:
            changes["progress_percentage"] = pct
            done = float(value) if total is not None and value is not None else None
            elapsed = time.monotonic() - self._started
            changes.update(progress_done=done, progress_total=total,
                           progress_rate=done / elapsed if done and elapsed > 0 else None)
        if step is not None:
            changes["current_step"] = step
        self.info = self.info.replace(**changes)
        self._render()

    def check_cancelled(self) -> None:
        return None

    def finish(self, error: BaseException | None = None) -> None:
        """Mark the end: completed, or failed/cancelled with ``error``'s message."""
        if error is None:
            status, message = TaskStatus.COMPLETED, None
        else:
            cancelled = isinstance(error, TaskCancelled)
            status = TaskStatus.CANCELLED if cancelled else TaskStatus.FAILED
            message = str(error) or type(error).__name__
        pct = 100.0 if error is None else self.info.progress_percentage
        self.info = self.info.replace(status=status, error_message=message,
                                      progress_percentage=pct, completed_at=utcnow())
        self._render(force=True)

    def _render(self, force: bool = False) -> None:
        if self.row is not None:
            self.row.set(self.info)
        elif self.mode == "text":
            now = time.monotonic()
            if force or now - self._printed >= self.interval:
                self._printed = now
                self.stream.write(format_line(self.info) + "\n")
                self.stream.flush()


def with_progress(label: str) -> Any:
    """Decorate a function taking ``progress=`` so that, called without one, it shows a
    :class:`ProgressView` named ``label`` (``PIPELINE_KIT_PROGRESS=none``: nothing)."""
    import functools

    def wrap(fn: Any) -> Any:
        @functools.wraps(fn)
        def call(*args: Any, progress: Any = None, **kwargs: Any) -> Any:
            if progress is not None or progress_mode() == "none":
                return fn(*args, progress=progress, **kwargs)
            view = ProgressView(label)
            try:
                result = fn(*args, progress=view, **kwargs)
            except BaseException as e:
                view.finish(e)
                raise
            view.finish()
            return result

        return call

    return wrap


# ---------------------------------------------------------------- entry point


def show(
    manager: TaskManager,
    *,
    mode: str | None = None,
    select: TaskHandle | Iterable[str] | None = None,
    **kwargs: Any,
) -> TaskPanel | TextRenderer | TerminalBars | None:
    """Display a live view of ``manager``'s tasks (or of ``select``) in the right mode:
    text is tqdm bars on a terminal, lines for a log."""
    mode = (mode or progress_mode()).lower()
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "none":
        return None
    if mode == "widget":
        panel = TaskPanel(manager, select=select, **kwargs)
        from IPython.display import display

        display(panel.widget)
        return panel
    stream = kwargs.get("stream") or sys.stdout
    kind: Any = TerminalBars if _is_tty(stream) and not _in_kernel() else TextRenderer
    if kind is TerminalBars:
        kwargs = {k: v for k, v in kwargs.items() if k in ("stream", "summary", "tick", "clock")}
    if select is None:  # one text view of the whole manager is enough
        existing = _text_views.get(manager)
        if existing is not None and not existing._closed:
            return existing
        renderer = _text_views[manager] = kind(manager, **kwargs)
        return renderer
    return cast("TextRenderer | TerminalBars", kind(manager, select=select, **kwargs))


def _in_kernel() -> bool:
    """True inside an IPython kernel (JupyterLab, papermill): text goes to its stdout."""
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def follow(manager: TaskManager, handle: TaskHandle
           ) -> TaskPanel | TextRenderer | TerminalBars | None:
    """Show ``handle``'s progress the default way: a panel in JupyterLab, else text lines
    (stdout in a kernel, so papermill keeps them; stderr in scripts, beside their output);
    nothing with ``PIPELINE_KIT_PROGRESS=none``. For calls that made their own manager."""
    mode = progress_mode()
    if mode == "text":
        stream = sys.stdout if _in_kernel() else sys.stderr
        return show(manager, mode="text", select=handle, stream=stream)
    return show(manager, mode=mode, select=handle)


# The shared whole-manager text view of each manager (dies with its manager).
_text_views: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


class _Views:
    """This module as the task manager's view hook (see ``pipeline_kit.tasks._views``)."""

    show = staticmethod(show)
    follow = staticmethod(follow)

    @staticmethod
    def panel(manager: TaskManager, **kwargs: Any) -> TaskPanel:
        return TaskPanel(manager, **kwargs)


register_views(_Views())
