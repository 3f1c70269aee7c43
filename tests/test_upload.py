"""Upload processing on real bytes and real audio: chunked uploads, imports and every rejection.

Each failure test also checks that nothing already stored changed: the audio
record, the chunks received so far and a previously completed audio item.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import wave
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline_kit.base._progress import TaskCancelled
from pipeline_kit.ingest import _upload as up
from pipeline_kit.ingest._ids import InvalidIdError, id_from_name, is_valid_id, validate_id
from pipeline_kit.ingest._upload import (
    AudioLibrary,
    AudioRecord,
    ChecksumMismatchError,
    ChunkChecksumError,
    ChunkIndexError,
    CorruptAudioError,
    DuplicateChunkError,
    EmptyAudioError,
    IncompleteUploadError,
    InvalidUploadIdError,
    NotAudioError,
    SizeLimitError,
    SizeMismatchError,
    UnknownUploadError,
    UploadError,
    UploadExistsError,
    ZeroLengthAudioError,
    concat_files,
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split(data: bytes, n: int) -> list[bytes]:
    size = -(-len(data) // n)
    return [data[i * size : (i + 1) * size] for i in range(n)]


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (the state a failure must not change)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


class Recorder:
    """A Progress that records updates and can cancel after a number of them."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.updates: list[tuple[float | None, float | None, str | None]] = []
        self.cancel_after = cancel_after

    def update(
        self, value: float | None = None, total: float | None = None, *, step: str | None = None
    ) -> None:
        self.updates.append((value, total, step))

    def check_cancelled(self) -> None:
        if self.cancel_after is not None and len(self.updates) > self.cancel_after:
            raise TaskCancelled()


@pytest.fixture(scope="session")
def wav_bytes(sample_dir: Path) -> bytes:
    return (sample_dir / "austen_sample.wav").read_bytes()


@pytest.fixture
def lib(tmp_path: Path, sample_dir: Path) -> AudioLibrary:
    """A library that already holds one completed audio item, ``keep``."""
    library = AudioLibrary(tmp_path / "audio", max_bytes=10_000_000)
    library.import_audio(sample_dir / "sense_and_sensibility_01_austen_64kb-0870.wav", "keep")
    return library


@pytest.fixture
def intact(lib: AudioLibrary) -> Callable[[], None]:
    """Call at the end of a test: the completed ``keep`` item is byte-for-byte unchanged."""
    before = tree(lib.root / "keep")
    record = lib.get("keep")

    def check() -> None:
        assert tree(lib.root / "keep") == before
        assert lib.get("keep") == record
        assert lib.audio_path("keep").is_file()

    return check


def send(lib: AudioLibrary, uid: str, data: bytes, n: int, *, skip: tuple[int, ...] = (),
         seed: int = 0, **start: object) -> list[bytes]:
    """Start an upload and send its chunks in shuffled order, leaving out ``skip``."""
    chunks = split(data, n)
    lib.start_upload(uid, expected_chunks=n, filename=start.pop("filename", "talk.wav"), **start)
    order = [i for i in range(n) if i not in skip]
    random.Random(seed).shuffle(order)
    for i in order:
        lib.receive_chunk(uid, i, chunks[i])
    return chunks


def assert_failed(lib: AudioLibrary, uid: str, error: type[Exception], chunks: dict[int, bytes],
                  audio_id: str | None = None) -> AudioRecord:
    """The record says failed with ``error``; the received chunks are still there, unchanged."""
    record = lib.get(audio_id or uid)
    assert record.upload_status == "failed" and record.processing_stage == "upload_failed"
    assert record.error_message and record.error_message.startswith(error.__name__)
    assert record.audio_file is None and record.sha256 is None
    for i, data in chunks.items():
        assert lib.chunk_path(uid, i).read_bytes() == data
    assert lib.manifest(uid).last_error == record.error_message
    assert not list((lib.root / ".staging").glob(".*"))  # no temporary files left
    return record


# ----------------------------------------------------------------------------- success


