"""Terminal progress: tqdm bars on a TTY, sparse lines in a log, ETAs that never rise."""

from __future__ import annotations

import io
import re
import time
from datetime import timedelta

import pytest
import task_fixtures as fx

from pipeline_kit.notebook import _display as D
from pipeline_kit.tasks import TaskInfo, TaskManager, TaskStatus, TaskType
from pipeline_kit.tasks._types import utcnow


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Feed:
    """The part of a TaskManager a renderer uses: a feed of snapshots, fed by the test."""

    closed = False

    def __init__(self) -> None:
        self.callbacks: list = []

    def subscribe(self, cb):
        self.callbacks.append(cb)
        return lambda: None

    def snapshots(self):
        return []

    def call_soon(self, fn, *args):
        fn(*args)

    def publish(self, info: TaskInfo) -> None:
        for cb in self.callbacks:
            cb(info)


@pytest.fixture
def tm(tmp_path):
    with TaskManager(tmp_path / "tasks.sqlite3", progress_interval=0.01) as m:
        yield m


def test_eta_never_rises_within_a_phase_and_restarts_for_a_new_one():
    clock = Clock()
    eta = D.MonotoneEta(clock, warmup=2.0)
    shown = {}
    # fast first half (10 %/s: speech detection), then slow (1 %/s: decoding)
    for t in range(0, 50):
        clock.now = float(t)
        if t <= 5:
            pct, step = 10.0 * t, "Detecting speech"
        else:
            pct, step = 50.0 + (t - 5), f"Transcribing segment {t}/49"
        shown[t] = eta.update(pct, step)
    assert shown[0] is None and shown[1] is None  # nothing before the warm-up
    fast = [shown[t] for t in range(2, 6)]
    assert all(v is not None for v in fast) and fast == sorted(fast, reverse=True)
    assert shown[6] is None and shown[7] is None  # a new phase: its own warm-up, no jump
    slow = [shown[t] for t in range(8, 50)]
    assert slow == sorted(slow, reverse=True)
    assert shown[30] == pytest.approx(100 - 75, abs=0.5)  # 1 %/s, at 75 %: 25 s left
    # within one phase, a slow-down holds the ETA instead of raising it
    clock.now += 1
    held = eta.update(77.0, "Transcribing segment 50/49")
    assert held is not None and held <= slow[-1]
    assert eta.update(100.0, "done") is None


def test_log_lines_are_sparse_and_stage_lines_replace_the_runs():
    clock, feed, out = Clock(), Feed(), io.StringIO()
    r = D.TextRenderer(feed, stream=out, interval=10.0, heartbeat=1e9, clock=clock)
    start = utcnow()
    parent = TaskInfo(task_id="p" * 32, task_type="pipeline", status=TaskStatus.RUNNING,
                      started_at=start, metadata={"run_id": "1234abcd" * 4, "audio": "a.wav"})
    child = TaskInfo(task_id="c" * 32, task_type="transcription", status=TaskStatus.PENDING,
                     parent_id=parent.task_id)
    feed.publish(parent)
    feed.publish(child)
    child = child.replace(status=TaskStatus.RUNNING, started_at=start)
    feed.publish(child)
    for t in range(1, 61):  # a minute of updates, every second, parent and child
        clock.now = float(t)
        child = child.replace(progress_percentage=t * 1.5, progress_done=t * 2.0,
                              progress_total=150.0, current_step="Transcribing",
                              updated_at=start + timedelta(seconds=t))
        feed.publish(child)
        feed.publish(parent.replace(progress_percentage=t * 1.2, current_step="transcription"))
    feed.publish(child.replace(status=TaskStatus.COMPLETED, progress_percentage=100.0,
                               completed_at=utcnow(), current_step="Transcription done"))
    feed.publish(parent.replace(status=TaskStatus.COMPLETED, progress_percentage=100.0,
                                completed_at=utcnow()))
    r.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "== run 1234abcd: a.wav"
    table = lines.index(next(x for x in lines if x.startswith("task ")))
    body = lines[1:table]
    assert not any("pending" in x for x in body)
    # parent start, child start, child end, parent end + at most one line per 10 s
    assert 4 <= len(body) <= 4 + 60 // 10, body
    progress = [x for x in body if "running" in x][2:]
    assert progress and all("transcription " in x for x in progress)  # not the run's row
    assert all(" s audio" in x for x in progress)  # counts carry their unit
    etas = [int(m.group(1)) for x in progress if (m := re.search(r"ETA (\d+)s", x))]
    assert etas and etas == sorted(etas, reverse=True)
    assert not any("done" in x and "ETA" in x for x in body)


