"""What ``pipeline-kit`` loads: the commands that only read the task store or print help
must not import a heavy library (each costs a terminal user a second or more per call).

Every command runs in a fresh interpreter, as from a terminal, which then lists the
heavy modules in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "pandas", "ipywidgets", "duckdb", "scipy", "sklearn", "spacy", "networkx",
         "sentence_transformers", "transformers", "matplotlib", "onnxruntime")
TASK_ID = "abcdef01" + "1" * 24
RUN_ID = "0123456789abcdef"

_PROBE = """
import json, sys
from pipeline_kit.faces.cli import main
argv = json.loads(sys.argv[1])
try:
    code = main(argv)
except SystemExit as e:  # --help and --version exit from argparse
    code = e.code
sys.stdout.flush()
print("\\nLOADED " + json.dumps({"code": code, "heavy": [m for m in json.loads(sys.argv[2])
                                                        if m in sys.modules]}))
"""


def run_cli(argv: list[str], cwd: Path, env: dict[str, str] | None = None
            ) -> tuple[int, list[str], str]:
    """Run the command in a new interpreter (with ``env`` added to the environment): its
    exit code, the heavy modules it had loaded at the end, and what it printed."""
    proc = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(argv), json.dumps(HEAVY)],
                          capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, **(env or {})})
    out, _, tail = proc.stdout.rpartition("\nLOADED ")
    assert tail, f"the probe did not finish: {proc.stderr[-2000:]}"
    found = json.loads(tail)
    return found["code"], found["heavy"], out + proc.stderr


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home whose store holds one finished task and one run record."""
    from pipeline_kit.tasks import TaskInfo, TaskStatus, open_store

    home = tmp_path / "home"
    home.mkdir()
    store = open_store(str(home / "tasks.sqlite3"))
    try:
        store.insert(TaskInfo(task_id=TASK_ID, task_type="speaker_diarization",
                              status=TaskStatus.COMPLETED))
        store.put_document("runs", RUN_ID, {
            "run_id": RUN_ID, "started_at": "2026-01-02T03:04:05+00:00",
            "finished_at": "2026-01-02T03:04:15+00:00", "outcome": "completed",
            "stages": ["transcription"], "cache_hits": [], "inputs": [{"path": "/audio/talk.wav"}]})
    finally:
        store.close()
    return home


@pytest.mark.parametrize("argv, shows, allowed", [
    (["--help"], "search the recordings", ()),
    (["--version"], "pipeline-kit ", ()),
    (["tasks", "--home", "{home}"], TASK_ID[:6], ()),
    (["runs", "--home", "{home}"], "talk.wav", ()),
    (["runs", "--home", "{home}", "--json"], RUN_ID, ()),
    (["status", TASK_ID[:8], "--home", "{home}"], TASK_ID, ()),
    # show decodes the run's artifacts with the stage codecs, the graph's with networkx
    (["show", RUN_ID[:8], "--home", "{home}"], "talk.wav", ("networkx",)),
])
def test_light_commands_load_no_heavy_library(home: Path, tmp_path: Path, argv: list[str],
                                               shows: str, allowed: tuple[str, ...]) -> None:
    argv = [a.replace("{home}", str(home)) for a in argv]
    code, heavy, out = run_cli(argv, tmp_path)
    assert code == 0, out
    assert shows in out  # the command did its work, not just fail early
    heavy = [m for m in heavy if m not in allowed]
    assert heavy == [], f"pipeline-kit {' '.join(argv)} imported {heavy}"


def test_run_help_still_lists_every_stage_parameter(tmp_path: Path) -> None:
    """The stage flags are added only when ``run`` or ``batch`` is parsed: they must be
    there then, in help and in parsing."""
    from pipeline_kit.pipeline._registry import REGISTRY

    for command in ("run", "batch"):
        code, _, out = run_cli([command, "--help"], tmp_path)
        assert code == 0, out
        for param in REGISTRY.params():
            assert param.flag in out, (command, param.flag)
    code, _, out = run_cli(["run", "x.wav", "--out", str(tmp_path), "--chunk-size", "0"],
                           tmp_path)
    assert code == 1 and "chunk_size must be an integer from 1" in out  # parsed, then checked
