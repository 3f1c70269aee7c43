"""``pipeline-kit serve`` as an operator meets it: where the token comes from, and what a
server killed mid-work leaves behind once it is started again (real processes, SIGKILL).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from api_server import REPO, Server, free_port, start_server  # noqa: E402

from pipeline_kit.base._fs import temp_owner  # noqa: E402

WAV = REPO / "data" / "sample" / "austen_sample.wav"
MiB = 1024 * 1024

pytestmark = pytest.mark.slow


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def _serve_refusal(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline_kit.faces.cli", "serve", "--home",
                           str(home), "--port", str(free_port()), *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO,
                          env={**os.environ, "PIPELINE_KIT_API_TOKEN": ""})


def _requires(srv: Server, token: str) -> None:
    """The server answers 401 without ``token`` and 200 with it."""
    with srv.client(token=None) as anonymous, srv.client(token=token) as ok:
        assert anonymous.get("/tasks").status_code == 401
        assert ok.get("/tasks").status_code == 200


def test_token_from_environment_file_or_flag_and_only_the_flag_warns(tmp_path):
    srv = start_server(tmp_path / "env", token="from-env-1")
    try:
        _requires(srv, "from-env-1")
        assert "from-env-1" not in _cmdline(srv.proc.pid)
    finally:
        srv.stop()
    assert "warning" not in srv.log_text().lower()

    token_file = tmp_path / "token"
    token_file.write_text("from-file-2\n")
    srv = start_server(tmp_path / "file", "--token-file", str(token_file))
    try:
        _requires(srv, "from-file-2")  # the trailing newline is not part of it
        assert "from-file-2" not in _cmdline(srv.proc.pid)
    finally:
        srv.stop()
    assert "warning" not in srv.log_text().lower()

    srv = start_server(tmp_path / "flag", "--token", "on-the-line-3")
    try:
        _requires(srv, "on-the-line-3")
        assert "on-the-line-3" in _cmdline(srv.proc.pid)  # why it warns
    finally:
        srv.stop()
    assert "warning: --token shows the token" in srv.log_text()

    for args, reason in ((["--token-file", str(tmp_path / "absent")], "cannot read it"),
                         (["--token-file", str(tmp_path / "empty")], "is empty"),
                         (["--token-file", str(token_file), "--token", "x"], "not both")):
        (tmp_path / "empty").write_text(" \n")
        done = _serve_refusal(tmp_path / "refused", *args)
        assert done.returncode == 2 and reason in done.stderr, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


# ----------------------------------------------------------------------------- crashes


def _long_wav(path: Path, repeats: int) -> bytes:
    """The bundled speech sample ``repeats`` times over, as one WAV file; its bytes."""
    with wave.open(str(WAV)) as r:
        params, frames = r.getparams(), r.readframes(r.getnframes())
    with wave.open(str(path), "wb") as w:
        w.setparams(params)
        w.writeframes(frames * repeats)
    return path.read_bytes()


def _wait_for(find, proc: subprocess.Popen, what: str, timeout: float = 120):
    """Poll ``find()`` (as fast as the disk answers) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (found := find()):
        assert proc.poll() is None, f"server exited while waiting for {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
    return found


def _hidden_files(folder: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(folder) if e.name.startswith(".")]
    except FileNotFoundError:
        return []


def _kill(srv: Server) -> None:
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(30)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def test_server_killed_during_complete_leaves_no_staging_file_after_restart(tmp_path):
    """A 150 MB upload: reassembly, hashing and decoding it take seconds; kill inside."""
    home = tmp_path / "home"
    data = _long_wav(tmp_path / "long.wav", repeats=180)
    assert len(data) > 150_000_000
    staging = home / "audio" / ".staging"
    srv = start_server(home)
    try:
        with srv.client() as api:
            r = api.post("/audio/uploads", json={"expected_chunks": -(-len(data) // (16 * MiB)),
                                                 "filename": "long.wav", "audio_id": "long"})
            uid = r.json()["upload_id"]
            for i in range(0, len(data), 16 * MiB):
                r = api.put(f"/audio/uploads/{uid}/chunks/{i // (16 * MiB)}",
                            content=data[i:i + 16 * MiB])
                assert r.status_code == 201, r.text
            assert api.post(f"/audio/uploads/{uid}/complete").status_code == 202
            # kill mid-write: once the staging file holds some, not yet all, of the audio
            staged = _wait_for(lambda: [p for p in _hidden_files(staging) if _size(p) > 0],
                               srv.proc, "a staging file with data")
            _kill(srv)
    finally:
        srv.stop()
    assert [p for p in staged if p.exists()], "the kill came after the staging file went"
    left = _hidden_files(staging)  # what the crash left behind, named after the dead server
    assert [temp_owner(p.name)[1] for p in left] == [srv.proc.pid]
    assert left[0].stat().st_size > 0

    srv = start_server(home)  # serving starts only after the clean-up
    try:
        assert _hidden_files(staging) == []
        assert "removed 1 temporary file(s) left by dead processes" in srv.log_text()
        with srv.client() as api:  # the chunks were kept: the upload can be completed
            assert api.get(f"/audio/uploads/{uid}").json()["missing_chunks"] == []
    finally:
        srv.stop()


def test_server_killed_during_a_chunk_put_leaves_no_temp_file_after_restart(tmp_path):
    """A 256 MiB chunk is written to a temp file and fsynced; kill while it exists."""
    home = tmp_path / "home"
    body = bytes(range(256)) * (MiB // 256) * 256
    srv = start_server(home, "--max-chunk-mb", "300")
    errors: list[BaseException] = []
    try:
        with srv.client() as api:
            r = api.post("/audio/uploads", json={"expected_chunks": 2, "filename": "a.wav"})
            uid = r.json()["upload_id"]
            chunks = home / "audio" / "uploads" / uid / "chunks"

            def put() -> None:
                try:
                    api.put(f"/audio/uploads/{uid}/chunks/0", content=body)
                except httpx.TransportError as e:  # the server died mid-request
                    errors.append(e)

            sender = threading.Thread(target=put)
            sender.start()
            temps = _wait_for(lambda: _hidden_files(chunks), srv.proc, "chunk temp file")
            _kill(srv)
            sender.join(60)
    finally:
        srv.stop()
    assert errors, "the PUT finished before the kill"
    left = _hidden_files(chunks)
    assert left and left[0] in temps and not (chunks / "0.part").exists()
    assert [temp_owner(p.name)[1] for p in left] == [srv.proc.pid]

    srv = start_server(home)
    try:
        assert _hidden_files(chunks) == []
        with srv.client() as api:
            assert api.get(f"/audio/uploads/{uid}").json()["missing_chunks"] == [0, 1]
            r = api.put(f"/audio/uploads/{uid}/chunks/0", content=b"resent")
            assert r.status_code == 201, r.text
    finally:
        srv.stop()
