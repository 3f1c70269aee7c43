"""The whole pipeline on the bundled sample: tasks, cache, run records, crash recovery."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pk_test_slow_stage import slow_stage_env
from wavdata import write_scaled_wav

from pipeline_kit.ingest._upload import file_sha256
from pipeline_kit.pipeline._pipeline import run_pipeline, run_pipeline_async, runs
from pipeline_kit.pipeline._registry import REGISTRY
from pipeline_kit.stages._graph_query import to_node_link_json
from pipeline_kit.tasks import TaskManager, TaskStatus, TaskType

REPO = Path(__file__).resolve().parents[1]
WAV = REPO / "data" / "sample" / "austen_sample.wav"


def stage_names() -> list[str]:
    """The stages a run without ``stages`` runs (diarization only when asked)."""
    return REGISTRY.default_names()


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pipeline-home")


@pytest.fixture(scope="module")
def manager(home):
    m = TaskManager(store=home / "tasks.sqlite3")
    yield m
    m.close()


@pytest.fixture(scope="module")
def first(home, manager):
    """One uninterrupted full run (tfidf chunking), shared by the tests of this module."""
    return run_pipeline(WAV, manager=manager, home=home, out_dir=home / "out1",
                        chunking_method="tfidf")


def _same(a, b) -> None:
    # processing_time_seconds is a measurement of the run, not part of the result
    def untimed(t):
        return dataclasses.replace(t, processing_time_seconds=0.0)

    assert untimed(a.transcript) == untimed(b.transcript)
    assert a.chunks == b.chunks
    assert a.chapters == b.chapters
    assert a.questions == b.questions
    assert to_node_link_json(a.graph) == to_node_link_json(b.graph)


def test_full_pipeline_results_are_consistent(first, home):
    r = first
    t = r.transcript
    assert t.words and t.segments and t.text.strip()
    assert t.audio_sha256 == file_sha256(WAV)
    n = len(t.words)
    assert r.chunks and r.chunks[0].start_word_index == 0 and r.chunks[-1].end_word_index == n
    for c in r.chunks:
        assert 0 <= c.start_word_index < c.end_word_index <= n
        assert c.start_time <= c.end_time
    ids = {c.chunk_id for c in r.chunks}
    assert r.chapters and all(set(ch.chunk_ids) <= ids for ch in r.chapters)
    # The 27 s Austen reading gives no parser question (its one named subject is misparsed,
    # the rest are "he"; issue 28 notes): only their consistency is checked here.
    assert isinstance(r.questions, list)
    assert all(q.chunk_id in ids for q in r.questions if q.chunk_id)
    assert r.graph.number_of_nodes() > 0

    rec = r.run_record
    assert rec["run_id"] == r.run_id and rec["outcome"] == "completed"
    assert rec["inputs"][0]["sha256"] == file_sha256(WAV)
    assert rec["parameters"]["chunk_size"] == 150
    assert rec["parameters"]["chunking_method"] == "tfidf"
    assert rec["model"]["name"] and rec["model"]["weights_sha256"]
    assert {"pipeline_kit", "whisperx", "faster-whisper", "sentence-transformers",
            "scikit-learn", "networkx", "torch"} <= set(rec["versions"])
    assert set(rec["stage_seconds"]) == set(stage_names())
    assert rec["cache_hits"] == []
    for stage, key in rec["artifact_keys"].items():
        assert (home / "artifacts" / stage / f"{key}.json").is_file()

    out = r.out_dir
    for name in ("run.json", "transcript.json", "transcript.srt", "transcript.vtt",
                 "transcript.txt", "chunks.json", "graph.graphml", "chapters.json",
                 "questions.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "run.json").read_text())["run_id"] == r.run_id
    df = runs(home)
    assert r.run_id in set(df["run_id"])


def test_stage_tasks_are_children_of_the_pipeline_task(first, manager):
    df = manager.tasks()
    rec = first.run_record
    mine = df.metadata.map(lambda m: m.get("run_id") == rec["run_id"])
    parent = df[(df.task_type == "pipeline") & mine]
    assert len(parent) == 1
    parent = parent.iloc[0]
    assert parent.status == "completed" and parent.progress_percentage == 100
    kids = df[df.parent_id == parent.task_id]
    assert sorted(kids.task_type) == sorted(str(t) for t in (
        TaskType.AUDIO_UPLOAD_PROCESSING, TaskType.TRANSCRIPTION,  # no diarization unasked
        TaskType.SEMANTIC_CHUNKING, TaskType.GRAPH_GENERATION, TaskType.CHAPTER_ANALYSIS,
        TaskType.QUESTION_GENERATION))
    assert set(kids.status) == {"completed"}
    assert set(rec["stage_tasks"].values()) == set(kids.task_id)


def test_unchanged_rerun_is_all_cache_hits(first, home, manager):
    again = run_pipeline(WAV, manager=manager, home=home, out_dir=home / "out2",
                         chunking_method="tfidf")
    assert again.run_id != first.run_id
    assert again.run_record["cache_hits"] == stage_names()
    _same(first, again)
    for task_id in again.run_record["stage_tasks"].values():
        info = manager.get_task_status(task_id)
        assert info.status is TaskStatus.COMPLETED and info.current_step == "cached"


def test_chunk_size_change_reruns_only_downstream(first, home, manager):
    r = run_pipeline(WAV, manager=manager, home=home, chunking_method="tfidf",
                     chunk_size=60, overlap=10)
    assert r.run_record["cache_hits"] == ["upload", "transcription"]
    assert r.transcript == first.transcript
    assert r.chunks != first.chunks and all(c.word_count <= 60 for c in r.chunks)
    assert r.out_dir == home / "runs" / r.run_id and (r.out_dir / "run.json").is_file()


# One parameter changed alone (the rest as in `first`): the stages run for it, then the
# stages its result reaches and the cache hits expected of those (upload and transcription
# depend only on the audio and the model). Batch size and language would re-transcribe,
# which the transcription tests cover.
ONE_CHANGE = [
    ({"chunk_size": 60}, ["chunking"], ["upload", "transcription"]),
    ({"overlap": 10}, ["chunking"], ["upload", "transcription"]),
    ({"chunking_method": "fixed"}, ["chunking"], ["upload", "transcription"]),
    ({"top_concepts": 12}, ["graph"], ["upload", "transcription", "chunking", "chapters"]),
    ({"min_sentences": 2}, ["chapters", "graph"], ["upload", "transcription", "chunking"]),
    ({"max_questions": 3}, ["questions"],
     ["upload", "transcription", "chunking", "chapters", "graph"]),
    # a speaker count asks for diarization (off by default), and the stages using it rerun
    ({"num_speakers": 2}, ["diarization"], ["upload", "transcription"]),
    ({"num_speakers": 1}, ["diarization", "chunking"], ["upload", "transcription"]),
]


@pytest.mark.parametrize(("change", "stages", "hits"), ONE_CHANGE,
                         ids=[next(iter(c)) for c, _, _ in ONE_CHANGE])
def test_one_parameter_changed_alone_reruns_its_stage(first, home, manager, change, stages,
                                                       hits):
    params = {"chunking_method": "tfidf", **change}
    r = run_pipeline(WAV, stages, manager, home=home, **params)
    assert r.run_record["cache_hits"] == hits, r.run_record["stages"]
    assert set(r.run_record["stages"]) - set(hits) >= set(stages)


def test_alias_pulls_in_needed_stages(first, home, manager):
    r = run_pipeline(WAV, ["semantic_chunking"], manager, home=home, chunking_method="tfidf")
    assert r.run_record["stages"] == ["upload", "transcription", "chunking"]
    assert r.chunks == first.chunks and r.graph is None and r.questions is None
    assert not (r.out_dir / "graph.graphml").exists()


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"stages": ["transcription", "bogus"]}, "question_generation"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"overlap": -1}, "overlap"),
    ({"chunk_size": 20, "overlap": 20}, "overlap"),
    ({"chunking_method": "magic"}, "embedding, tfidf, fixed"),
    ({"audio": "/no/such/file.wav"}, "not found"),
    ({"colour": "red"}, "allowed"),
])
def test_bad_arguments_fail_before_any_task(home, manager, kwargs, needle):
    before = len(manager.tasks())
    kwargs = {"audio": WAV, **kwargs}
    with pytest.raises(ValueError, match=needle):
        run_pipeline(manager=manager, home=home, **kwargs)
    assert len(manager.tasks()) == before


def test_sync_api_refuses_a_running_loop_and_async_api_works(first, home, manager):
    async def main():
        with pytest.raises(RuntimeError, match="run_pipeline_async"):
            run_pipeline(WAV, manager=manager, home=home, chunking_method="tfidf")
        return await run_pipeline_async(WAV, manager=manager, home=home,
                                        chunking_method="tfidf")

    r = asyncio.run(main())
    assert r.run_record["cache_hits"] == stage_names()
    _same(first, r)


_CHILD = """
import sys
from pipeline_kit.pipeline._pipeline import run_pipeline
run_pipeline(sys.argv[1], home=sys.argv[2], chunking_method="tfidf")
"""


def test_killed_run_continues_from_first_missing_artifact(first, tmp_path):
    home = tmp_path / "home"
    env = slow_stage_env("chunking=120")
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(WAV), str(home)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list((home / "artifacts" / "transcription").glob("*.json")):
            assert proc.poll() is None, "the child exited before transcription was stored"
            assert time.monotonic() < deadline, "no transcription artifact in time"
            time.sleep(0.2)
        time.sleep(0.5)  # let it enter the (slowed) chunking stage
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not list((home / "artifacts").glob("chunking/*.json"))

    r = run_pipeline(WAV, home=home, chunking_method="tfidf")
    # diarization runs beside the slowed chunking: stored or not when the child died
    hits = [h for h in r.run_record["cache_hits"] if h != "diarization"]
    assert hits == ["upload", "transcription"]
    _same(first, r)
    # the killed run's record was left "running"; its task was marked by recovery
    outcomes = runs(home).set_index("run_id")["outcome"]
    assert sorted(outcomes) == ["completed", "interrupted"]
    assert outcomes[r.run_id] == "completed"


_TWO_AT_ONCE = r"""
import asyncio, json, sys
import faster_whisper
from pipeline_kit.pipeline._pipeline import run_pipeline_async
from pipeline_kit.tasks import TaskManager