def test_shuffled_chunks_reassemble_identically(lib, wav_bytes, intact) -> None:
    progress = Recorder()
    send(lib, "u1", wav_bytes, 8, total_size=len(wav_bytes), sha256=sha(wav_bytes),
         chunk_sha256=[sha(c) for c in split(wav_bytes, 8)])
    assert lib.get("u1").upload_status == "receiving"
    record = lib.process_upload("u1", progress=progress)
    assert lib.audio_path("u1").read_bytes() == wav_bytes
    assert record.upload_status == "completed" and record.processing_stage == "upload_completed"
    assert record.duration_seconds == pytest.approx(26.73, abs=0.01)
    assert (record.sample_rate, record.channels, record.codec, record.format) == (
        16000, 1, "pcm_s16le", "wav")
    assert record.sha256 == sha(wav_bytes) and record.file_size_bytes == len(wav_bytes)
    assert record.filename == "talk.wav" and record.completed_at and record.error_message is None
    on_disk = json.loads((lib.root / "u1" / "record.json").read_text())
    assert AudioRecord.from_dict(on_disk) == record == lib.get("u1")
    chunk_steps = [(v, t) for v, t, s in progress.updates if s == "Reassembling chunks"]
    assert chunk_steps == [(i, 9) for i in range(1, 9)]  # the 9th unit is the probe
    assert not lib.upload_dir("u1").exists()  # chunks removed after success
    assert lib.process_upload("u1") == record  # a retried request gets the same answer
    intact()


def test_file_like_chunks_and_keep_chunks(lib, wav_bytes) -> None:
    chunks = split(wav_bytes, 3)
    lib.start_upload("u2", expected_chunks=3, filename="b.wav")
    for i in (2, 0, 1):
        receipt = lib.receive_chunk("u2", i, io.BytesIO(chunks[i]))
        assert (receipt.index, receipt.size, receipt.sha256) == (i, len(chunks[i]), sha(chunks[i]))
    lib.process_upload("u2", audio_id="book", keep_chunks=True)
    assert lib.audio_path("book").read_bytes() == wav_bytes
    assert lib.received_chunks("u2") == [0, 1, 2]
    with pytest.raises(up.UnknownAudioError):
        lib.get("u2")  # the placeholder record moved to the chosen audio id


def test_resume_after_missing_chunks(lib, wav_bytes, intact) -> None:
    chunks = send(lib, "u1", wav_bytes, 8, skip=(2, 5))
    assert lib.missing_chunks("u1") == [2, 5]
    with pytest.raises(IncompleteUploadError, match=r"upload u1: missing chunks \[2, 5\] of 8") \
            as ei:
        lib.process_upload("u1")
    assert ei.value.missing == [2, 5]
    assert_failed(lib, "u1", IncompleteUploadError,
                  {i: c for i, c in enumerate(chunks) if i not in (2, 5)})
    for i in (5, 2):
        lib.receive_chunk("u1", i, chunks[i])
    assert lib.missing_chunks("u1") == []
    assert lib.process_upload("u1").upload_status == "completed"
    assert lib.audio_path("u1").read_bytes() == wav_bytes
    intact()


def test_successful_reprocess_replaces_audio(lib, sample_dir) -> None:
    other = (sample_dir / "sense_and_sensibility_01_austen_64kb-0880.wav").read_bytes()
    old_path = lib.audio_path("keep")
    send(lib, "u3", other, 4, audio_id="keep")
    assert lib.get("keep").upload_status == "completed"  # not reset to "receiving"
    record = lib.process_upload("u3")
    assert record.audio_id == "keep" and record.file_size_bytes == len(other)
    assert lib.audio_path("keep").read_bytes() == other and not old_path.exists()


def test_whole_file_hash_only_when_verified_or_asked(tmp_path, wav_bytes) -> None:
    """No client checksum: the copy is not hashed (record.sha256 None) unless the
    library is told to; with a checksum it is always hashed and verified."""
    plain = AudioLibrary(tmp_path / "plain")
    send(plain, "u1", wav_bytes, 4)
    r = plain.process_upload("u1")
    assert r.sha256 is None and plain.audio_path("u1").read_bytes() == wav_bytes

    hashing = AudioLibrary(tmp_path / "hashing", hash_uploads=True)
    send(hashing, "u1", wav_bytes, 4)
    assert hashing.process_upload("u1").sha256 == sha(wav_bytes)

    send(plain, "u2", wav_bytes, 4, sha256=sha(wav_bytes))
    assert plain.process_upload("u2").sha256 == sha(wav_bytes)


def test_start_upload_is_idempotent(lib) -> None:
    m = lib.start_upload("u1", expected_chunks=2, filename="dir/sub\\a.wav")
    assert m.filename == "a.wav"
    assert lib.start_upload("u1", expected_chunks=2, filename="a.wav") == m
    with pytest.raises(UploadExistsError, match="u1"):
        lib.start_upload("u1", expected_chunks=3, filename="a.wav")
    assert len(lib.start_upload(expected_chunks=1, filename="x.wav").upload_id) == 32


# ----------------------------------------------------------------------------- chunk errors


