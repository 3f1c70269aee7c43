"""The stage registry: a stage declared only here runs through every face.

``word_stats`` (long words per chunk, after chunking) is registered by a fixture in
this process, and by importing this module as a plug-in (``$PIPELINE_KIT_PLUGINS``)
in any other. Nothing outside this file knows it. Tests of internals: they import
``pipeline_kit.pipeline._registry`` and ``pipeline_kit.pipeline._pipeline`` on purpose.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

import pipeline_kit as pk
from pipeline_kit.base._params import Param
from pipeline_kit.pipeline._pipeline import stage_keys
from pipeline_kit.pipeline._registry import (
    PLUGINS_ENV,
    REGISTRY,
    Codec,
    RunParams,
    StageCall,
    StageSpec,
)

REPO = Path(__file__).resolve().parents[1]
WAV = REPO / "data" / "sample" / "austen_sample.wav"
MIN_LEN = Param("min_word_length", int, 4, "shortest word counted as long", minimum=1, maximum=50)


def long_words(chunks: list[Any], min_len: int) -> list[dict[str, Any]]:
    """The toy stage's work: per chunk, its words of at least ``min_len`` letters."""
    out = []
    for c in chunks:
        words = [w for w in re.findall(r"[A-Za-z']+", c.text) if len(w) >= min_len]
        out.append({"chunk_id": c.chunk_id, "long_words": len(words)})
    return out


def _run_word_stats(call: StageCall) -> list[dict[str, Any]]:
    call.progress.update(0, 1, step="counting")
    return long_words(call.inputs["chunking"], call.params["min_word_length"])


TOY = StageSpec(
    name="word_stats", task_type="word_stats", run=_run_word_stats,
    codec=Codec(encode=list, decode=list), sources=(__name__,), result_attr="word_stats",
    weight=1, seconds_per_audio_second=0.0001, depends=("chunking",), params=(MIN_LEN,),
    description="long words per chunk (a test stage)")

if __name__ in os.environ.get(PLUGINS_ENV, "").split(","):
    REGISTRY.register(TOY)


@pytest.fixture
def toy():
    REGISTRY.register(TOY)
    try:
        yield TOY
    finally:
        REGISTRY.unregister(TOY.name)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("registry-home")


def test_toy_stage_runs_caches_and_reruns_alone(toy, home, tmp_path):
    r = pk.run_pipeline(WAV, ["word_stats"], home=home, out_dir=tmp_path / "a",
                        chunking_method="tfidf")
    before = ["upload", "transcription", "chunking"]  # diarization runs only when asked
    assert r.run_record["stages"] == [*before, "word_stats"]
    assert r.word_stats == long_words(r.chunks, 4) and len(r.word_stats) == len(r.chunks)
    assert any(row["long_words"] > 0 for row in r.word_stats)
    saved = json.loads((tmp_path / "a" / "word_stats.json").read_text())
    assert saved == r.word_stats
    assert r.run_record["parameters"]["min_word_length"] == 4
    summaries = r.run_record["stage_summaries"]
    assert summaries["chunking"] == {"chunks": len(r.chunks)}
    assert summaries["transcription"]["words"] == len(r.transcript.words) > 0
    assert summaries["transcription"]["model"]["name"] == r.transcript.model.name
    assert "note" not in summaries["transcription"]

    again = pk.run_pipeline(WAV, ["word_stats"], home=home, out_dir=tmp_path / "b",
                            chunking_method="tfidf")
    assert again.run_record["cache_hits"] == [*before, "word_stats"]

    changed = pk.run_pipeline(WAV, ["word_stats"], home=home, out_dir=tmp_path / "c",
                              chunking_method="tfidf", min_word_length=7)
    assert changed.run_record["cache_hits"] == before
    assert changed.word_stats == long_words(changed.chunks, 7) != r.word_stats


def test_toy_stage_parameter_is_checked_before_work(toy, home, tmp_path):
    with pytest.raises(ValueError, match="min_word_length must be an integer from 1 to 50"):
        pk.run_pipeline(WAV, ["word_stats"], home=home, out_dir=tmp_path / "x",
                        min_word_length=51)
    assert not (tmp_path / "x").exists()