loads = []
class CountingModel(faster_whisper.WhisperModel):  # counts loads; the real model does the work
    def __init__(self, path, *a, **k):
        loads.append(path)
        super().__init__(path, *a, **k)
faster_whisper.WhisperModel = CountingModel

async def main(a, b, home):
    with TaskManager(home + "/tasks.sqlite3") as m:
        ra, rb = await asyncio.gather(
            run_pipeline_async(a, ["chunking"], m, home=home, chunking_method="tfidf"),
            run_pipeline_async(b, ["chunking"], m, home=home, chunking_method="tfidf"))
        return [ra.transcript.model.to_dict(), rb.transcript.model.to_dict(),
                ra.run_record["cache_hits"], rb.run_record["cache_hits"]]

out = asyncio.run(main(*sys.argv[1:4]))
print(json.dumps({"loads": loads, "out": out}))
"""


def test_two_pipelines_at_once_share_one_model_load(tmp_path):
    # two different files (the second is the sample at a slightly lower volume), so
    # neither run can reuse the other's transcription artifact
    quieter = tmp_path / "quieter.wav"
    write_scaled_wav(WAV, quieter, 0.9)
    proc = subprocess.run([sys.executable, "-c", _TWO_AT_ONCE, str(WAV), str(quieter),
                           str(tmp_path / "home")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(report["loads"]) == 1, report
    model_a, model_b, hits_a, hits_b = report["out"]
    assert model_a == model_b
    assert "transcription" not in hits_a and "transcription" not in hits_b



def test_chapter_times_are_the_same_whichever_function_is_called(tmp_path, lj_transcription):
    """One code path: the pipeline's chapters are analyze_chapters(transcript, chunks=...),
    with real word times (chapters built from chunk text alone spread times evenly)."""
    from conftest import LJ_LONG, seed_transcription, shared_path

    from pipeline_kit import analyze_chapters

    lj = shared_path(LJ_LONG)
    seed_transcription(lj_transcription, tmp_path)  # the session's transcript of LJ
    r = run_pipeline(lj, ["chapters"], home=tmp_path, chunking_method="tfidf")
    assert len(r.chapters) > 1
    assert analyze_chapters(r.transcript, chunks=r.chunks) == r.chapters
    word_starts = {w.start for w in r.transcript.words}
    assert all(c.start_time in word_starts for c in r.chapters[1:])  # real word times


def test_the_pipeline_graph_carries_its_chapters(first):
    """The graph stage gets the chapters stage's result, as a direct call with chapters= does."""
    from pipeline_kit import build_graph

    g = first.graph
    assert g.graph["has_chapters"] is True
    chunk_chapters = {d.get("chapter") for _, d in g.nodes(data=True) if d["kind"] == "chunk"}
    assert chunk_chapters == {c.chapter_index for c in first.chapters}
    direct = build_graph(first.chunks, chapters=first.chapters)
    assert sorted(direct.nodes(data="kind")) == sorted(g.nodes(data="kind"))