def test_duplicate_chunk(lib, wav_bytes, intact) -> None:
    chunks = send(lib, "u1", wav_bytes, 4, skip=(3,))
    assert lib.receive_chunk("u1", 1, chunks[1]).duplicate  # same bytes: a no-op
    with pytest.raises(DuplicateChunkError, match="chunk 1 was already received") as ei:
        lib.receive_chunk("u1", 1, chunks[1][::-1])
    assert ei.value.index == 1 and sha(chunks[1]) in str(ei.value)
    assert lib.chunk_path("u1", 1).read_bytes() == chunks[1]
    assert sorted(p.name for p in (lib.upload_dir("u1") / "chunks").iterdir()) == [
        "0.part", "1.part", "2.part"]
    assert lib.get("u1").upload_status == "receiving"
    intact()


def test_out_of_range_index(lib, wav_bytes, intact) -> None:
    chunks = send(lib, "u1", wav_bytes, 4, skip=(3,))
    for bad in (4, -1, 99, True, "1", 1.0):
        with pytest.raises(ChunkIndexError, match="out of range 0..3"):
            lib.receive_chunk("u1", bad, b"data")
    assert lib.received_chunks("u1") == [0, 1, 2]
    assert all(lib.chunk_path("u1", i).read_bytes() == chunks[i] for i in range(3))
    intact()


def test_stray_duplicate_and_out_of_range_files_are_named(lib, wav_bytes, intact) -> None:
    chunks = send(lib, "u1", wav_bytes, 4)
    folder = lib.upload_dir("u1") / "chunks"
    (folder / "03.part").write_bytes(chunks[3])  # a second file for index 3
    (folder / "9.part").write_bytes(b"stray")
    with pytest.raises(IncompleteUploadError) as ei:
        lib.process_upload("u1")
    msg = str(ei.value)
    assert "duplicate chunks [3]" in msg and "out-of-range chunks [9]" in msg
    assert (ei.value.duplicate, ei.value.out_of_range, ei.value.missing) == ([3], [9], [])
    assert_failed(lib, "u1", IncompleteUploadError, dict(enumerate(chunks)))
    intact()


def test_bad_chunk_checksum(lib, wav_bytes, intact) -> None:
    chunks = send(lib, "u1", wav_bytes, 4, skip=(2,))
    wrong = sha(b"something else")
    with pytest.raises(ChunkChecksumError) as ei:
        lib.receive_chunk("u1", 2, chunks[2], sha256=wrong)
    e = ei.value
    assert (e.index, e.expected, e.actual) == (2, wrong, sha(chunks[2]))
    assert "chunk 2" in str(e) and wrong in str(e) and sha(chunks[2]) in str(e)
    assert lib.missing_chunks("u1") == [2]
    assert not [p for p in (lib.upload_dir("u1") / "chunks").iterdir() if p.name.startswith(".")]
    lib.receive_chunk("u1", 2, chunks[2], sha256=sha(chunks[2]).upper())  # case-insensitive
    intact()


def test_manifest_chunk_checksums_are_enforced(lib, wav_bytes) -> None:
    chunks = split(wav_bytes, 2)
    lib.start_upload("u1", expected_chunks=2, filename="a.wav",
                     chunk_sha256=[sha(chunks[0]), sha(b"not it")])
    lib.receive_chunk("u1", 0, chunks[0])
    with pytest.raises(ChunkChecksumError, match="chunk 1"):
        lib.receive_chunk("u1", 1, chunks[1])
    assert lib.missing_chunks("u1") == [1]
    with pytest.raises(UploadError, match="1 chunk checksums for 2 chunks"):
        lib.start_upload("u9", expected_chunks=2, filename="a.wav", chunk_sha256=[sha(b"")])


def test_bad_whole_file_checksum(lib, wav_bytes, intact) -> None:
    wrong = sha(b"not the file")
    chunks = send(lib, "u1", wav_bytes, 4, sha256=wrong)
    with pytest.raises(ChecksumMismatchError, match=f"expected {wrong}") as ei:
        lib.process_upload("u1")
    assert sha(wav_bytes) in str(ei.value)
    assert_failed(lib, "u1", ChecksumMismatchError, dict(enumerate(chunks)))
    assert not list((lib.root / "u1").glob("audio-*"))
    intact()


# ----------------------------------------------------------------------------- content errors


def _process_fails(lib: AudioLibrary, data: bytes, error: type[Exception], match: str,
                   filename: str = "talk.wav", n: int = 2) -> UploadError:
    chunks = send(lib, "bad", data, n, filename=filename)
    with pytest.raises(error, match=match) as ei:
        lib.process_upload("bad")
    assert_failed(lib, "bad", error, dict(enumerate(chunks)))
    assert not list((lib.root / "bad").glob("audio-*"))
    return ei.value


