"""Behaviours that mutants once changed without any test noticing (see
tests/mutation/run_mutants.py): re-indexing is a no-op, an ambiguous run id is refused,
and each way of detecting a headless notebook run works on its own."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pipeline_kit.collection._collection import Collection
from pipeline_kit.collection._ingest import tables_from_texts
from pipeline_kit.pipeline._load_run import RunNotFoundError, load_run
from pipeline_kit.tasks import SQLiteTaskStore

TEXTS = ["Gutenberg printed his Bible in 1455 in Mainz.",
         "The press reached Venice, where Aldus printed small books."]


def test_indexing_a_run_again_changes_nothing(tmp_path):
    (tmp_path / "home" / "artifacts").mkdir(parents=True)
    coll = Collection(tmp_path / "home", index_dir=tmp_path / "idx", update=False)
    run = tables_from_texts("r1", "printing.wav", TEXTS, markers=True)
    assert coll.add_run(run) is True
    tables = ("runs", "chunks", "markers")
    before = {t: coll.table(t).drop(columns=["indexed_at"], errors="ignore") for t in tables}
    assert coll.add_run(run) is False
    assert coll.add_runs([run, run]) == 0
    for t in tables:
        after = coll.table(t).drop(columns=["indexed_at"], errors="ignore")
        assert after.equals(before[t]), t


def test_an_ambiguous_run_id_prefix_is_refused(tmp_path):
    store = SQLiteTaskStore(tmp_path / "tasks.sqlite3")
    try:
        for run_id in ("abc123", "abc456"):
            store.put_document("runs", run_id, {"run_id": run_id, "stages": []})
    finally:
        store.close()
    with pytest.raises(RunNotFoundError, match="'abc' is ambiguous.*abc123, abc456"):
        load_run("abc", home=tmp_path)
    assert load_run("abc4", home=tmp_path).run_id == "abc456"


PROBE = "from pipeline_kit.notebook._display import under_papermill; print(under_papermill())"
# Runs the probe as its child; the probe's code goes by environment, since on this
# process's command line its own words would name papermill.
LAUNCHER = ("import os, subprocess, sys\n"
            "subprocess.run([sys.executable, '-c', os.environ['PK_PROBE']], check=True)\n")


def _probe(env: dict[str, str], parent: Path | None = None) -> str:
    """``under_papermill()`` in a child of a launcher run as ``-c`` code, or as the
    script file ``parent`` (whose name then is on the child's parent command line)."""
    if parent is None:
        cmd = [sys.executable, "-c", LAUNCHER]
    else:
        parent.write_text(LAUNCHER)
        cmd = [sys.executable, str(parent)]
    out = subprocess.run(cmd, env={**env, "PK_PROBE": PROBE}, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAPERMILL")}


def test_papermill_is_detected_by_its_environment_alone():
    assert _probe(_clean_env()) == "False"
    assert _probe({**_clean_env(), "PAPERMILL_EXECUTION": "1"}) == "True"


def test_papermill_is_detected_by_its_parent_process_alone():
    with tempfile.TemporaryDirectory(prefix="parent") as tmp:
        assert _probe(_clean_env(), Path(tmp) / "launcher.py") == "False"
        assert _probe(_clean_env(), Path(tmp) / "papermill") == "True"
        assert _probe(_clean_env(), Path(tmp) / "nbclient") == "True"
