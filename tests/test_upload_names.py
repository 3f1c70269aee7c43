"""Uploads through a real ``pipeline-kit serve`` (issue 32): no lock files for ids that do
not exist, the uploaded file's name indexed and searchable, control characters refused."""

from __future__ import annotations

import fcntl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_server import Server, start_server

from pipeline_kit.ingest._upload import AudioLibrary, UnknownUploadError, UploadError

REPO = Path(__file__).resolve().parents[1]
WAV = REPO / "data" / "sample" / "austen_sample.wav"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Server:
    home = tmp_path_factory.mktemp("names") / "home"
    home.mkdir()
    srv = start_server(home, token="t0ken")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(server) -> httpx.Client:
    with server.client() as c:
        yield c


def _locks(server: Server) -> list[str]:
    folder = server.home / "audio" / ".locks"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def wait_task(api: httpx.Client, task_id: str, timeout: float = 280) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = api.get(f"/tasks/{task_id}/status")
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("completed", "failed", "cancelled"):
            return r.json()
        assert time.monotonic() < deadline, r.json()
        time.sleep(0.2)


def test_unknown_upload_ids_leave_no_lock_files(server, api, tmp_path):
    before = _locks(server)
    for i in range(20):
        r = api.delete(f"/audio/uploads/nosuch{i}")
        assert r.status_code == 404, r.text
        r = api.post(f"/audio/uploads/nosuch{i}/complete")
        assert r.status_code == 404, r.text
    assert _locks(server) == before  # was: two more lock files per DELETE
    # a deleted upload takes its lock files with it
    r = api.post("/audio/uploads", json={"expected_chunks": 2, "filename": "x.wav",
                                         "upload_id": "gone1"})
    assert r.status_code == 201, r.text
    assert api.put("/audio/uploads/gone1/chunks/0", content=b"abc").status_code == 201
    assert api.delete("/audio/uploads/gone1").status_code == 204
    assert not [n for n in _locks(server) if "gone1" in n]
    # stale lock files (of ids that no longer exist) are swept, held or live ones kept
    lib = AudioLibrary(tmp_path / "audio")
    lib.start_upload("live", expected_chunks=1, filename="a.wav")
    locks = tmp_path / "audio" / ".locks"
    for name in ("upload-old1.lock", "chunks-old1.lock", "audio-old2.lock", "upload-held.lock"):
        (locks / name).touch()
    with open(locks / "upload-held.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        removed = sorted(p.name for p in lib.recover())
    assert removed == ["audio-old2.lock", "chunks-old1.lock", "upload-old1.lock"]
    assert sorted(p.name for p in locks.iterdir()) == ["upload-held.lock", "upload-live.lock"]
    with pytest.raises(UnknownUploadError):
        lib.delete_upload("old1")
    assert sorted(p.name for p in locks.iterdir()) == ["upload-held.lock", "upload-live.lock"]


def test_an_uploaded_recording_is_indexed_and_found_by_its_filename(server, api):
    data = WAV.read_bytes()
    r = api.post("/audio/uploads", json={"expected_chunks": 1, "filename": WAV.name,
                                         "total_size": len(data)})
    assert r.status_code == 201, r.text
    up = r.json()
    assert api.put(f"/audio/uploads/{up['upload_id']}/chunks/0", content=data).status_code == 201
    r = api.post(f"/audio/uploads/{up['upload_id']}/complete")
    assert r.status_code == 202, r.text
    assert wait_task(api, r.json()["task_id"])["status"] == "completed"
    r = api.post(f"/audio/{up['audio_id']}/process", json={"stages": ["chunking"],
                                                          "chunk_size": 30, "overlap": 5})
    assert r.status_code == 202, r.text
    assert wait_task(api, r.json()["task_id"])["status"] == "completed"
    stored = AudioLibrary(server.home / "audio").get(up["audio_id"]).audio_file
    assert stored.startswith("audio-") and stored != WAV.name  # the library's content name
    r = api.get("/search", params={"q": "Dashwood", "mode": "keyword", "recording": WAV.name})
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]  # was: none (indexed as audio-<sha256[:16]>.wav)
    assert hits and {h["recording"] for h in hits} == {WAV.name}
    assert {Path(h["audio_path"]).name for h in hits} == {stored}
    by_content = api.get("/search", params={"q": "Dashwood", "mode": "keyword",
                                            "recording": stored}).json()["hits"]
    assert [h["chunk_id"] for h in by_content] == [h["chunk_id"] for h in hits]


@pytest.mark.parametrize("name", ["a\nb.wav", "a\rb.wav", "tab\there.wav", "nul\x00.wav",
                                  "del\x7f.wav", "c1\x85.wav", "line\u2028sep.wav"])
def test_control_characters_in_an_upload_filename_are_refused(server, api, name, tmp_path):
    r = api.post("/audio/uploads", json={"expected_chunks": 1, "filename": name})
    assert r.status_code == 422, r.text  # was: 201, and a broken `uploads` row
    assert "control character" in r.json()["detail"]
    assert f"U+{ord(next(c for c in name if not c.isprintable())):04X}" in r.json()["detail"]
    lib = AudioLibrary(tmp_path / "audio")
    with pytest.raises(UploadError, match="control character"):
        lib.start_upload("u1", expected_chunks=1, filename=name)
    assert not (tmp_path / "audio" / "uploads").exists()  # refused before anything is stored


def test_a_printable_unicode_filename_is_kept(tmp_path):
    lib = AudioLibrary(tmp_path / "audio")
    m = lib.start_upload("u1", expected_chunks=1, filename="Ümlaut – interview 2.wav")
    assert m.filename == "Ümlaut – interview 2.wav"