def test_truncated_wav(lib, wav_bytes, intact) -> None:
    e = _process_fails(lib, wav_bytes[: len(wav_bytes) // 2], CorruptAudioError, "truncated")
    assert "upload bad (talk.wav)" in str(e) and ".staging" not in str(e)
    intact()


def test_garbled_wav(lib, wav_bytes, intact) -> None:
    garbled = bytearray(wav_bytes)
    garbled[20:36] = b"\xee" * 16
    _process_fails(lib, bytes(garbled), CorruptAudioError, "RIFF/WAV|codec")
    intact()


def test_text_renamed_wav(lib, intact) -> None:
    text = b"Minutes of the meeting. Nothing to hear here.\n" * 30
    e = _process_fails(lib, text, NotAudioError, "is text, not audio")
    assert "Invalid data found" in str(e)  # the PyAV reason
    intact()


def test_empty_upload(lib, intact) -> None:
    lib.start_upload("bad", expected_chunks=1, filename="e.wav")
    lib.receive_chunk("bad", 0, b"")
    with pytest.raises(EmptyAudioError, match="empty") as ei:
        lib.process_upload("bad")
    assert not isinstance(ei.value, ZeroLengthAudioError)
    assert_failed(lib, "bad", EmptyAudioError, {0: b""})
    with pytest.raises(EmptyAudioError, match="total_size is 0"):
        lib.start_upload("bad2", expected_chunks=1, filename="e.wav", total_size=0)
    intact()


def test_zero_length_wav(lib, tmp_path, intact) -> None:
    with wave.open(str(tmp_path / "z.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    data = (tmp_path / "z.wav").read_bytes()
    assert len(data) == 44
    _process_fails(lib, data, ZeroLengthAudioError, "no audio samples")
    intact()


def test_failed_reprocess_keeps_completed_audio(lib, intact) -> None:
    send(lib, "u5", b"\x00garbage" * 100, 2, audio_id="keep")
    with pytest.raises(NotAudioError):
        lib.process_upload("u5")
    intact()
    assert lib.manifest("u5").last_error.startswith("NotAudioError")
    assert lib.received_chunks("u5") == [0, 1]


def test_a_failed_probe_keeps_progress_below_100(lib) -> None:
    send(lib, "u6", b"\x00garbage" * 100, 2)
    progress = Recorder()
    with pytest.raises(NotAudioError):
        lib.process_upload("u6", progress=progress)
    done = [v / t for v, t, _ in progress.updates if v is not None and t is not None]
    assert done and max(done) < 1.0  # chunks reassembled, the probe failed: not 100 %
    assert not any(v == 100 and t is None for v, t, _ in progress.updates)


def test_cancel_leaves_everything_in_place(lib, wav_bytes, intact) -> None:
    chunks = send(lib, "u1", wav_bytes, 8)
    with pytest.raises(TaskCancelled):
        lib.process_upload("u1", progress=Recorder(cancel_after=3))
    assert lib.get("u1").upload_status == "receiving"
    assert all(lib.chunk_path("u1", i).read_bytes() == c for i, c in enumerate(chunks))
    assert not list((lib.root / ".staging").glob(".*"))
    assert lib.process_upload("u1").upload_status == "completed"
    intact()


# ----------------------------------------------------------------------------- size limits


def test_size_limits(lib, wav_bytes, intact) -> None:
    with pytest.raises(SizeLimitError, match="exceeds the limit of 1000 bytes"):
        lib.start_upload("big", expected_chunks=2, filename="a.wav", total_size=5000,
                         max_bytes=1000)
    lib.start_upload("big", expected_chunks=3, filename="a.wav", max_bytes=1000)
    lib.receive_chunk("big", 0, b"a" * 600)
    with pytest.raises(SizeLimitError, match="chunk 1 takes the upload past its limit"):
        lib.receive_chunk("big", 1, io.BytesIO(b"b" * 600))
    with pytest.raises(SizeLimitError):
        lib.receive_chunk("big", 1, b"b" * 600)
    assert lib.received_chunks("big") == [0]
    assert lib.chunk_path("big", 0).read_bytes() == b"a" * 600
    lib.receive_chunk("big", 1, b"b" * 400)  # exactly at the limit is fine
    assert lib.get("big").upload_status == "receiving"
    with pytest.raises(SizeLimitError):  # the library-wide default limit (10 MB here)
        lib.start_upload("big2", expected_chunks=1, filename="a.wav", total_size=10_000_001)
    intact()


def test_size_mismatch(lib, wav_bytes, intact) -> None:
    chunks = send(lib, "u1", wav_bytes, 2, total_size=len(wav_bytes) + 1)
    with pytest.raises(SizeMismatchError, match=f"{len(wav_bytes)} bytes"):
        lib.process_upload("u1")
    assert_failed(lib, "u1", SizeMismatchError, dict(enumerate(chunks)))
    intact()


# ----------------------------------------------------------------------------- ids

BAD_IDS = ["../evil", "..", ".", "", "a/b", "a\\b", "/etc/passwd", "C:\\x", "x" * 129,
           "sp ace", "ümlaut", "nul\x00", None, 5]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_validate_id_rejects(bad) -> None:
    with pytest.raises(InvalidIdError) as ei:
        validate_id(bad, "upload id")
    assert str(ei.value).startswith("invalid upload id ") and ei.value.value == bad
    assert not is_valid_id(bad)


def test_validate_id_messages() -> None:
    with pytest.raises(InvalidIdError, match="must not be an absolute path"):
        validate_id("/etc/passwd")
    with pytest.raises(InvalidIdError, match="path separator"):
        validate_id("../evil")
    with pytest.raises(InvalidIdError, match=r"'x{20,}\.\.\.: is 129 characters"):
        validate_id("x" * 129)  # the value is shown truncated
    assert validate_id("A-z_0.9") == "A-z_0.9" and validate_id("x" * 128)
    assert id_from_name("My talk (final).wav") == "My_talk_final_.wav"
    assert id_from_name("...") == "audio"


@pytest.mark.parametrize("bad", ["../evil", "/tmp/abs", ".hidden", "a/../../b"])
def test_library_rejects_bad_ids(lib, tmp_path, bad, sample_dir, intact) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InvalidUploadIdError) as ei:
        lib.start_upload(bad, expected_chunks=1, filename="a.wav")
    assert isinstance(ei.value, UploadError) and isinstance(ei.value, InvalidIdError)
    assert "upload id" in str(ei.value) and repr(bad) in str(ei.value)
    with pytest.raises(InvalidUploadIdError, match="audio id"):
        lib.start_upload("ok", expected_chunks=1, filename="a.wav", audio_id=bad)
    for call in (lambda: lib.receive_chunk(bad, 0, b"x"), lambda: lib.process_upload(bad),
                 lambda: lib.missing_chunks(bad),
                 lambda: lib.import_audio(sample_dir / "austen_sample.wav", bad)):
        with pytest.raises(InvalidUploadIdError):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    with pytest.raises(InvalidUploadIdError, match="reserved"):
        lib.start_upload("u", expected_chunks=1, filename="a.wav", audio_id="uploads")
    intact()


def test_unknown_upload(lib) -> None:
    with pytest.raises(UnknownUploadError, match="nope"):
        lib.receive_chunk("nope", 0, b"x")
    with pytest.raises(UnknownUploadError):
        lib.process_upload("nope")
    assert not (lib.root / "uploads" / "nope").exists()


# ----------------------------------------------------------------------------- import


def test_import_wav(lib, sample_dir, intact) -> None:
    src = sample_dir / "austen_sample.wav"
    record = lib.import_audio(src)
    assert record.audio_id == "austen_sample" and record.upload_id is None
    assert record.duration_seconds == pytest.approx(26.73, abs=0.01)
    assert lib.audio_path("austen_sample").read_bytes() == src.read_bytes()
    assert lib.import_audio(src) == record  # same content, same id: nothing new
    linked = lib.import_audio(src, "linked", link=True)
    assert lib.audio_path("linked").stat().st_ino == src.stat().st_ino
    assert linked.sha256 == record.sha256
    intact()


def test_import_same_name_other_content_gets_new_id(lib, sample_dir, tmp_path) -> None:
    lib.import_audio(sample_dir / "austen_sample.wav")
    other = tmp_path / "austen_sample.wav"
    other.write_bytes((sample_dir / "sense_and_sensibility_01_austen_64kb-0890.wav").read_bytes())
    record = lib.import_audio(other)
    assert record.audio_id == f"austen_sample-{record.sha256[:8]}"
    assert lib.get("austen_sample").sha256 != record.sha256


def test_import_flac(lib) -> None:
    src = shared_path("speech/jfk/jfk.flac")
    record = lib.import_audio(src, "jfk")
    assert record.duration_seconds == pytest.approx(11.0, abs=0.01)
    assert (record.sample_rate, record.channels, record.codec, record.format) == (
        44100, 2, "flac", "flac")
    assert lib.audio_path("jfk").suffix == ".flac"
    assert lib.audio_path("jfk").read_bytes() == src.read_bytes()


def test_import_rejects_non_audio(lib, tmp_path, intact) -> None:
    fake = tmp_path / "fake.wav"
    fake.write_text("hello\n" * 50)
    with pytest.raises(NotAudioError, match="fake.wav: is text"):
        lib.import_audio(fake, "keep")
    with pytest.raises(FileNotFoundError):
        lib.import_audio(tmp_path / "absent.wav")
    assert not (lib.root / "fake").exists()
    intact()


# ----------------------------------------------------------------------------- plumbing


class MemoryStore:
    def __init__(self) -> None:
        self.data: dict[str, AudioRecord] = {}

    def load(self, audio_id: str) -> AudioRecord | None:
        return self.data.get(audio_id)

    def save(self, record: AudioRecord) -> None:
        self.data[record.audio_id] = record

    def delete(self, audio_id: str) -> None:
        self.data.pop(audio_id, None)


def test_pluggable_record_store(tmp_path, wav_bytes) -> None:
    store = MemoryStore()
    lib = AudioLibrary(tmp_path, records=store)
    send(lib, "u1", wav_bytes, 3)
    lib.process_upload("u1")
    assert store.data["u1"].upload_status == "completed"
    assert not (tmp_path / "u1" / "record.json").exists()
    assert isinstance(store, up.RecordStore)


def test_module_functions_use_pipeline_kit_home(tmp_path, monkeypatch, wav_bytes) -> None:
    monkeypatch.setenv("PIPELINE_KIT_HOME", str(tmp_path / "home"))
    up.start_upload("m1", expected_chunks=2, filename="a.wav")
    chunks = split(wav_bytes, 2)
    up.receive_chunk("m1", 1, chunks[1])
    assert up.missing_chunks("m1") == [0]
    up.receive_chunk("m1", 0, chunks[0])
    record = up.process_upload("m1")
    assert (tmp_path / "home" / "audio" / "m1" / record.audio_file).read_bytes() == wav_bytes


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=8), st.integers(1, 64))
def test_concat_files_matches_join(tmp_path_factory, parts, buffer_size) -> None:
    d = tmp_path_factory.mktemp("cat")
    paths = []
    for i, p in enumerate(parts):
        (d / f"{i}.part").write_bytes(p)
        paths.append(d / f"{i}.part")
    digest, size = concat_files(paths, d / "out", buffer_size=buffer_size,
                                chunk_sha256=[sha(p) for p in parts])
    joined = b"".join(parts)
    assert (d / "out").read_bytes() == joined and (digest, size) == (sha(joined), len(joined))
    with pytest.raises(FileExistsError):  # never overwrites
        concat_files(paths, d / "out")
    if parts[0]:
        with pytest.raises(ChunkChecksumError, match="chunk 0"):
            concat_files(paths, d / "out2",
                         chunk_sha256=[sha(parts[0] + b"!")] + [None] * (len(parts) - 1))
    os.remove(d / "out")


# ----------------------------------------------------------------------------- file system


def test_every_file_written_gets_the_umask_mode(tmp_path, wav_bytes, sample_dir) -> None:
    """Chunks, manifests, records, audio, artifacts and GraphML: all 0o666 & ~umask."""
    import networkx as nx

    from pipeline_kit.pipeline._artifacts import ArtifactCache, atomic_write_text
    from pipeline_kit.stages._graph_query import to_graphml

    old = os.umask(0o027)
    try:
        lib = AudioLibrary(tmp_path / "audio")
        send(lib, "u1", wav_bytes, 3)
        lib.process_upload("u1", keep_chunks=True)
        lib.import_audio(sample_dir / "sense_and_sensibility_01_austen_64kb-0870.wav", "imp")
        ArtifactCache(tmp_path / "home").save("chunking", "k1", {"a": 1})
        atomic_write_text(tmp_path / "out" / "run.json", "{}")
        to_graphml(nx.path_graph(3), tmp_path / "out" / "graph.graphml")
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 10
    modes = {str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777) for p in files}
    assert set(modes.values()) == {oct(0o640)}, modes


