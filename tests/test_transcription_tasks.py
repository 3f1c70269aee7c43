"""Transcription as a task: cancel stops the CPU within 2 s, progress never goes quiet for 10 s.

The audio is 2+ minutes of real speech: the bundled sample's clips joined, repeated.
"""

from __future__ import annotations

import os
import threading
import time
import wave
from pathlib import Path

import psutil
import pytest

from pipeline_kit import transcribe
from pipeline_kit.base._progress import TaskCancelled
from pipeline_kit.stages._vad import BLOCK_WINDOWS, WINDOW
from pipeline_kit.tasks import TaskManager, TaskType

pytestmark = pytest.mark.slow
# After cancel the engine call in flight (encode, beam search or alignment of one
# piece: about 0.5-1 CPU s with tiny.en) may finish; nothing after it. Measured in
# CPU seconds, not wall time, because on a loaded machine that call gets a small
# share of the cores: on 2 idle cores 2 CPU s is 1 s of wall time.
CPU_AFTER_CANCEL = 2.0
IDLE = 0.1  # CPU seconds per second of a process that is only waiting


@pytest.fixture(scope="module")
def long_wav(sample_dir, tmp_path_factory) -> Path:
    """The Austen clips and their join, repeated to 2.7 minutes of one reader's speech."""
    clips = sorted(sample_dir.glob("*austen*.wav"))
    frames, params = [], None
    for clip in clips:
        with wave.open(str(clip)) as r:
            params = r.getparams()
            frames.append(r.readframes(r.getnframes()))
    path = tmp_path_factory.mktemp("long") / "long.wav"
    with wave.open(str(path), "wb") as w:
        w.setparams(params)
        for _ in range(3):
            w.writeframes(b"".join(frames))
    with wave.open(str(path)) as r:
        assert r.getnframes() / r.getframerate() >= 120
    return path


@pytest.fixture
def manager(tmp_path):
    m = TaskManager(store=tmp_path / "tasks.sqlite3")
    yield m
    m.close()


class Steps:
    """Every (time, step, percent) the manager publishes for one task."""

    def __init__(self, manager: TaskManager) -> None:
        self.events: list[tuple[float, str | None, float]] = []
        self.cond = threading.Condition()
        self.unsubscribe = manager.subscribe(self._on)

    def _on(self, info) -> None:
        with self.cond:
            self.events.append((time.monotonic(), info.current_step, info.progress_percentage))
            self.cond.notify_all()

    def wait_for(self, prefix: str, timeout: float = 300) -> None:
        with self.cond:
            ok = self.cond.wait_for(
                lambda: any(s and s.startswith(prefix) for _, s, _ in self.events), timeout)
        assert ok, f"no {prefix!r} step within {timeout} s: {self.events[-5:]}"


def cpu_seconds(proc: psutil.Process) -> float:
    """User + system CPU time of a process (all threads), 0 once it has exited."""
    try:
        t = proc.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return t.user + t.system


def assert_working(proc: psutil.Process) -> None:
    """The process is really computing: it uses 0.3 CPU s within 30 s (machine load varies)."""
    start, t0 = cpu_seconds(proc), time.monotonic()
    while cpu_seconds(proc) - start < 0.3:
        assert time.monotonic() - t0 < 30, "transcription is not using the CPU"
        time.sleep(0.1)


def assert_cpu_stops(proc: psutil.Process, cancelled_cpu: float) -> tuple[float, float]:
    """Wait until ``proc`` idles (a whole second under ``IDLE``); assert what it used.

    Returns (CPU seconds used after the cancel, wall seconds until it went idle).
    """
    t0 = time.monotonic()
    samples = [(t0, cpu_seconds(proc))]
    while time.monotonic() - t0 < 60:
        time.sleep(0.25)
        samples.append((time.monotonic(), cpu_seconds(proc)))
        window = [c for t, c in samples if t >= samples[-1][0] - 1.0]
        if samples[-1][0] - t0 >= 1.0 and window[-1] - window[0] < IDLE:
            break
    else:
        pytest.fail(f"still using CPU 60 s after cancel: {samples[-5:]}")
    stopped = next(t for t, c in samples if samples[-1][1] - c < IDLE)
    used = max(0.0, samples[-1][1] - cancelled_cpu) if samples[-1][1] else 0.0
    assert used < CPU_AFTER_CANCEL, f"{used:.2f} CPU s used after cancel"
    print(f"cancel -> CPU idle: {stopped - t0:.2f} s wall, {used:.2f} CPU s")
    return used, stopped - t0


