"""The HTTP API against a real server process (uvicorn on 127.0.0.1), driven with httpx.

One server per module (``pipeline-kit serve`` in a subprocess, its own home and
token, a 256 KiB chunk limit). The bundled sample is uploaded in shuffled chunks,
processed once (the model loads once, ~10-20 s) and its results fetched; the other
tests check refusals and that a refusal never loses what is stored. The last test
runs schemathesis against the live schema.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from api_server import Server, free_port, start_server
from pk_test_slow_stage import slow_stage_env

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

REPO = Path(__file__).resolve().parents[1]
WAV = REPO / "data" / "sample" / "austen_sample.wav"
SMALL_WAV = REPO / "data" / "sample" / "sense_and_sensibility_01_austen_64kb-0880.wav"
TOKEN = "test-token-7f3a"
CHUNK_LIMIT = 256 * 1024
CHUNK = 200_000  # the 855 kB sample in 5 chunks
STATUS_KEYS = {"task_id", "status", "progress_percentage", "started_at", "completed_at",
               "error_message", "current_step", "metadata"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    home = tmp_path_factory.mktemp("api-home")
    # The token comes from the environment, as recommended (--token shows it in ps).
    # chunking waits 2 s (cancellable) so a run can be cancelled mid-way.
    srv = start_server(home, "--max-chunk-mb", str(CHUNK_LIMIT / 1024 / 1024), token=TOKEN,
                       env=slow_stage_env("chunking=2"),
                       log=home.parent / "server.log")
    yield srv
    srv.stop()
    text = srv.log_text()
    assert "Traceback" not in text, text[-4000:]


@pytest.fixture(scope="module")
def api(server) -> httpx.Client:
    with server.client() as c:
        yield c


def wait_task(api: httpx.Client, task_id: str, timeout: float = 240) -> list[dict[str, Any]]:
    """Poll the status route until the task is finished; every answer seen, in order."""
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        r = api.get(f"/tasks/{task_id}/status")
        assert r.status_code == 200, r.text
        seen.append(r.json())
        if seen[-1]["status"] in ("completed", "failed", "cancelled"):
            return seen
        assert time.monotonic() < deadline, f"task {task_id} still {seen[-1]}"
        time.sleep(0.2)


def upload(api: httpx.Client, data: bytes, *, chunk: int = CHUNK, seed: int = 0,
           **announce: Any) -> dict[str, Any]:
    """Start an upload, send its chunks in shuffled order (checksums as header or query)."""
    parts = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    body = {"expected_chunks": len(parts), "total_size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), **announce}
    r = api.post("/audio/uploads", json=body)
    assert r.status_code in (200, 201), r.text
    state = r.json()
    order = list(range(len(parts)))
    random.Random(seed).shuffle(order)
    for n, i in enumerate(order):
        digest = hashlib.sha256(parts[i]).hexdigest()
        kw: dict[str, Any] = ({"headers": {"X-Chunk-SHA256": digest}} if n % 2
                              else {"params": {"sha256": digest}})
        r = api.put(f"/audio/uploads/{state['upload_id']}/chunks/{i}", content=parts[i], **kw)
        assert r.status_code == 201, r.text
        assert r.json()["sha256"] == digest
    return state


def complete(api: httpx.Client, upload_id: str) -> dict[str, Any]:
    r = api.post(f"/audio/uploads/{upload_id}/complete")
    assert r.status_code == 202, r.text
    return r.json()


@pytest.fixture(scope="module")
def sample(api) -> dict[str, Any]:
    """The bundled sample uploaded in shuffled chunks and processed into the library."""
    data = WAV.read_bytes()
    state = upload(api, data, seed=7, filename="austen_sample.wav", audio_id="austen")
    assert state["missing_chunks"] == list(range(5)) and state["audio_id"] == "austen"
    done = complete(api, state["upload_id"])
    seen = wait_task(api, done["task_id"])
    assert seen[-1]["status"] == "completed", seen[-1]
    return {"audio_id": "austen", "upload_id": state["upload_id"], "sha256":
            hashlib.sha256(data).hexdigest(), "upload_task": done["task_id"]}


FULL_RUN = {"chunking_method": "tfidf", "stages": ["questions", "diarization"]}


@pytest.fixture(scope="module")
def processed(api, sample) -> dict[str, Any]:
    """One full pipeline run on the uploaded sample, polled to completion (diarization,
    which runs only when asked, named among the stages)."""
    r = api.post(f"/audio/{sample['audio_id']}/process", json=FULL_RUN)
    assert r.status_code == 202, r.text
    started = r.json()
    seen = wait_task(api, started["task_id"])
    return {**started, "seen": seen}


# ----------------------------------------------------------------------------- server


def test_openapi_schema_and_docs_are_served(server):
    r = httpx.get(f"{server.url}/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/audio/uploads", "/audio/uploads/{upload_id}/chunks/{index}",
                 "/audio/uploads/{upload_id}/complete", "/audio/{audio_id}/process",
                 "/tasks/{task_id}/status", "/tasks/{task_id}/cancel", "/tasks/{task_id}/retry",
                 "/tasks", "/metrics", "/audio/{audio_id}/transcript", "/audio/{audio_id}/chunks",
                 "/audio/{audio_id}/chapters", "/audio/{audio_id}/questions",
                 "/audio/{audio_id}/graph", "/search"):
        assert path in paths, path
    assert httpx.get(f"{server.url}/docs").status_code == 200


def test_token_is_required_and_wrong_tokens_are_refused(server):
    with server.client(token=None) as anonymous:
        assert anonymous.get("/health").json()["auth"] is True  # open, says auth is on
        r = anonymous.get("/tasks")
        assert r.status_code == 401 and "Bearer" in r.headers["www-authenticate"]
        assert "authentication required" in r.json()["detail"]
        r = anonymous.post("/audio/uploads", json={"expected_chunks": 1})
        assert r.status_code == 401
        r = anonymous.get("/tasks", headers={"Authorization": "Basic dXNlcjpwdw=="})
        assert r.status_code == 401
    with server.client(token="wrong") as wrong:
        for method, path in (("GET", "/tasks"), ("GET", "/metrics"),
                             ("POST", "/audio/austen/process"), ("GET", "/audio/x/transcript")):
            r = wrong.request(method, path)
            assert r.status_code == 401, (path, r.text)
            assert r.json()["detail"] == "invalid bearer token"
    with server.client() as ok:
        assert ok.get("/tasks").status_code == 200


def test_open_address_without_token_logs_a_warning(tmp_path, monkeypatch):
    from pipeline_kit.faces.api._config import resolve_token
    from pipeline_kit.faces.api._server import is_loopback, open_warning

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert open_warning("127.0.0.1", None) is None
    assert open_warning("0.0.0.0", "t") is None
    monkeypatch.setenv("PIPELINE_KIT_API_TOKEN", "from-env")
    assert resolve_token(None) == "from-env" and resolve_token("flag") == "flag"
    monkeypatch.setenv("PIPELINE_KIT_API_TOKEN", "")
    assert resolve_token(None) is None
    # 192.0.2.1 (TEST-NET-1) is on no interface here: the warning comes before the bind fails,
    # so nothing is ever served without a token.
    env = {**os.environ, "PIPELINE_KIT_API_TOKEN": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline_kit.faces.cli", "serve", "--host", "192.0.2.1", "--port",
         str(free_port()), "--home", str(tmp_path), "--log-level", "warning"],
        env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    out = proc.stdout + proc.stderr
    assert "without a token" in out and "PIPELINE_KIT_API_TOKEN" in out, out


def test_serve_without_the_api_extra_names_it(monkeypatch, capsys):
    import importlib.util

    from pipeline_kit.faces.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "fastapi" else real(name, *a))
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "pipeline_kit[api]" in err and "fastapi" in err, err


# ----------------------------------------------------------------------------- upload → run


def test_chunked_upload_in_shuffled_order_becomes_audio(api, sample):
    r = api.get(f"/audio/{sample['audio_id']}")
    assert r.status_code == 200
    rec = r.json()
    assert rec["upload_status"] == "completed" and rec["filename"] == "austen_sample.wav"
    assert rec["sha256"] == sample["sha256"] and rec["file_size_bytes"] == WAV.stat().st_size
    assert rec["duration_seconds"] == pytest.approx(26.7, abs=0.2)
    status = api.get(f"/tasks/{sample['upload_task']}/status").json()
    assert status["metadata"]["upload_id"] == sample["upload_id"]
    assert status["result_data"]["audio_id"] == "austen"
    # completing again answers the same task; the upload itself is gone
    assert complete(api, sample["upload_id"])["task_id"] == sample["upload_task"]
    assert api.get(f"/audio/uploads/{sample['upload_id']}").status_code == 404


def test_process_polls_to_completion_with_the_seed_status_shape(api, sample, processed):
    assert processed["status"] == "processing_started"
    assert processed["audio_id"] == sample["audio_id"]
    assert processed["stages"] == ["upload", "transcription", "diarization", "chunking",
                                   "chapters", "graph", "questions"]
    # the first run has no measurements yet: the documented defaults × 26.7 s of audio
    assert processed["estimated_duration_minutes"] > 0
    assert set(processed["estimate_basis"].values()) == {"default: declared by the stage"}
    seen = processed["seen"]
    last = seen[-1]
    assert STATUS_KEYS <= set(last), set(last)
    assert last["status"] == "completed", last
    assert last["progress_percentage"] == 100 and last["error_message"] is None
    assert last["started_at"] and last["completed_at"]
    assert last["task_type"] == "pipeline" and last["metadata"]["audio_id"] == "austen"
    progress = [s["progress_percentage"] for s in seen]
    assert progress == sorted(progress) and all(0 <= p <= 100 for p in progress)
    assert any(s["current_step"] for s in seen)

    r = api.get("/tasks", params={"parent_id": processed["task_id"]})
    children = r.json()["tasks"]
    assert {c["task_type"] for c in children} == {
        "audio_upload_processing", "transcription", "diarization", "semantic_chunking",
        "graph_generation", "chapter_analysis", "question_generation"}
    assert all(c["status"] == "completed" for c in children)


def test_pipeline_uses_the_uploaded_file_in_place(server, processed):
    library = server.home / "audio"
    items = sorted(p.name for p in library.iterdir() if not p.name.startswith("."))
    assert "austen" in items
    assert all(not n.startswith("audio-") for n in items), items  # no re-imported copy


def test_results_of_the_run(api, sample, processed):
    aid = sample["audio_id"]
    run = {"run_id": processed["run_id"]}  # other tests of this module start runs too
    r = api.get(f"/audio/{aid}/transcript", params=run)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["run_id"] == processed["run_id"] and body["audio_id"] == aid
    t = body["transcript"]
    assert t["words"] and "dashwood" in t["text"].lower()
    srt = api.get(f"/audio/{aid}/transcript", params={**run, "format": "srt"})
    assert srt.status_code == 200 and srt.text.startswith("1\n") and " --> " in srt.text
    vtt = api.get(f"/audio/{aid}/transcript", params={**run, "format": "vtt"})
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
    assert vtt.headers["content-type"].startswith("text/vtt")
    chunks = api.get(f"/audio/{aid}/chunks", params=run).json()["chunks"]
    assert chunks and chunks[0]["start_word_index"] == 0
    assert chunks[-1]["end_word_index"] == len(t["words"])
    chapters = api.get(f"/audio/{aid}/chapters", params=run).json()["chapters"]
    assert chapters
    questions = api.get(f"/audio/{aid}/questions", params=run).json()["questions"]
    assert questions and all(q["text"] for q in questions)
    graph = api.get(f"/audio/{aid}/graph", params=run).json()["graph"]
    assert graph["nodes"] and ("links" in graph or "edges" in graph)
    speakers = api.get(f"/audio/{aid}/speakers", params=run).json()
    assert speakers["speakers"] == ["SPEAKER_1"]  # one reader
    assert speakers["turns"][0]["start"] < 2 and speakers["talk_time"]["SPEAKER_1"] > 15
    diarization = api.get(f"/audio/{aid}/diarization", params=run).json()["diarization"]
    assert diarization["turns"] == speakers["turns"]
    assert api.get(f"/audio/{aid}/chunks", params={"run_id": "nope"}).status_code == 404
    # Without run_id: the newest run's results (a re-run of the same settings, all cached).
    r = api.post(f"/audio/{aid}/process", json=FULL_RUN)
    assert r.status_code == 202, r.text
    newest = r.json()
    assert wait_task(api, newest["task_id"])[-1]["status"] == "completed"
    latest = api.get(f"/audio/{aid}/chunks").json()
    assert latest["run_id"] == newest["run_id"] and latest["chunks"] == chunks
    bad = api.get(f"/audio/{aid}/transcript", params={"format": "docx"})
    assert bad.status_code == 422 and "format" in bad.json()["detail"]


def test_estimate_uses_measured_speed_and_the_cache(api, sample, processed):
    # same settings again: every stage is cached, so nothing is left to wait for
    r = api.post(f"/audio/{sample['audio_id']}/process", json=FULL_RUN)
    assert r.status_code == 202, r.text
    again = r.json()
    assert again["cached_stages"] == again["stages"]
    assert again["estimated_duration_minutes"] == 0
    assert wait_task(api, again["task_id"])[-1]["status"] == "completed"
    # new chunking settings: transcription is cached, chunking and later are measured
    r = api.post(f"/audio/{sample['audio_id']}/process",
                 json={"stages": ["semantic_chunking"], "chunking_method": "fixed",
                       "chunk_size": 40, "overlap": 5})
    assert r.status_code == 202, r.text
    new = r.json()
    assert new["stages"] == ["upload", "transcription", "chunking"]  # no diarization unasked
    assert new["cached_stages"] == ["upload", "transcription"]
    assert new["estimate_basis"]["chunking"].startswith("measured: median of")
    assert new["estimated_duration_minutes"] > 0
    assert wait_task(api, new["task_id"])[-1]["status"] == "completed"


def test_cancel_a_running_pipeline_and_retry_rules(api, sample, processed):
    r = api.post(f"/audio/{sample['audio_id']}/process",
                 json={"chunking_method": "fixed", "chunk_size": 70, "overlap": 0})
    assert r.status_code == 202, r.text
    task_id = r.json()["task_id"]
    r = api.post(f"/tasks/{task_id}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["cancelled"] is True
    assert wait_task(api, task_id)[-1]["status"] == "cancelled"
    again = api.post(f"/tasks/{task_id}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    refused = api.post(f"/tasks/{task_id}/retry")
    assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]
    done = api.post(f"/tasks/{processed['task_id']}/retry")
    assert done.status_code == 409 and "completed" in done.json()["detail"]
    listed = api.get("/tasks", params={"status": "cancelled", "task_type": "pipeline"})
    assert task_id in {t["task_id"] for t in listed.json()["tasks"]}
    metrics = api.get("/metrics").json()
    assert metrics["by_type"]["pipeline"]["completed"] >= 1 and metrics["cancellations"] >= 1


def test_short_and_ambiguous_id_prefixes_and_custom_task_types(api, server):
    from pipeline_kit.tasks import SQLiteTaskStore, TaskInfo, TaskStatus
    from pipeline_kit.tasks._callables import encode_args

    a, b, c = "fedcba01" + "1" * 24, "fedcba02" + "2" * 24, "654321" + "e" * 26
    store = SQLiteTaskStore(server.home / "tasks.sqlite3")  # as another process would write
    for task_id, status in ((a, TaskStatus.COMPLETED), (b, TaskStatus.COMPLETED)):
        store.insert(TaskInfo(task_id=task_id, task_type="speaker_diarization", status=status))
    store.insert(TaskInfo(task_id=c, task_type="speaker_diarization", status=TaskStatus.FAILED,
                          callable_ref="operator:add", call_args=encode_args((2, 3), {})))
    store.close()
    r = api.get(f"/tasks/{a[:8]}/status")
    assert r.status_code == 200 and r.json()["task_id"] == a
    for method, path in (("GET", "/tasks/fedcba/status"), ("POST", "/tasks/fedcba0/cancel"),
                         ("POST", "/tasks/fedcba/retry")):
        r = api.request(method, path)
        assert r.status_code == 409, (path, r.text)
        assert "ambiguous" in r.json()["detail"] and a in r.json()["detail"] and b in r.json()[
            "detail"]
    r = api.post(f"/tasks/{b[:8]}/cancel")
    assert r.status_code == 409 and f"task {b} is already completed" in r.json()["detail"]
    r = api.post("/tasks/654321/retry")
    assert r.status_code == 202 and r.json()["retry_of"] == c, r.text
    retried = wait_task(api, r.json()["task_id"])[-1]
    assert retried["status"] == "completed"
    r = api.get("/tasks/abcde/status")  # shorter than 6: never a prefix
    assert r.status_code == 404
    listed = api.get("/tasks", params={"task_type": "speaker_diarization"}).json()
    assert listed["total"] == 4 and {t["task_type"] for t in listed["tasks"]} == {
        "speaker_diarization"}
    metrics = api.get("/metrics").json()
    assert metrics["by_type"]["speaker_diarization"]["completed"] == 3
    assert metrics["store_errors"] == 0  # every write of this server reached its store


# ----------------------------------------------------------------------------- refusals


def test_bad_and_unknown_ids_are_4xx(api, sample):
    for path in ("/tasks/no-such-task/status", "/audio/no-such-audio",
                 "/audio/uploads/no-such-upload", "/audio/no-such-audio/transcript",
                 "/audio/no-such-audio/graph"):
        r = api.get(path)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["detail"]
    for path in ("/tasks/no-such-task/cancel", "/tasks/no-such-task/retry",
                 "/audio/no-such-audio/process", "/audio/uploads/no-such-upload/complete"):
        r = api.post(path)
        assert r.status_code == 404, (path, r.text)
    r = api.put("/audio/uploads/no-such-upload/chunks/0", content=b"x")
    assert r.status_code == 404
    for path in ("/tasks/bad%20id/status", "/audio/.hidden", "/audio/a%24b/chunks"):
        r = api.get(path)
        assert r.status_code == 422 and "should match pattern" in r.json()["detail"], path
    r = api.post("/audio/uploads/process")  # "uploads" is reserved, never an audio id
    assert r.status_code == 422 and "reserved" in r.json()["detail"]
    r = api.post("/audio/uploads", json={"expected_chunks": 1, "audio_id": "uploads"})
    assert r.status_code == 422 and "reserved" in r.json()["detail"]
    r = api.get("/tasks", params={"status": "sleeping"})
    assert r.status_code == 422 and "pending" in r.json()["detail"]


def test_oversized_and_corrupt_chunks_are_refused_and_nothing_is_lost(api, server):
    data = SMALL_WAV.read_bytes()
    parts = [data[i:i + 40_000] for i in range(0, len(data), 40_000)]
    r = api.post("/audio/uploads", json={
        "expected_chunks": len(parts), "filename": "small.wav", "audio_id": "small",
        "chunk_sha256": [hashlib.sha256(p).hexdigest() for p in parts]})
    assert r.status_code == 201, r.text
    uid = r.json()["upload_id"]
    chunk_url = f"/audio/uploads/{uid}/chunks"
    assert api.put(f"{chunk_url}/0", content=parts[0]).status_code == 201

    big = os.urandom(CHUNK_LIMIT + 1)
    r = api.put(f"{chunk_url}/1", content=big)  # declared length over the limit
    assert r.status_code == 413 and str(CHUNK_LIMIT) in r.json()["detail"]
    r = api.put(f"{chunk_url}/1", content=iter([big[:100_000], big[100_000:]]))  # streamed
    assert r.status_code == 413, r.text
    r = api.put(f"{chunk_url}/1", content=parts[2])  # manifest checksum of chunk 1
    assert r.status_code == 422 and "sha256" in r.json()["detail"]
    r = api.put(f"{chunk_url}/1", content=parts[1], params={"sha256": "0" * 64})
    assert r.status_code == 422
    r = api.put(f"{chunk_url}/1", content=parts[1], params={"sha256": "xyz"})
    assert r.status_code == 422 and "sha256" in r.json()["detail"]
    r = api.put(f"{chunk_url}/1", content=parts[1],
                params={"sha256": hashlib.sha256(parts[1]).hexdigest()},
                headers={"X-Chunk-SHA256": "1" * 64})
    assert r.status_code == 422 and "differ" in r.json()["detail"]
    r = api.put(f"{chunk_url}/1", content=b"")
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    r = api.put(f"{chunk_url}/{len(parts)}", content=parts[0])
    assert r.status_code == 422 and "out of range" in r.json()["detail"]
    r = api.put(f"{chunk_url}/0", content=parts[1])  # other content for a stored chunk
    assert r.status_code == 422  # refused by the announced checksum first
    state = api.get(f"/audio/uploads/{uid}").json()
    assert state["received_chunks"] == [0]  # no refused chunk was stored
    r = api.post(f"/audio/uploads/{uid}/complete")
    assert r.status_code == 409 and "missing" in r.json()["detail"]

    for i, part in enumerate(parts[1:], start=1):
        assert api.put(f"{chunk_url}/{i}", content=part).status_code == 201
    dup = api.put(f"{chunk_url}/0", content=parts[0])
    assert dup.status_code == 200 and dup.json()["duplicate"] is True
    assert wait_task(api, complete(api, uid)["task_id"])[-1]["status"] == "completed"
    good = api.get("/audio/small").json()
    assert good["sha256"] == hashlib.sha256(data).hexdigest()

    # A later upload into the same audio id that is not audio fails and keeps the old one.
    junk = b"this is not audio at all " * 400
    state = upload(api, junk, chunk=4000, audio_id="small", filename="junk.wav")
    done = complete(api, state["upload_id"])
    failed = wait_task(api, done["task_id"])[-1]
    assert failed["status"] == "failed" and failed["error_message"]
    assert api.get("/audio/small").json() == good
    path = server.home / "audio" / "small"
    stored = [p for p in path.iterdir() if p.name.startswith("audio-")]
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in stored] == [good["sha256"]]
    # a failed upload task can be retried: a new attempt that fails the same way
    r = api.post(f"/tasks/{done['task_id']}/retry")
    assert r.status_code == 202, r.text
    retry = r.json()
    assert retry["retry_of"] == done["task_id"] and retry["task_id"] != done["task_id"]
    assert wait_task(api, retry["task_id"])[-1]["status"] == "failed"
    assert api.get("/audio/small").json() == good
    # the failed upload's chunks are kept for a resend
    assert api.get(f"/audio/uploads/{state['upload_id']}").json()["last_error"]


def test_conflicting_chunk_replaced_on_request_and_abandoned_upload_deleted(api, server):
    data = SMALL_WAV.read_bytes()
    parts = [data[:40_000], data[40_000:80_000]]
    r = api.post("/audio/uploads", json={"expected_chunks": 3, "filename": "gone.wav",
                                         "audio_id": "abandoned"})
    assert r.status_code == 201, r.text
    uid = r.json()["upload_id"]
    url = f"/audio/uploads/{uid}/chunks/0"
    assert api.put(url, content=parts[0]).status_code == 201
    r = api.put(url, content=parts[1])
    assert r.status_code == 409 and "replace=true" in r.json()["detail"]
    chunk_file = server.home / "audio" / "uploads" / uid / "chunks" / "0.part"
    assert chunk_file.read_bytes() == parts[0]  # the stored copy is kept
    r = api.put(url, content=parts[1], params={"replace": "true"})
    assert r.status_code == 200 and r.json()["replaced"] is True, r.text
    assert r.json()["sha256"] == hashlib.sha256(parts[1]).hexdigest()
    assert chunk_file.read_bytes() == parts[1]
    doc = api.get("/openapi.json").json()["paths"]["/audio/uploads/{upload_id}/chunks/{index}"]
    assert "replace" in {p["name"] for p in doc["put"]["parameters"]}
    assert "replace=true" in doc["put"]["description"]

    assert api.get("/audio/abandoned").json()["upload_status"] == "receiving"
    r = api.options(f"/audio/uploads/{uid}")  # both methods of the path, as in the schema
    assert r.status_code == 405 and r.headers["allow"] == "DELETE, GET"
    r = api.delete(f"/audio/uploads/{uid}")
    assert r.status_code == 204, r.text
    assert not (server.home / "audio" / "uploads" / uid).exists()
    assert api.get(f"/audio/uploads/{uid}").status_code == 404
    assert api.get("/audio/abandoned").status_code == 404  # its placeholder record went too
    r = api.delete(f"/audio/uploads/{uid}")
    assert r.status_code == 404 and "not started" in r.json()["detail"]
    assert api.delete("/audio/uploads/..bad").status_code == 422


def test_unknown_stages_and_bad_parameters_start_nothing(api, sample):
    before = api.get("/tasks").json()["total"]
    url = f"/audio/{sample['audio_id']}/process"
    r = api.post(url, json={"stages": ["transcription", "bogus"]})
    assert r.status_code == 422
    assert "bogus" in r.text and "'transcription'" in r.json()["detail"]  # allowed names
    r = api.post(url, json={"stages": []})
    assert r.status_code == 422 and "no stages" in r.json()["detail"]
    r = api.post(url, json={"chunk_size": 10, "overlap": 10})
    assert r.status_code == 422 and "overlap" in r.json()["detail"]
    r = api.post(url, json={"chunk_size": 0})
    assert r.status_code == 422 and "chunk_size" in r.json()["detail"]
    r = api.post(url, json={"model": "/etc"})
    assert r.status_code == 422 and "model" in r.json()["detail"]
    r = api.post(url, json={"chunk_sizes": 100})
    assert r.status_code == 422 and "chunk_sizes" in r.json()["detail"]
    r = api.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"]
    r = api.post(url, json={"stages": ["chunking"] * 10, "pad": "x" * (2 * 1024 * 1024)})
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = api.post("/audio/uploads", json={"expected_chunks": 2, "total_size": 10 * CHUNK_LIMIT})
    assert r.status_code == 422 and "needs more than 2 chunks" in r.json()["detail"]
    r = api.post("/audio/uploads", json={"expected_chunks": 1, "sha256": "abc"})
    assert r.status_code == 422 and "sha256" in r.json()["detail"]
    assert api.get("/tasks").json()["total"] == before


# ----------------------------------------------------------------------------- fuzzing


def test_schemathesis_finds_no_server_error(server, sample, processed, tmp_path):
    """Every operation of the live schema, generated inputs, a bounded number of cases.

    Checks everything but ``positive_data_acceptance``: some schema-valid requests are
    refused for cross-field reasons no schema expresses (a chunk index past the
    upload's chunk count, ``chunk_sha256`` of the wrong length).
    """
    pytest.importorskip("schemathesis")
    st = [sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; "
          "sys.exit(schemathesis())"]
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        '[[operations]]\ninclude-tag = "results"\n'
        f'parameters = {{ "path.audio_id" = "{sample["audio_id"]}" }}\n'
        '[[operations]]\ninclude-operation-id = ["task_status", "cancel_task", "retry_task"]\n'
        f'parameters = {{ "path.task_id" = "{processed["task_id"]}" }}\n')
    t0 = time.monotonic()
    proc = subprocess.run(
        [*st, "--config-file", str(config), "run", f"{server.url}/openapi.json",
         "-H", f"Authorization: Bearer {TOKEN}", "--checks", "all",
         "--exclude-checks", "positive_data_acceptance", "--max-examples", "15",
         "--seed", "20261129", "--workers", "2", "--no-color"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    elapsed = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", out)
    assert selected and selected[1] == selected[2], out[-3000:]  # every operation tested
    assert "5xx" not in out.split("SUMMARY")[-1], out[-3000:]
    print("schemathesis:", " ".join(out.split("Test cases:")[-1].split()[:12]),
          f"in {elapsed:.0f} s")