def test_a_conflicting_chunk_is_replaced_only_when_asked(lib, wav_bytes, intact) -> None:
    chunks = send(lib, "u1", wav_bytes, 4, skip=(3,))
    other = chunks[1][::-1]
    with pytest.raises(DuplicateChunkError, match="replace=true"):
        lib.receive_chunk("u1", 1, other)
    assert lib.chunk_path("u1", 1).read_bytes() == chunks[1]
    receipt = lib.receive_chunk("u1", 1, other, replace=True)
    assert receipt.replaced and not receipt.duplicate and receipt.sha256 == sha(other)
    assert lib.chunk_path("u1", 1).read_bytes() == other
    assert lib.receive_chunk("u1", 1, other, replace=True).duplicate  # same bytes: a no-op
    lib.receive_chunk("u1", 1, chunks[1], replace=True)
    lib.receive_chunk("u1", 3, chunks[3])
    lib.process_upload("u1")
    assert lib.audio_path("u1").read_bytes() == wav_bytes
    intact()


def test_a_replacement_past_the_limit_is_refused(lib) -> None:
    lib.start_upload("big", expected_chunks=2, filename="a.wav", max_bytes=1000)
    lib.receive_chunk("big", 0, b"a" * 500)
    lib.receive_chunk("big", 1, b"b" * 500)
    with pytest.raises(SizeLimitError, match="chunk 1 takes the upload past"):
        lib.receive_chunk("big", 1, b"c" * 501, replace=True)
    assert lib.chunk_path("big", 1).read_bytes() == b"b" * 500
    lib.receive_chunk("big", 1, b"c" * 400, replace=True)  # smaller: frees 100 bytes
    lib.receive_chunk("big", 0, b"d" * 600, replace=True)  # uses them
    with pytest.raises(SizeLimitError):
        lib.receive_chunk("big", 0, b"e" * 601, replace=True)
    assert [lib.chunk_path("big", i).read_bytes() for i in (0, 1)] == [b"d" * 600, b"c" * 400]