def test_cancel_mid_transcription_stops_cpu_thread_executor(manager, long_wav):
    steps = Steps(manager)
    h = manager.submit(transcribe, str(long_wav), task_type=TaskType.TRANSCRIPTION)
    steps.wait_for("Transcribing segment")
    me = psutil.Process(os.getpid())
    assert_working(me)
    at_cancel = cpu_seconds(me)
    assert manager.cancel(h.task_id)
    assert_cpu_stops(me, at_cancel)
    with pytest.raises(TaskCancelled):
        h.result(timeout=10)


def test_cancel_mid_transcription_stops_cpu_process_executor(manager, long_wav):
    steps = Steps(manager)
    h = manager.submit(transcribe, str(long_wav), task_type=TaskType.TRANSCRIPTION,
                       executor="process")
    steps.wait_for("Transcribing segment")
    workers = [p for p in psutil.Process(os.getpid()).children(recursive=True)
               if "pipeline_kit.tasks._worker" in " ".join(p.cmdline())]
    assert len(workers) == 1, workers
    assert_working(workers[0])
    at_cancel = cpu_seconds(workers[0])
    assert manager.cancel(h.task_id)
    assert_cpu_stops(workers[0], at_cancel)
    with pytest.raises(TaskCancelled):
        h.result(timeout=10)


class Tee:
    """Forwards a stage's progress to the manager's reporter, keeping every step it sent."""

    def __init__(self, inner, steps: list[str | None]) -> None:
        self.inner, self.steps = inner, steps

    def update(self, value=None, total=None, *, step=None, within=None) -> None:
        self.steps.append(step)
        self.inner.update(value, total, step=step, within=within)

    def check_cancelled(self) -> None:
        self.inner.check_cancelled()


SENT: list[str | None] = []  # every step the teed transcription sent


def transcribe_teed(path: str, progress) -> object:
    return transcribe(path, progress=Tee(progress, SENT))


def test_progress_once_per_unit_of_work_with_units(manager, long_wav):
    """Progress comes at least once per VAD block (~30 s of audio) and once per engine
    call (``batch_size`` pieces): counted in units of work, never in seconds
    of wall clock, so the test holds on a busy machine."""
    SENT.clear()
    steps = Steps(manager)
    h = manager.submit(transcribe_teed, str(long_wav), task_type=TaskType.TRANSCRIPTION)
    t = h.result(timeout=900)
    steps.unsubscribe()
    assert t.words and t.metadata["vad_engine"] == "silero-vad-onnx"
    with wave.open(str(long_wav)) as r:
        blocks = -(-r.getnframes() // (BLOCK_WINDOWS * WINDOW))
    assert SENT.count("Detecting speech") >= blocks + 1  # the start, then every block
    calls = [tuple(map(int, s.split()[-1].split("/"))) for s in SENT
             if s and s.startswith("Transcribing segment")]
    assert calls and calls[-1][0] == calls[-1][1] == t.metadata["vad_segments"]
    done = [0] + [i for i, _ in calls]
    assert all(0 < b - a <= 8 for a, b in zip(done, done[1:], strict=False)), done
    named = {s.split(" ")[0] for _, s, _ in steps.events if s}
    assert {"Detecting", "Transcribing"} <= named  # VAD reports progress too
    transcribing = [p for _, s, p in steps.events if s and s.startswith("Transcribing segment")]
    assert len(transcribing) >= 3 and transcribing == sorted(transcribing)
