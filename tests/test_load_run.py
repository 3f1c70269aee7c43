"""pk.load_run: an earlier run back as the PipelineResult that made it."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

import pipeline_kit as pk
from pipeline_kit.pipeline._registry import REGISTRY
from pipeline_kit.stages._graph_query import to_node_link_json
from pipeline_kit.tasks import TaskManager

REPO = Path(__file__).resolve().parents[1]
WAV = REPO / "data" / "sample" / "austen_sample.wav"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    home = tmp_path_factory.mktemp("load-run-home")
    with TaskManager(store=home / "tasks.sqlite3") as m:
        result = pk.run_pipeline(WAV, manager=m, home=home, out_dir=home / "out",
                                 chunking_method="tfidf")
    return home, result


def _assert_same(a: pk.PipelineResult, b: pk.PipelineResult, stages: set[str] | None = None
                 ) -> None:
    def untimed(t):
        return dataclasses.replace(t, processing_time_seconds=0.0)

    assert a.run_id == b.run_id
    assert untimed(a.transcript) == untimed(b.transcript)
    assert a.chunks == b.chunks and a.chapters == b.chapters and a.questions == b.questions
    assert to_node_link_json(a.graph) == to_node_link_json(b.graph)
    assert set(a.values) == (stages or set(REGISTRY.default_names()))  # diarization: asked only


def test_load_from_the_output_folder_and_its_run_json(run):
    home, first = run
    _assert_same(pk.load_run(home / "out"), first)
    loaded = pk.load_run(home / "out" / "run.json")
    _assert_same(loaded, first)
    assert loaded.out_dir == home / "out"


def test_load_by_run_id_and_by_a_unique_prefix(run):
    home, first = run
    _assert_same(pk.load_run(first.run_id, home=home), first)
    _assert_same(pk.load_run(first.run_id[:8], home=home), first)


def test_a_folder_without_its_artifact_cache_loads_from_its_exports(run, tmp_path):
    home, first = run
    copy = shutil.copytree(home / "out", tmp_path / "copied")
    record = json.loads((copy / "run.json").read_text())
    record["home"] = str(tmp_path / "gone")  # the cache it was made with is not here
    (copy / "run.json").write_text(json.dumps(record))
    exported = {s.name for s in pk.REGISTRY.specs()
                if s.export_json and s.name in first.run_record["stages"]}
    assert "upload" not in exported  # the audio record lives in the home's library only
    _assert_same(pk.load_run(copy), first, exported)


def test_missing_exports_leave_that_stage_absent(run, tmp_path):
    home, first = run
    copy = shutil.copytree(home / "out", tmp_path / "partial")
    record = json.loads((copy / "run.json").read_text())
    record["home"] = str(tmp_path / "gone")
    (copy / "run.json").write_text(json.dumps(record))
    (copy / "questions.json").unlink()
    loaded = pk.load_run(copy)
    assert loaded.questions is None
    assert loaded.chunks == first.chunks


@pytest.mark.parametrize("source, needle", [
    ("no-such-run", "no run 'no-such-run'"),
    ("", "not a run's output folder"),
    ("/definitely/not/here", "does not exist"),
])
def test_what_is_not_a_run_is_a_clear_error(run, source, needle):
    home, _ = run
    with pytest.raises(pk.RunNotFoundError, match=needle):
        pk.load_run(source, home=home)


def test_a_home_without_a_store_is_a_clear_error(tmp_path):
    with pytest.raises(pk.RunNotFoundError, match="no run store"):
        pk.load_run("abc123", home=tmp_path)