def test_parallel_chunks_never_pass_the_limit(lib) -> None:
    """Chunk writers racing in threads: the limit holds exactly, also after recover()."""
    from concurrent.futures import ThreadPoolExecutor

    lib.start_upload("race", expected_chunks=12, filename="a.wav", max_bytes=1000)

    def put(i: int) -> bool:
        try:
            lib.receive_chunk("race", i, bytes([i]) * 150)
            return True
        except SizeLimitError:
            return False

    with ThreadPoolExecutor(8) as pool:
        accepted = sum(pool.map(put, range(10)))
    stored = sum(lib.chunk_path("race", i).stat().st_size for i in lib.received_chunks("race"))
    assert accepted == 6 and stored == 900
    lib.recover()  # drops the size counter: it is recounted from the chunk files
    lib.receive_chunk("race", 10, b"x" * 100)  # exactly at the limit
    with pytest.raises(SizeLimitError, match="1000 bytes in other chunks"):
        lib.receive_chunk("race", 11, b"y")


class Blocker:
    """A Progress that holds processing at its first update until released."""

    def __init__(self) -> None:
        import threading

        self.started, self.release = threading.Event(), threading.Event()

    def update(self, value=None, total=None, *, step=None, within=None) -> None:
        self.started.set()
        assert self.release.wait(30)

    def check_cancelled(self) -> None:
        pass