def test_toy_stage_through_the_cli(toy, home, tmp_path, capsys):
    from pipeline_kit.faces.cli import main

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    helptext = capsys.readouterr().out
    assert "--min-word-length" in helptext and "(default: 4)" in helptext
    out = tmp_path / "cli"
    rc = main(["run", str(WAV), "--out", str(out), "--home", str(home), "--stages", "word_stats",
               "--method", "tfidf", "--min-word-length", "6", "--quiet"])
    assert rc == 0, capsys.readouterr().err
    chunks = pk.Chunk  # decoded from the run's own chunks file
    saved_chunks = [chunks.from_dict(d) for d in json.loads((out / "chunks.json").read_text())]
    assert json.loads((out / "word_stats.json").read_text()) == long_words(saved_chunks, 6)
    assert main(["run", str(WAV), "--out", str(out), "--home", str(home), "--stages",
                 "word_stats", "--min-word-length", "0"]) == 1
    assert "min_word_length must be an integer from 1 to 50, got 0" in capsys.readouterr().err


def test_toy_stage_through_the_api_result_route(toy, home, tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from pipeline_kit.faces.api import ApiLimits, create_app

    app = create_app(home=tmp_path / "api", token=None, limits=ApiLimits())
    with TestClient(app) as client:
        data = WAV.read_bytes()
        up = client.post("/audio/uploads", json={"filename": WAV.name, "total_size": len(data),
                                                 "expected_chunks": 1})
        assert up.status_code in (200, 201), up.text
        upload_id = up.json()["upload_id"]
        assert client.put(f"/audio/uploads/{upload_id}/chunks/0", content=data).status_code < 300
        done = client.post(f"/audio/uploads/{upload_id}/complete")
        assert done.status_code == 202, done.text
        _wait(client, done.json()["task_id"])
        audio_id = done.json()["audio_id"]
        schema = client.get("/openapi.json").json()
        props = schema["components"]["schemas"]["ProcessRequest"]["properties"]
        assert props["min_word_length"]["maximum"] == 50
        started = client.post(f"/audio/{audio_id}/process",
                              json={"stages": ["word_stats"], "chunking_method": "tfidf",
                                    "min_word_length": 5})
        assert started.status_code == 202, started.text
        assert started.json()["stages"][-1] == "word_stats"
        _wait(client, started.json()["task_id"])
        got = client.get(f"/audio/{audio_id}/word_stats")
        assert got.status_code == 200, got.text
        chunks = client.get(f"/audio/{audio_id}/chunks").json()["chunks"]
        expected = long_words([pk.Chunk.from_dict(c) for c in chunks], 5)
        assert got.json()["word_stats"] == expected


def _wait(client: Any, task_id: str, timeout: float = 600) -> dict[str, Any]:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = client.get(f"/tasks/{task_id}/status").json()
        if status["status"] in ("completed", "failed", "cancelled"):
            assert status["status"] == "completed", status
            return status
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish in {timeout} s")


# ----------------------------------------------------------------------------- cache keys

def _other_value(p: Param, tmp_path: Path) -> Any:
    """A valid value of ``p`` that differs from its default (and from what it stands for)."""
    if p.name == "model":  # another model folder: its identity (name + weights hash) differs
        folder = tmp_path / "other-whisper"
        folder.mkdir(exist_ok=True)
        (folder / "model.bin").write_bytes(b"not the bundled weights")
        return str(folder)
    if p.name == "diarization_model":  # a local pyannote pipeline folder (its config)
        folder = tmp_path / "other-pyannote"
        folder.mkdir(exist_ok=True)
        (folder / "config.yaml").write_text("pipeline:\n  name: other\n")
        return str(folder)
    if p.choices:
        return next(c for c in p.choices if c != p.default)
    if p.kind is str:
        return "en" if p.name == "language" else "other"
    if p.kind is bool:
        return not p.default
    base = p.default if p.default is not None else p.minimum
    step = 1 if p.kind is int else 0.5
    return base + step if p.maximum is None or base + step <= p.maximum else base - step


@pytest.mark.parametrize("param", [p.name for p in REGISTRY.params()])
def test_changing_one_parameter_changes_its_stage_and_dependents_only(param, tmp_path):
    """Every declared parameter reaches its stage's cache key, and nothing else's."""
    stages = REGISTRY.names()
    base = stage_keys(stages, "a" * 64, RunParams())
    p = next(x for x in REGISTRY.params() if x.name == param)
    changed = stage_keys(stages, "a" * 64, RunParams({param: _other_value(p, tmp_path)}))
    owner = REGISTRY.param_owner()[param].name
    expected = {owner, *REGISTRY.dependents(owner)}
    assert {s for s in stages if base[s] != changed[s]} == expected


def test_changing_the_audio_changes_every_stage_that_reads_it(tmp_path):
    stages = REGISTRY.names()
    base = stage_keys(stages, "a" * 64, RunParams())
    other = stage_keys(stages, "b" * 64, RunParams())
    readers = [s.name for s in REGISTRY.specs() if s.reads_audio]
    expected = {*readers, *(d for r in readers for d in REGISTRY.dependents(r))}
    assert {s for s in stages if base[s] != other[s]} == expected == set(stages)


# ----------------------------------------------------------------------------- declarations

def test_a_bad_declaration_fails_when_declared():
    with pytest.raises(TypeError):
        StageSpec(name="x", task_type="x", run=_run_word_stats)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="source module 'no_such_module' not found"):
        StageSpec(name="x", task_type="x", run=_run_word_stats, codec=Codec(list, list),
                  sources=("no_such_module",), result_attr="x", weight=1,
                  seconds_per_audio_second=0)
    with pytest.raises(TypeError, match="needs an upper bound"):
        Param("n", int, 1, "a number")
    with pytest.raises(ValueError, match="must be an integer from 1 to 5"):
        Param("n", int, 9, "a number", minimum=1, maximum=5)
    orphan = StageSpec(name="orphan", task_type="orphan", run=_run_word_stats,
                       codec=Codec(list, list), sources=(__name__,), result_attr="orphan",
                       weight=1, seconds_per_audio_second=0, depends=("nope",))
    with pytest.raises(TypeError, match="depends on unregistered stage"):
        REGISTRY.register(orphan)
    clash = StageSpec(name="clash", task_type="clash", run=_run_word_stats,
                      codec=Codec(list, list), sources=(__name__,), result_attr="clash",
                      weight=1, seconds_per_audio_second=0, params=(Param(
                          "chunk_size", int, 1, "again", minimum=1, maximum=2),))
    with pytest.raises(TypeError, match="parameter 'chunk_size' is declared by stage"):
        REGISTRY.register(clash)
    assert "orphan" not in REGISTRY.names() and "clash" not in REGISTRY.names()


def test_one_integer_rule_for_every_face():
    import numpy as np

    assert RunParams(chunk_size=np.int64(200))["chunk_size"] == 200
    assert type(RunParams(chunk_size=np.int64(200))["chunk_size"]) is int
    for bad in (True, 1.5, "150", 10**9, 0):
        with pytest.raises(ValueError, match="chunk_size must be an integer from 1 to 10000"):
            RunParams(chunk_size=bad)
    with pytest.raises(ValueError, match="chunk_size must be an integer from 1 to 10000"):
        pk.create_semantic_chunks("Some text. More text.", chunk_size=10**9)
    with pytest.raises(ValueError, match="unknown parameter"):
        RunParams(chunk_sise=100)


def test_notebook_01_parameters_match_the_registry():
    import papermill

    declared = papermill.inspect_notebook(str(REPO / "notebooks" / "01_run_pipeline.ipynb"))
    defaults = {p.name: p.default for p in REGISTRY.params()}
    shared = set(declared) & set(defaults)
    assert {"chunk_size", "overlap", "chunking_method", "model"} <= shared
    for name in shared:
        assert ast.literal_eval(declared[name]["default"]) == defaults[name], name
    assert "stage_params" in declared  # every other parameter reaches run_pipeline by name