def test_a_finished_step_reports_no_stale_units_or_eta(tm):
    h = tm.submit(fx.units_then_done, "stale", task_type=TaskType.TRANSCRIPTION)
    assert fx.event("stale.started").wait(10)
    deadline = time.monotonic() + 10
    while (info := tm.get_task_status(h.task_id)).current_step != "Transcription done":
        assert time.monotonic() < deadline, info
        time.sleep(0.01)
    fx.event("stale.release").set()
    h.result(10)
    assert info.current_step == "Transcription done" and info.progress_percentage == 100
    assert info.progress_done is None and info.eta is None
    assert "ETA" not in D.format_line(info) and "5/10" not in D.format_line(info)


def test_terminal_bars_redraw_in_place_and_leave_one_line_per_task(tm):
    out = io.StringIO()
    view = D.TerminalBars(tm, stream=out, tick=0.05)
    h = tm.submit(fx.pipeline, 2, task_type=TaskType.PIPELINE)
    h.result(10)
    view.finish()
    text = out.getvalue()
    assert "\r" in text  # bars are redrawn in place
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)  # cursor moves between the bars
    lines = [x.rsplit("\r", 1)[-1] for x in plain.split("\n")]
    done = [x for x in lines if re.match(r"\[100%\] \S+ +[0-9a-f]{6}  completed", x)]
    assert len(done) == 3  # the run and its two stages, each once
    assert sum(x.startswith("task ") for x in lines) == 1  # one summary
    assert "pending" not in text.split("task ")[0]


def test_show_picks_bars_for_a_terminal_and_lines_for_a_log(tm):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    bars = D.show(tm, mode="text", stream=Tty(), select=[])
    lines = D.show(tm, mode="text", stream=io.StringIO(), select=[])
    assert isinstance(bars, D.TerminalBars) and isinstance(lines, D.TextRenderer)
    bars.close()
    lines.close()


def test_panel_step_wraps_shows_in_full_on_hover_and_the_run_row_has_an_eta(tm):
    clock = Clock()
    panel = D.TaskPanel(tm, loop=None, clock=clock)
    start = utcnow()
    run = TaskInfo(task_id="r" * 32, task_type="pipeline", status=TaskStatus.RUNNING,
                   started_at=start, metadata={"audio": "talk.wav"})
    long_step = "chunking: Splitting sentences of a long transcript into topic segments"
    for t in range(0, 12):
        clock.now = float(t)
        step = "transcription: Transcribing segment 3/9" if t < 6 else long_step
        panel._apply(run.replace(progress_percentage=5.0 * t, current_step=step,
                                 updated_at=start + timedelta(seconds=t)))
    row = panel.rows[run.task_id]
    # a run's phase is its stage: chunking went from 30 % to 55 % in 5 s, 9 s left
    assert re.search(r"ETA 9s$", row.text), row.text
    assert row.text.startswith(long_step)  # the whole step, never cut
    assert f'title="{long_step}' in row.step.value and "white-space:normal" in row.step.value
    panel.close()


def test_a_batch_notebook_header_names_the_file_not_pipeline():
    info = TaskInfo(task_id="b" * 32, task_type="pipeline", status=TaskStatus.RUNNING,
                    metadata={"batch": "/out", "audio": "/in/talk one.wav", "name": "talk_one"})
    assert D.run_header(info) == "batch notebook: talk one.wav"
    run = info.replace(metadata={**info.metadata, "run_id": "1a2b3c4d" * 4})
    assert D.run_header(run) == "run 1a2b3c4d: talk one.wav"  # pipeline mode: the run