def test_replace_and_delete_wait_for_processing(lib, wav_bytes) -> None:
    """While an upload is processed its chunks are in use: replacing or deleting is refused."""
    import threading

    chunks = send(lib, "u1", wav_bytes, 3)
    blocker = Blocker()
    result: list[AudioRecord] = []
    worker = threading.Thread(target=lambda: result.append(
        lib.process_upload("u1", progress=blocker)))
    worker.start()
    try:
        assert blocker.started.wait(30)
        with pytest.raises(up.UploadBusyError, match="being processed"):
            lib.receive_chunk("u1", 0, chunks[0][::-1], replace=True)
        with pytest.raises(up.UploadBusyError, match="being processed"):
            lib.delete_upload("u1")
        assert lib.chunk_path("u1", 0).read_bytes() == chunks[0]
    finally:
        blocker.release.set()
        worker.join(30)
    assert result and lib.audio_path("u1").read_bytes() == wav_bytes


def test_delete_upload_removes_chunks_and_placeholder_record(lib, wav_bytes, intact) -> None:
    send(lib, "u1", wav_bytes, 3, skip=(1,))
    send(lib, "u2", wav_bytes, 2, audio_id="keep")  # more audio for a completed id
    lib.delete_upload("u1")
    assert not lib.upload_dir("u1").exists()
    with pytest.raises(up.UnknownAudioError):
        lib.get("u1")  # the "receiving" placeholder went with it
    with pytest.raises(UnknownUploadError, match="not started"):
        lib.delete_upload("u1")
    lib.delete_upload("u2")
    assert lib.get("keep").upload_status == "completed"
    assert lib.list_uploads() == []
    intact()


