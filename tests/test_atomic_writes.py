"""A writer killed mid-write never leaves a partial file for a reader.

A real writer process saves an artifact; a fault injected at its file-write call writes
half the bytes and stops there (as a crash or a full disk would), the reader looks, and
the writer is killed with SIGKILL. The atomic write itself (temp file, rename) is the
real code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_kit.pipeline._artifacts import ArtifactCache

WRITER = r"""
import sys, time
from pipeline_kit.base import _fs
from pipeline_kit.pipeline._artifacts import ArtifactCache

cache = ArtifactCache(sys.argv[1])
version = lambda v: {"v": v, "rows": [[v, i, "x" * 40] for i in range(20_000)]}
if sys.argv[2] == "update":
    cache.save("stage", "key", version(1))
real_write_all = _fs.write_all

def half_then_hang(f, data):
    real_write_all(f, data[: len(data) // 2])
    print("half", flush=True)
    time.sleep(600)

_fs.write_all = half_then_hang
cache.save("stage", "key", version(2))
"""


def _read_whole(path: Path) -> int | None:
    """The version stored at ``path`` (None when absent); fails on a partial file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(text)  # a torn file raises here
    assert len(data["rows"]) == 20_000
    return int(data["v"])


@pytest.mark.parametrize("case, before", [("first", None), ("update", 1)])
def test_a_writer_killed_mid_write_leaves_the_old_file_or_none(tmp_path, case, before):
    cache = ArtifactCache(tmp_path)
    target = cache.path("stage", "key")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), case],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "half"
        assert _read_whole(target) == before  # mid-write: the old file, or none at all
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert _read_whole(target) == before
    assert cache.load("stage", "key") == (None if before is None else
                                          json.loads(target.read_text()))
    assert cache.recover()  # the killed writer's temp file is swept
    assert [p.name for p in target.parent.iterdir()] == ([target.name] if before else [])
