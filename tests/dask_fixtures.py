"""Importable task functions for tests/test_tasks_dask.py (they run on Dask workers)."""

from __future__ import annotations

import os
import time


def whoami(x: int, progress=None) -> dict:
    for i in range(3):
        progress.update(i + 1, 3, step=f"step {i + 1}")
        time.sleep(0.3)
    return {"pid": os.getpid(), "x": x * 2}


def second_part(progress=None) -> str:
    """3 of 8 units of a step that fills 50..100 % of the bar."""
    progress.update(3, 8, step="second part", within=(50.0, 100.0))
    return "ok"


def slow(marker: str, progress=None) -> str:
    """Runs ~5 s in small steps, then writes ``marker`` (which a cancel must prevent);
    ``<marker>.ended`` tells that it stopped, either way."""
    try:
        for i in range(100):
            progress.update(i, 100, step="working")
            time.sleep(0.05)
        open(marker, "w").close()
        return "done"
    finally:
        open(marker + ".ended", "w").close()


def die_once(marker: str, progress=None) -> int:
    """First attempt: write its pid to ``marker`` and wait to be killed; later ones return."""
    if not os.path.exists(marker):
        with open(marker, "w") as f:
            f.write(str(os.getpid()))
        for _ in range(600):
            progress.update(step="waiting to be killed")
            time.sleep(0.05)
    return os.getpid()


def engine_identity() -> list:
    """(worker pid, id of the cached Whisper engine): the same per process if cached."""
    from pipeline_kit.stages._transcription import load_engine

    return [os.getpid(), id(load_engine())]


def noop() -> None:
    return None


def transcribe_json(path: str) -> dict:
    """Importable, JSON-returning wrapper for the benchmark."""
    from pipeline_kit.stages._transcription import transcribe

    return transcribe(path).to_dict()