def test_list_and_prune_uploads_by_last_activity(lib, wav_bytes, intact) -> None:
    send(lib, "old", wav_bytes, 3, skip=(2,))
    send(lib, "new", wav_bytes, 2, skip=(0,))
    week_ago = os.path.getmtime(lib.upload_dir("old")) - 7 * 86400
    for p in [lib.upload_dir("old"), *lib.upload_dir("old").rglob("*")]:
        os.utime(p, (week_ago, week_ago))
    lib.recover()  # what a server start does: it must not make old uploads look active
    listed = lib.list_uploads()
    assert [(u.upload_id, u.expected_chunks, u.received_chunks) for u in listed] == [
        ("old", 3, 2), ("new", 2, 1)]
    assert listed[0].received_bytes == sum(len(c) for c in split(wav_bytes, 3)[:2])
    assert listed[0].filename == "talk.wav" and listed[0].last_activity < listed[1].last_activity
    with pytest.raises(UploadError, match="older_than_days must be a number >= 0"):
        lib.prune_uploads(-1)
    assert lib.prune_uploads(8) == []
    assert lib.prune_uploads(6) == ["old"]
    assert [u.upload_id for u in lib.list_uploads()] == ["new"]
    assert lib.missing_chunks("new") == [0]
    intact()


def test_recover_removes_only_files_of_dead_writers(lib, wav_bytes, intact) -> None:
    """A real process writes temp files and exits; its files go, a live writer's stay."""
    import subprocess
    import sys

    send(lib, "u1", wav_bytes, 3, skip=(2,))
    chunks_dir = lib.upload_dir("u1") / "chunks"
    staging = lib.root / ".staging"
    staging.mkdir(exist_ok=True)
    script = ("import sys; from pathlib import Path; from pipeline_kit.base._fs import temp_path, "
              "create_new\nfor d, base, ext in ((sys.argv[1], '2', '.tmp'), "
              "(sys.argv[2], 'u1', '.wav'), (sys.argv[3], 'record.json', '.tmp')):\n"
              "    p = temp_path(Path(d), base, ext)\n    create_new(p).write(b'x' * 1000)\n"
              "    print(p)\n")
    out = subprocess.run([sys.executable, "-c", script, str(chunks_dir), str(staging),
                          str(lib.root / "keep")], capture_output=True, text=True, check=True)
    dead = [Path(line) for line in out.stdout.split()]
    assert len(dead) == 3 and all(p.is_file() for p in dead)
    from pipeline_kit.base._fs import create_new, temp_path

    live = temp_path(chunks_dir, "2")
    create_new(live).close()
    old_legacy, new_legacy = chunks_dir / ".2.abcd1234.tmp", staging / ".u1.0123abcd.wav"
    for p in (old_legacy, new_legacy):
        p.write_bytes(b"y")
    os.utime(old_legacy, (1, 1))
    removed = lib.recover()
    assert sorted(removed) == sorted([*dead, old_legacy])
    assert live.is_file() and new_legacy.is_file()
    assert lib.received_chunks("u1") == [0, 1]
    live.unlink()
    new_legacy.unlink()
    intact()


def test_a_chunk_arriving_while_its_upload_is_deleted_is_refused_cleanly(lib) -> None:
    """The sender is mid-body when the upload goes: UnknownUploadError, nothing re-created."""
    import threading

    lib.start_upload("u1", expected_chunks=2, filename="a.wav")
    halfway, go_on = threading.Event(), threading.Event()

    class SlowBody(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = 0

        def read(self, n: int = -1) -> bytes:
            if self.sent == 1:
                halfway.set()
                assert go_on.wait(30)
            self.sent += 1
            return b"x" * 1000 if self.sent <= 2 else b""

    errors: list[Exception] = []

    def send_chunk() -> None:
        try:
            lib.receive_chunk("u1", 0, SlowBody())
        except Exception as e:  # noqa: BLE001 - the test inspects it
            errors.append(e)

    sender = threading.Thread(target=send_chunk)
    sender.start()
    assert halfway.wait(30)
    lib.delete_upload("u1")
    go_on.set()
    sender.join(30)
    assert len(errors) == 1 and isinstance(errors[0], UnknownUploadError), errors
    assert "deleted or processed while chunk 0 was arriving" in str(errors[0])
    assert not lib.upload_dir("u1").exists()