def test_the_runs_step_names_what_comes_next_once_a_stage_is_complete():
    """The run's row showed "transcription: Transcription done  ETA 12s": a finished
    stage's step beside the run's ETA. Once a stage is complete, it says what is next."""
    from pipeline_kit.pipeline._pipeline import _Aggregator

    class Steps:
        def __init__(self) -> None:
            self.seen: list[tuple[float | None, str | None]] = []

        def update(self, value=None, total=None, *, step=None, within=None) -> None:
            self.seen.append((value, step))

        def check_cancelled(self) -> None:
            return None

    steps = Steps()
    agg = _Aggregator(steps, ["transcription", "chunking"])
    agg.set("transcription", 40.0, "Transcribing segment 2/5")
    agg.set("transcription", 100.0, "Transcription done")
    agg.set("chunking", 100.0, "Chunking done")
    assert [s for _, s in steps.seen] == [
        "transcription: Transcribing segment 2/5", "transcription done, chunking next",
        "chunking done"]
    assert steps.seen[-1][0] == 100.0


def test_a_deleted_audio_library_is_filled_again_not_an_error(tmp_path):
    """A home whose audio/ folder was deleted (space freed, a copy of the home without
    it) kept the upload's cached record, whose library copy was gone: the next run
    failed with "no audio with id ...". The upload now runs again and the stages after
    it read the new copy; the transcript's cache still holds."""
    import shutil

    run_pipeline(WAV, stages=["transcription"], home=tmp_path, out_dir=tmp_path / "o1")
    shutil.rmtree(tmp_path / "audio")
    again = run_pipeline(WAV, stages=["transcription"], home=tmp_path, out_dir=tmp_path / "o2")
    assert again.run_record["cache_hits"] == ["transcription"]
    assert any((tmp_path / "audio").rglob("*.wav")), "the upload did not store a new copy"
    assert len(again.transcript.words) > 50
