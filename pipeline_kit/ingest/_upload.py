"""Upload processing (stage AUDIO_UPLOAD_PROCESSING): chunked uploads into an audio library.

Layout under the library root (default ``$PIPELINE_KIT_HOME/audio``, home ``./data``)::

    uploads/<upload_id>/manifest.json        what the client announced (start_upload)
    uploads/<upload_id>/chunks/<index>.part  received chunks, each written atomically
    uploads/<upload_id>/received.bytes       their total size (a cache for the size check)
    <audio_id>/audio-<sha256 or random[:16]>.<ext>  the assembled, probed audio file
    <audio_id>/record.json                   its AudioRecord
    .staging/                                temporary files before they are renamed in place
                                             (named after their writer: see ``_fs.temp_path``)
    .locks/                                  lock files serialising work per upload / audio id

Flow: :meth:`AudioLibrary.start_upload` → :meth:`~AudioLibrary.receive_chunk` (any
order, any number of times) → :meth:`~AudioLibrary.process_upload`, which checks
the chunks, streams them into one file (hashing while copying when a whole-file
checksum is to be verified, or with ``hash_uploads=True``), probes it with
PyAV and installs it. A failure leaves the chunks in place (ask
:meth:`~AudioLibrary.missing_chunks`, resend, process again) and never touches a
previously completed audio file. :meth:`~AudioLibrary.import_audio` takes a
plain file instead. Ids starting with ``.`` and the audio id ``uploads`` are
reserved for the library's own folders.

Re-sending a chunk with the same content is a no-op; with different content it
raises :class:`DuplicateChunkError` and keeps the first copy, unless the caller
asks to replace it. A crash leaves at most temporary files of a dead process,
which :meth:`~AudioLibrary.recover` removes; :meth:`~AudioLibrary.delete_upload`
and :meth:`~AudioLibrary.prune_uploads` remove abandoned uploads. Every error
is an :class:`UploadError`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import json
import os
import re
import shutil
import threading
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PureWindowsPath
from typing import Any, BinaryIO, Protocol, runtime_checkable

from pipeline_kit.base._fs import (
    NoSpaceError,
    atomic_write_bytes,
    create_new,
    default_home,
    file_lock,
    fsync_dir,
    no_space,
    publish_no_clobber,
    remove_lock,
    sweep_temps,
    temp_path,
    write_all,
)
from pipeline_kit.base._progress import Progress, Span, TaskCancelled, ensure_progress
from pipeline_kit.ingest._audio import (
    AudioError,
    AudioInfo,
    CorruptAudioError,
    EmptyAudioError,
    NotAudioError,
    UploadError,
    ZeroLengthAudioError,
    probe_audio,
)
from pipeline_kit.ingest._ids import InvalidIdError, id_from_name, new_id, shorten_repr, validate_id

__all__ = [
    "STAGE", "DEFAULT_MAX_BYTES", "AudioLibrary", "AudioRecord", "UploadManifest",
    "ChunkReceipt", "UploadSummary", "RecordStore", "JsonRecordStore", "concat_files",
    "default_library",
    "start_upload", "receive_chunk", "process_upload", "missing_chunks", "import_audio",
    "UploadError", "InvalidUploadIdError", "UnknownUploadError", "UploadExistsError",
    "ChunkIndexError", "ChunkChecksumError", "DuplicateChunkError", "UploadBusyError",
    "IncompleteUploadError",
    "ChecksumMismatchError", "SizeLimitError", "SizeMismatchError", "UnknownAudioError",
    "AudioError", "EmptyAudioError", "ZeroLengthAudioError", "NotAudioError",
    "CorruptAudioError",
]

STAGE = "AUDIO_UPLOAD_PROCESSING"
DEFAULT_MAX_BYTES = 4 * 1024**3  # 4 GiB per upload
MAX_CHUNKS = 10_000
RECEIVED_BYTES_FILE = "received.bytes"  # per upload: bytes in its chunks (a size-check cache)
COPY_BUFFER_BYTES = 8 * 1024 * 1024
_CHUNK_RE = re.compile(r"(\d{1,9})\.part")
_SHA_RE = re.compile(r"[0-9a-f]{64}")
_EXT_RE = re.compile(r"\.[a-z0-9]{1,8}")
# Refused in file names: C0/C1 controls and DEL (Cc), line and paragraph separators.
_CONTROL = frozenset({"Cc", "Zl", "Zp"})


# ----------------------------------------------------------------------------- errors


class InvalidUploadIdError(UploadError, InvalidIdError):
    """An upload or audio id that is unsafe (see ``ids.validate_id``) or reserved."""


class UnknownUploadError(UploadError, LookupError):
    """No upload with this id was started (or it was already processed and removed)."""


class UnknownAudioError(UploadError, LookupError):
    """No audio record with this id."""


class UploadExistsError(UploadError):
    """``start_upload`` with an id already in use for different parameters."""


class ChunkIndexError(UploadError):
    """A chunk index outside ``0 .. expected_chunks - 1`` (or not an integer)."""


class ChunkChecksumError(UploadError):
    """A chunk whose SHA-256 differs from the one given for it; nothing was stored."""

    def __init__(self, message: str, index: int, expected: str, actual: str) -> None:
        super().__init__(message)
        self.index, self.expected, self.actual = index, expected, actual


class DuplicateChunkError(UploadError):
    """A chunk re-sent with content different from the copy already stored (which is kept)."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


class UploadBusyError(UploadError):
    """The upload is being processed (or deleted) by another thread or process; try later."""


class IncompleteUploadError(UploadError):
    """Chunks missing, duplicated or out of range; the lists are attributes too."""

    def __init__(
        self, message: str, missing: list[int], duplicate: list[int], out_of_range: list[int]
    ) -> None:
        super().__init__(message)
        self.missing, self.duplicate, self.out_of_range = missing, duplicate, out_of_range


class ChecksumMismatchError(UploadError):
    """The assembled file's SHA-256 differs from the one announced."""


class SizeLimitError(UploadError):
    """More bytes than the upload's ``max_bytes``."""


class SizeMismatchError(UploadError):
    """The assembled size differs from the announced ``total_size``."""


# ----------------------------------------------------------------------------- records


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _from_known(cls: type, d: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class AudioRecord:
    """One audio item of the library: where its upload stands and what the audio is."""

    audio_id: str
    filename: str  # the client's file name (display only; never used as a path)
    upload_status: str  # "receiving", "completed" or "failed"
    processing_stage: str  # "upload_receiving", "upload_completed", "upload_failed", later stages
    created_at: str
    upload_id: str | None = None
    file_size_bytes: int | None = None
    duration_seconds: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    codec: str | None = None
    format: str | None = None
    sha256: str | None = None
    audio_file: str | None = None  # file name inside the audio folder
    completed_at: str | None = None
    error_message: str | None = None

    def __repr__(self) -> str:
        from pipeline_kit.base._reprs import clock

        sound = ", ".join(x for x in (
            clock(self.duration_seconds) if self.duration_seconds is not None else "",
            f"{self.sample_rate} Hz" if self.sample_rate else "",
            f"{self.channels} ch" if self.channels else "", self.codec or "") if x)
        return (f"AudioRecord({self.audio_id!r}, {self.filename!r}, {self.upload_status}"
                f"{', ' + sound if sound else ''})")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioRecord:
        """Build from a dict; unknown keys (added by later stages) are ignored."""
        return _from_known(cls, d)


@dataclass(frozen=True)
class UploadManifest:
    """What a client announced when it started an upload."""

    upload_id: str
    filename: str
    expected_chunks: int
    total_size: int | None = None
    sha256: str | None = None
    chunk_sha256: tuple[str, ...] | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    audio_id: str | None = None
    created_at: str = ""
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["chunk_sha256"] = list(self.chunk_sha256) if self.chunk_sha256 else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UploadManifest:
        m = _from_known(cls, d)
        if m.chunk_sha256 is not None:
            m = dataclasses.replace(m, chunk_sha256=tuple(m.chunk_sha256))
        return m

    def same_request(self, other: UploadManifest) -> bool:
        """True when both announce the same upload (timestamps and errors aside)."""
        keep = ("created_at", "last_error")
        a = {k: v for k, v in self.to_dict().items() if k not in keep}
        return a == {k: v for k, v in other.to_dict().items() if k not in keep}


@dataclass(frozen=True)
class ChunkReceipt:
    """What :meth:`AudioLibrary.receive_chunk` stored; ``duplicate`` when it was already there."""

    upload_id: str
    index: int
    size: int
    sha256: str
    duplicate: bool = False
    replaced: bool = False


@dataclass(frozen=True)
class UploadSummary:
    """One unprocessed upload as :meth:`AudioLibrary.list_uploads` sees it.

    ``filename``, ``expected_chunks`` and ``created_at`` are None when the
    manifest is missing (a start interrupted by a crash).
    """

    upload_id: str
    filename: str | None
    expected_chunks: int | None
    received_chunks: int
    received_bytes: int
    created_at: str | None
    last_activity: str  # ISO time of the newest chunk or manifest write
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@runtime_checkable
class RecordStore(Protocol):
    """Where audio records live; the JSON-file store is the default."""

    def load(self, audio_id: str) -> AudioRecord | None: ...

    def save(self, record: AudioRecord) -> None: ...

    def delete(self, audio_id: str) -> None: ...


class JsonRecordStore:
    """``<root>/<audio_id>/record.json``, each write atomic."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, audio_id: str) -> Path:
        return self.root / audio_id / "record.json"

    def load(self, audio_id: str) -> AudioRecord | None:
        try:
            text = self.path(audio_id).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return AudioRecord.from_dict(json.loads(text))

    def save(self, record: AudioRecord) -> None:
        data = json.dumps(record.to_dict(), ensure_ascii=False, indent=1).encode("utf-8")
        atomic_write_bytes(self.path(record.audio_id), data)

    def delete(self, audio_id: str) -> None:
        """Remove the record (and its folder when nothing else is in it)."""
        path = self.path(audio_id)
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            path.parent.rmdir()


# ----------------------------------------------------------------------------- file helpers


def file_sha256(path: str | Path, buffer_size: int = COPY_BUFFER_BYTES) -> str:
    """SHA-256 of a file, read in large blocks."""
    h = hashlib.sha256()
    buf = bytearray(buffer_size)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(memoryview(buf)[:n])
    return h.hexdigest()


def _hash_sources(
    sources: Sequence[str | Path], want: Sequence[str | None] | None, buffer_size: int,
    stop: threading.Event,
) -> tuple[str, list[str | None]]:
    """SHA-256 of the concatenation of ``sources`` and of each source whose hash is wanted."""
    whole = hashlib.sha256()
    parts: list[str | None] = []
    buf = bytearray(buffer_size)
    for i, src in enumerate(sources):
        part = hashlib.sha256() if want and want[i] else None
        with open(src, "rb", buffering=0) as f:
            while n := f.readinto(buf):
                if stop.is_set():
                    return "", []
                view = memoryview(buf)[:n]
                whole.update(view)
                if part is not None:
                    part.update(view)
        parts.append(part.hexdigest() if part is not None else None)
    return whole.hexdigest(), parts


def _copy_into(src: BinaryIO, out: BinaryIO, buffer_size: int) -> int:
    """Append all of ``src`` to ``out`` in the kernel when possible; returns the bytes copied."""
    copied = 0
    if hasattr(os, "copy_file_range"):
        try:
            while n := os.copy_file_range(src.fileno(), out.fileno(), 1 << 30):
                copied += n
            return copied
        except OSError as e:
            if e.errno not in (errno.ENOSYS, errno.EXDEV, errno.EINVAL, errno.EOPNOTSUPP,
                               errno.ENOTSUP, errno.EPERM) or copied:
                raise
    buf = bytearray(buffer_size)
    while n := src.readinto(buf):  # type: ignore[attr-defined]
        write_all(out, memoryview(buf)[:n])
        copied += n
    return copied


def concat_files(
    sources: Sequence[str | Path],
    dest: str | Path,
    *,
    chunk_sha256: Sequence[str | None] | None = None,
    progress: Progress | None = None,
    buffer_size: int = COPY_BUFFER_BYTES,
    fsync: bool = True,
    hash_whole: bool = True,
) -> tuple[str | None, int]:
    """Concatenate ``sources`` into a new file ``dest``; return its SHA-256 and size.

    The copy runs in the kernel (``os.copy_file_range``, else a buffered loop)
    while a worker thread hashes the same sources, so the two overlap on two
    cores; memory stays bounded (one buffer) and time linear. Sources must not
    change meanwhile (upload chunks never do once stored). With ``chunk_sha256``,
    source ``i`` must hash to ``chunk_sha256[i]`` (None skips one), else
    :class:`ChunkChecksumError`. Reports progress and checks cancellation per source.
    With ``hash_whole=False`` and no ``chunk_sha256`` nothing is hashed (the
    returned SHA-256 is None): the copy alone runs at the speed of ``cat``, while
    SHA-256 cannot exceed one core's hashing speed.
    """
    progress = ensure_progress(progress)
    stop = threading.Event()
    size = 0
    hashing = hash_whole or bool(chunk_sha256)
    with ThreadPoolExecutor(1, thread_name_prefix="concat-hash") as pool:
        hashed = (pool.submit(_hash_sources, sources, chunk_sha256, buffer_size, stop)
                  if hashing else None)
        try:
            with create_new(Path(dest)) as out:
                for i, src in enumerate(sources):
                    with open(src, "rb", buffering=0) as f:
                        expected = os.fstat(f.fileno()).st_size
                        copied = _copy_into(f, out, buffer_size)
                    if copied != expected:
                        raise UploadError(f"{src}: copied {copied} of {expected} bytes "
                                          f"(changed while copying?)")
                    size += copied
                    progress.update(i + 1, len(sources), step="Reassembling chunks")
                    progress.check_cancelled()
                digest, parts = hashed.result() if hashed is not None else (None, [])
                if fsync:
                    os.fsync(out.fileno())
        finally:
            stop.set()
    for i, (want, got) in enumerate(zip(chunk_sha256 or (), parts, strict=False)):
        if want and got != want:
            raise ChunkChecksumError(f"chunk {i}: sha256 is {got}, expected {want}", i, want,
                                     got or "")
    return (digest if hash_whole else None), size


# ----------------------------------------------------------------------------- validation


def _check_id(value: object, kind: str) -> str:
    try:
        validate_id(value, kind)
    except InvalidIdError as e:
        raise InvalidUploadIdError(e.kind, e.value, e.reason) from None
    assert isinstance(value, str)
    if value.startswith("."):
        raise InvalidUploadIdError(kind, value, "ids starting with '.' are reserved")
    if kind == "audio id" and value == "uploads":
        raise InvalidUploadIdError(kind, value, "'uploads' is reserved for the uploads folder")
    return value


def _check_sha(value: object, what: str) -> str:
    if not isinstance(value, str) or not _SHA_RE.fullmatch(value.lower()):
        raise UploadError(f"{what} must be 64 hex digits (SHA-256), got {shorten_repr(value)}")
    return value.lower()


def _check_count(value: object, what: str, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (
        maximum is not None and value > maximum
    ):
        bound = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"
        raise UploadError(f"{what} must be an integer {bound}, got {shorten_repr(value)}")
    return value


def _clean_filename(filename: object) -> str:
    if not isinstance(filename, str):
        raise UploadError(f"filename must be a string, got {shorten_repr(filename)}")
    bad = next((c for c in filename if unicodedata.category(c) in _CONTROL), None)
    if bad is not None:  # a newline would split the rows of `pipeline-kit uploads`
        raise UploadError(f"filename {shorten_repr(filename)} contains a control character "
                          f"(U+{ord(bad):04X}): send the name without it")
    name = PureWindowsPath(filename).name.strip()  # handles / and \
    if not name or name in (".", ".."):
        raise UploadError(f"filename {shorten_repr(filename)} does not name a file")
    return name[:255]


def _extension(filename: str) -> str:
    ext = Path(filename).suffix.lower()
    return ext if _EXT_RE.fullmatch(ext) else ""


def _format_indexes(indexes: list[int], limit: int = 20) -> str:
    shown = ", ".join(map(str, indexes[:limit]))
    return f"[{shown}{', ...' if len(indexes) > limit else ''}]"


def _error_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


# ----------------------------------------------------------------------------- library


def default_root() -> Path:
    """``<default home>/audio`` (:func:`~pipeline_kit.base._fs.default_home`)."""
    return default_home() / "audio"


class _ProbeAhead:
    """Reassembly's units plus one for the probe after it: a failed probe stays below 100 %."""

    def __init__(self, progress: Progress) -> None:
        self.progress = ensure_progress(progress)

    def update(self, value: float | None = None, total: float | None = None, *,
               step: str | None = None, within: Span | None = None) -> None:
        self.progress.update(value, None if total is None else total + 1, step=step,
                             within=within)

    def check_cancelled(self) -> None:
        self.progress.check_cancelled()


class AudioLibrary:
    """Uploaded and imported audio under one root folder (see the module docstring)."""

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        records: RecordStore | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        hash_uploads: bool = False,
    ) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.records: RecordStore = records if records is not None else JsonRecordStore(self.root)
        self.max_bytes = _check_count(max_bytes, "max_bytes", minimum=1)
        # Whole-file SHA-256 of reassembled uploads: always when the client sent one
        # (it is verified); otherwise only with hash_uploads=True. Each chunk is
        # hashed as it arrives either way, and a pipeline run hashes its input for
        # its cache key, so skipping it here keeps reassembly at disk speed.
        self.hash_uploads = hash_uploads

    # -- paths

    def upload_dir(self, upload_id: str) -> Path:
        return self.root / "uploads" / _check_id(upload_id, "upload id")

    def chunk_path(self, upload_id: str, index: int) -> Path:
        return self.upload_dir(upload_id) / "chunks" / f"{index}.part"

    def audio_dir(self, audio_id: str) -> Path:
        return self.root / _check_id(audio_id, "audio id")

    def _staging(self) -> Path:
        path = self.root / ".staging"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _lock(
        self, kind: str, value: str, *, blocking: bool = True
    ) -> contextlib.AbstractContextManager[None]:
        """Serialise work on one upload or audio id across threads and processes.

        Kinds: "upload" (processing, deleting, replacing chunks), "chunks" (the
        received-bytes counter) and "audio" (installing a file).
        """
        return file_lock(self._lock_path(kind, value), blocking=blocking)

    def _lock_path(self, kind: str, value: str) -> Path:
        return self.root / ".locks" / f"{kind}-{value}.lock"

    def _unknown_upload(self, upload_id: str) -> UnknownUploadError:
        return UnknownUploadError(f"upload {upload_id}: not started (or already processed "
                                  f"or deleted)")

    def sweep_locks(self) -> list[Path]:
        """Remove the lock files of uploads and audio that no longer exist (and that no
        one holds); the paths removed. Run by :meth:`recover`."""
        removed = []
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root / ".locks") as it:
            for entry in it:
                kind, _, rest = entry.name.partition("-")
                value = rest.removesuffix(".lock")
                if kind in ("upload", "chunks"):
                    exists = (self.root / "uploads" / value).is_dir() or \
                        (kind == "upload" and (self.root / value).is_dir())
                else:
                    exists = (self.root / value).is_dir()
                if not exists and remove_lock(Path(entry.path)):
                    removed.append(Path(entry.path))
        return removed

    # -- records

    def get(self, audio_id: str) -> AudioRecord:
        """The record of ``audio_id``, or :class:`UnknownAudioError`."""
        record = self.records.load(_check_id(audio_id, "audio id"))
        if record is None:
            raise UnknownAudioError(f"no audio with id {audio_id!r}")
        return record

    def audio_path(self, audio_id: str) -> Path:
        """Path of the completed audio file of ``audio_id``."""
        record = self.get(audio_id)
        if record.upload_status != "completed" or not record.audio_file:
            raise UnknownAudioError(f"audio {audio_id!r} is not completed ({record.upload_status})")
        return self.audio_dir(audio_id) / record.audio_file

    # -- uploads

    def manifest(self, upload_id: str) -> UploadManifest:
        """The manifest of a started upload, or :class:`UnknownUploadError`."""
        path = self.upload_dir(upload_id) / "manifest.json"
        try:
            return UploadManifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise UnknownUploadError(f"upload {upload_id}: not started (no manifest)") from None

    def _save_manifest(self, manifest: UploadManifest) -> None:
        data = json.dumps(manifest.to_dict(), ensure_ascii=False, indent=1).encode("utf-8")
        atomic_write_bytes(self.upload_dir(manifest.upload_id) / "manifest.json", data)

    def start_upload(
        self,
        upload_id: str | None = None,
        *,
        expected_chunks: int,
        filename: str,
        total_size: int | None = None,
        sha256: str | None = None,
        chunk_sha256: Sequence[str] | None = None,
        max_bytes: int | None = None,
        audio_id: str | None = None,
    ) -> UploadManifest:
        """Announce an upload and write its manifest; returns it (with the new id if none given).

        Starting again with the same parameters returns the existing manifest
        (resume); with different ones raises :class:`UploadExistsError`.
        """
        upload_id = _check_id(upload_id if upload_id is not None else new_id(), "upload id")
        if audio_id is not None:
            _check_id(audio_id, "audio id")
        limit = self.max_bytes if max_bytes is None else _check_count(
            max_bytes, "max_bytes", minimum=1)
        n = _check_count(expected_chunks, "expected_chunks", minimum=1, maximum=MAX_CHUNKS)
        name = _clean_filename(filename)
        if total_size is not None:
            _check_count(total_size, "total_size", minimum=0)
            if total_size == 0:
                raise EmptyAudioError(name, "announced total_size is 0 bytes")
            if total_size > limit:
                raise SizeLimitError(
                    f"upload {upload_id}: total_size {total_size} bytes exceeds the limit "
                    f"of {limit} bytes")
        chunk_hashes = None
        if chunk_sha256 is not None:
            if len(chunk_sha256) != n:
                raise UploadError(
                    f"upload {upload_id}: {len(chunk_sha256)} chunk checksums for {n} chunks")
            chunk_hashes = tuple(_check_sha(h, f"chunk_sha256[{i}]")
                                 for i, h in enumerate(chunk_sha256))
        manifest = UploadManifest(
            upload_id=upload_id, filename=name, expected_chunks=n, total_size=total_size,
            sha256=_check_sha(sha256, "sha256") if sha256 is not None else None,
            chunk_sha256=chunk_hashes, max_bytes=limit, audio_id=audio_id, created_at=_now(),
        )
        with self._lock("upload", upload_id):
            try:
                existing = self.manifest(upload_id)
            except UnknownUploadError:
                existing = None
            if existing is not None:
                if existing.same_request(manifest):
                    return existing
                raise UploadExistsError(
                    f"upload {upload_id}: already started with different parameters "
                    f"(filename {existing.filename!r}, {existing.expected_chunks} chunks)")
            (self.upload_dir(upload_id) / "chunks").mkdir(parents=True, exist_ok=True)
            self._save_manifest(manifest)
        aid = audio_id or upload_id
        current = self.records.load(aid)
        if current is None or current.upload_status != "completed":
            self.records.save(AudioRecord(
                audio_id=aid, filename=name, upload_status="receiving",
                processing_stage="upload_receiving", upload_id=upload_id,
                created_at=current.created_at if current else manifest.created_at))
        return manifest

    def _chunk_files(self, upload_id: str) -> dict[int, list[Path]]:
        """Chunk files by index (several names can parse to one index, e.g. 3 and 03)."""
        found: dict[int, list[Path]] = {}
        chunks = self.upload_dir(upload_id) / "chunks"
        with contextlib.suppress(FileNotFoundError), os.scandir(chunks) as it:
            for entry in it:
                m = _CHUNK_RE.fullmatch(entry.name)
                if m and entry.is_file():
                    found.setdefault(int(m.group(1)), []).append(Path(entry.path))
        return found

    def received_chunks(self, upload_id: str) -> list[int]:
        """Indexes of the chunks stored so far (sorted)."""
        return sorted(self._chunk_files(upload_id))

    def missing_chunks(self, upload_id: str) -> list[int]:
        """Indexes still to be sent (sorted); empty when the upload is complete."""
        n = self.manifest(upload_id).expected_chunks
        have = self._chunk_files(upload_id)
        return [i for i in range(n) if i not in have]

    def receive_chunk(
        self,
        upload_id: str,
        index: int,
        data: bytes | bytearray | memoryview | BinaryIO,
        sha256: str | None = None,
        *,
        replace: bool = False,
    ) -> ChunkReceipt:
        """Store chunk ``index`` atomically (temp file, fsync, no-clobber link).

        ``data`` is bytes or a binary file object (read in blocks). The chunk is
        checked against ``sha256`` and the manifest's ``chunk_sha256`` before it
        becomes visible. The same content again is a no-op (``duplicate=True``);
        other content for a stored index raises :class:`DuplicateChunkError`,
        unless ``replace`` is True: then it replaces the stored copy
        (``replaced=True``), or raises :class:`UploadBusyError` while the upload
        is being processed. The size check costs O(1) however many chunks are stored.
        """
        manifest = self.manifest(upload_id)
        n = manifest.expected_chunks
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise ChunkIndexError(
                f"upload {upload_id}: chunk index {shorten_repr(index)} out of range "
                f"0..{n - 1}")
        wanted = [_check_sha(sha256, f"sha256 of chunk {index}")] if sha256 is not None else []
        if manifest.chunk_sha256:
            wanted.append(manifest.chunk_sha256[index])
        chunks = self.upload_dir(upload_id) / "chunks"
        final = chunks / f"{index}.part"
        # A first bound for streaming; the exact check runs under the lock below.
        allowed = manifest.max_bytes - self._received_bytes(upload_id) + _size_or_zero(final)
        tmp = temp_path(chunks, str(index))
        try:
            with create_new(tmp) as out:
                digest, size = _write_limited(out, data, allowed)
                os.fsync(out.fileno())
            if size > allowed:
                raise self._past_limit(manifest, index, allowed)
            for want in wanted:
                if digest != want:
                    raise ChunkChecksumError(
                        f"upload {upload_id}: chunk {index} sha256 is {digest}, expected {want}",
                        index, want, digest)
            with self._lock("chunks", upload_id):
                if self._publish_chunk(manifest, index, tmp, size):
                    return ChunkReceipt(upload_id, index, size, digest)
            stored = file_sha256(final)
            if stored == digest:
                return ChunkReceipt(upload_id, index, size, digest, duplicate=True)
            if not replace:
                raise DuplicateChunkError(
                    f"upload {upload_id}: chunk {index} was already received with different "
                    f"content (stored sha256 {stored}, new {digest}); the stored copy is kept "
                    f"(send it again with replace=true to replace it)", index)
            self._replace_chunk(manifest, index, tmp, size)
            return ChunkReceipt(upload_id, index, size, digest, replaced=True)
        except NoSpaceError as e:
            raise no_space(e, final, f"chunk {index} of upload {upload_id}") from e
        except FileNotFoundError:
            if self.upload_dir(upload_id).is_dir():
                raise
            raise UnknownUploadError(f"upload {upload_id}: deleted or processed while chunk "
                                     f"{index} was arriving") from None
        finally:
            tmp.unlink(missing_ok=True)

    def _publish_chunk(self, manifest: UploadManifest, index: int, tmp: Path, size: int) -> bool:
        """Link ``tmp`` as chunk ``index`` if that index is free and the limit allows it.

        Call with the upload's "chunks" lock held; True when published.
        """
        final = self.chunk_path(manifest.upload_id, index)
        if final.exists():
            return False
        total = self._received_bytes(manifest.upload_id)
        if total + size > manifest.max_bytes:
            raise self._past_limit(manifest, index, manifest.max_bytes - total)
        if not publish_no_clobber(tmp, final):
            return False
        fsync_dir(final.parent)
        self._set_received_bytes(manifest.upload_id, total + size)
        return True

    def _replace_chunk(self, manifest: UploadManifest, index: int, tmp: Path, size: int) -> None:
        """Rename ``tmp`` over stored chunk ``index``; never while the upload is processed."""
        upload_id = manifest.upload_id
        try:
            with self._lock("upload", upload_id, blocking=False), \
                    self._lock("chunks", upload_id):
                final = self.chunk_path(upload_id, index)
                total = self._received_bytes(upload_id) - _size_or_zero(final)
                if total + size > manifest.max_bytes:
                    raise self._past_limit(manifest, index, manifest.max_bytes - total)
                os.replace(tmp, final)
                fsync_dir(final.parent)
                self._set_received_bytes(upload_id, total + size)
        except BlockingIOError:
            raise UploadBusyError(
                f"upload {upload_id}: being processed; chunk {index} cannot be replaced "
                f"now") from None

    @staticmethod
    def _past_limit(manifest: UploadManifest, index: int, allowed: int) -> SizeLimitError:
        others = manifest.max_bytes - allowed
        return SizeLimitError(
            f"upload {manifest.upload_id}: chunk {index} takes the upload past its limit of "
            f"{manifest.max_bytes} bytes ({others} bytes in other chunks)")

    def _received_bytes(self, upload_id: str) -> int:
        """Bytes in the stored chunks: a counter file kept by receive_chunk (O(1)).

        Missing or unreadable (a new upload, or one :meth:`recover` reset), it
        is recounted from the chunk files once.
        """
        path = self.upload_dir(upload_id) / RECEIVED_BYTES_FILE
        try:
            return int(path.read_text(encoding="ascii"))
        except (FileNotFoundError, ValueError):
            return sum(_size_or_zero(p) for ps in self._chunk_files(upload_id).values()
                       for p in ps)

    def _set_received_bytes(self, upload_id: str, total: int) -> None:
        # Not fsynced: after a crash recover() drops it and it is recounted.
        path = self.upload_dir(upload_id) / RECEIVED_BYTES_FILE
        atomic_write_bytes(path, str(total).encode("ascii"), durable=False)

    def check_chunks(self, upload_id: str) -> list[Path]:
        """The chunk files in index order, or :class:`IncompleteUploadError` naming the problems."""
        n = self.manifest(upload_id).expected_chunks
        files = self._chunk_files(upload_id)
        missing = [i for i in range(n) if i not in files]
        duplicate = sorted(i for i, ps in files.items() if len(ps) > 1)
        out_of_range = sorted(i for i in files if i >= n)
        if missing or duplicate or out_of_range:
            parts = []
            if missing:
                parts.append(f"missing chunks {_format_indexes(missing)} of {n}")
            if duplicate:
                parts.append(f"duplicate chunks {_format_indexes(duplicate)}")
            if out_of_range:
                parts.append(f"out-of-range chunks {_format_indexes(out_of_range)} "
                             f"(expected 0..{n - 1})")
            raise IncompleteUploadError(
                f"upload {upload_id}: " + "; ".join(parts), missing, duplicate, out_of_range)
        return [files[i][0] for i in range(n)]

    def assemble(
        self, upload_id: str, dest: str | Path, *, progress: Progress | None = None
    ) -> tuple[str | None, int]:
        """Check the chunks and stream them into the new file ``dest`` (no probing).

        Returns ``(sha256, size)``, sha256 None when not computed (see ``hash_uploads``).
        Raises :class:`IncompleteUploadError`, :class:`SizeLimitError`,
        :class:`SizeMismatchError`, :class:`ChunkChecksumError` or
        :class:`ChecksumMismatchError`.
        """
        manifest = self.manifest(upload_id)
        sources = self.check_chunks(upload_id)
        total = sum(p.stat().st_size for p in sources)
        if total > manifest.max_bytes:
            raise SizeLimitError(
                f"upload {upload_id}: {total} bytes exceed the limit of {manifest.max_bytes}")
        if manifest.total_size is not None and total != manifest.total_size:
            raise SizeMismatchError(
                f"upload {upload_id}: chunks hold {total} bytes, announced total_size is "
                f"{manifest.total_size}")
        if total == 0:
            raise EmptyAudioError(manifest.filename, f"upload {upload_id} is empty (0 bytes)")
        try:
            digest, size = concat_files(
                sources, dest, chunk_sha256=manifest.chunk_sha256, progress=progress,
                hash_whole=self.hash_uploads or manifest.sha256 is not None)
        except ChunkChecksumError as e:
            raise ChunkChecksumError(
                f"upload {upload_id}: stored chunk {e.index} sha256 is {e.actual}, "
                f"expected {e.expected}", e.index, e.expected, e.actual) from None
        if manifest.sha256 is not None and digest != manifest.sha256:
            raise ChecksumMismatchError(
                f"upload {upload_id}: assembled file sha256 is {digest}, "
                f"expected {manifest.sha256}")
        return digest, size

    def process_upload(
        self,
        upload_id: str,
        *,
        audio_id: str | None = None,
        progress: Progress | None = None,
        verify_audio: bool = True,
        keep_chunks: bool = False,
    ) -> AudioRecord:
        """Stage AUDIO_UPLOAD_PROCESSING: check, reassemble, probe and install an upload.

        ``audio_id`` defaults to the manifest's, else the upload id. On success the
        record is ``completed``, a previous file of that audio id is replaced and
        the chunks are removed (unless ``keep_chunks``). On failure the error is
        raised, the chunks stay, the manifest's ``last_error`` says why and the
        record says ``failed`` — unless the audio id already holds completed
        audio, which stays exactly as it was. Processing an upload that already
        completed into this audio id returns its record again.
        """
        upload_id = _check_id(upload_id, "upload id")
        progress = ensure_progress(progress)
        if not self.upload_dir(upload_id).is_dir() and \
                self.records.load(_check_id(audio_id or upload_id, "audio id")) is None:
            raise self._unknown_upload(upload_id)  # and no lock file made for an unknown id
        with self._lock("upload", upload_id):
            try:
                manifest = self.manifest(upload_id)
            except UnknownUploadError:
                done = self.records.load(_check_id(audio_id or upload_id, "audio id"))
                if done and done.upload_status == "completed" and done.upload_id == upload_id:
                    return done
                raise
            aid = _check_id(audio_id or manifest.audio_id or upload_id, "audio id")
            progress.update(0, step="Checking chunks")
            staged = temp_path(self._staging(), upload_id, _extension(manifest.filename))
            try:
                digest, size = self.assemble(upload_id, staged, progress=_ProbeAhead(progress))
                progress.update(step="Probing audio")
                progress.check_cancelled()
                info = _probe_as(staged, manifest.filename, upload_id, verify_audio)
                record = self._install(
                    aid, staged, info, digest, manifest.filename, upload_id=upload_id)
                self._drop_receiving_record(manifest.audio_id or upload_id, aid, upload_id)
            except TaskCancelled:
                raise
            except Exception as e:
                self._record_failure(aid, manifest, e)
                raise
            finally:
                staged.unlink(missing_ok=True)
            if not keep_chunks:
                shutil.rmtree(self.upload_dir(upload_id), ignore_errors=True)
            progress.update(100, step="Upload processed")
            return record

    def _drop_receiving_record(self, receiving_id: str, audio_id: str, upload_id: str) -> None:
        """Remove the placeholder record start_upload wrote when the audio went elsewhere."""
        if receiving_id == audio_id:
            return
        stale = self.records.load(receiving_id)
        if stale and stale.upload_id == upload_id and stale.upload_status != "completed":
            self.records.delete(receiving_id)

    def _record_failure(self, audio_id: str, manifest: UploadManifest, e: Exception) -> None:
        message = _error_text(e)
        with contextlib.suppress(UnknownUploadError):
            self._save_manifest(dataclasses.replace(manifest, last_error=message))
        current = self.records.load(audio_id)
        if current is not None and current.upload_status == "completed":
            return  # never degrade audio that is already stored
        self.records.save(AudioRecord(
            audio_id=audio_id, filename=manifest.filename, upload_status="failed",
            processing_stage="upload_failed", upload_id=manifest.upload_id,
            created_at=current.created_at if current else manifest.created_at,
            error_message=message))

    def _install(
        self, audio_id: str, staged: Path, info: AudioInfo, digest: str | None, filename: str,
        *, upload_id: str | None,
    ) -> AudioRecord:
        """Rename the verified ``staged`` file into the audio folder and save its record."""
        folder = self.audio_dir(audio_id)
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock("audio", audio_id):
            previous = self.records.load(audio_id)
            name = f"audio-{(digest or new_id())[:16]}{_extension(filename)}"
            os.replace(staged, folder / name)  # a new name: the old file is untouched
            fsync_dir(folder)
            now = _now()
            record = AudioRecord(
                audio_id=audio_id, filename=filename, upload_status="completed",
                processing_stage="upload_completed", upload_id=upload_id,
                created_at=previous.created_at if previous else now,
                file_size_bytes=info.file_size_bytes, duration_seconds=info.duration_seconds,
                sample_rate=info.sample_rate, channels=info.channels, codec=info.codec,
                format=info.format, sha256=digest, audio_file=name, completed_at=now)
            self.records.save(record)
            if previous and previous.audio_file and previous.audio_file != name:
                (folder / previous.audio_file).unlink(missing_ok=True)
        return record

    def import_audio(
        self,
        path: str | Path,
        audio_id: str | None = None,
        *,
        link: bool = False,
        verify_audio: bool = True,
        progress: Progress | None = None,
    ) -> AudioRecord:
        """Add a complete audio file as if it had been uploaded in one piece.

        The file is copied (or hard-linked with ``link=True``; a hard link shares
        the data, so later edits of the source in place would show) and probed.
        Without ``audio_id`` the id is the file stem; if that id already holds
        the same content its record is returned, if other content ``-<sha8>`` is
        appended. An explicit ``audio_id`` is replaced only when the new file is valid.
        """
        src = Path(path)
        if not src.is_file():
            raise FileNotFoundError(f"no such audio file: {src}")
        if audio_id is not None:
            _check_id(audio_id, "audio id")
        progress = ensure_progress(progress)
        staged = temp_path(self._staging(), "import", _extension(src.name))
        try:
            digest: str | None = None
            if link:
                try:
                    os.link(src, staged)
                except OSError:
                    pass  # another file system, or no hard links: copy instead
                else:
                    digest = file_sha256(staged)
            if digest is None:
                hashed, _ = concat_files([src], staged, progress=progress)
                assert hashed is not None  # hash_whole=True (the default) always hashes
                digest = hashed
            progress.update(step="Probing audio")
            info = _probe_as(staged, src.name, None, verify_audio)
            if audio_id is None:
                audio_id = id_from_name(src.stem)
                if audio_id.startswith(".") or audio_id == "uploads":
                    audio_id = f"audio-{audio_id.lstrip('.')}"
                existing = self.records.load(audio_id)
                if existing and existing.upload_status == "completed":
                    if existing.sha256 == digest:
                        return existing
                    audio_id = f"{audio_id[:119]}-{digest[:8]}"
            record = self._install(audio_id, staged, info, digest, src.name, upload_id=None)
        finally:
            staged.unlink(missing_ok=True)
        progress.update(100, step="Audio imported")
        return record

    def delete_upload(self, upload_id: str) -> None:
        """Remove an abandoned upload: its manifest, chunks and placeholder record.

        A completed audio record is kept. Raises :class:`UnknownUploadError` when
        there is no such upload and :class:`UploadBusyError` while it is being
        processed (its chunks are then in use).
        """
        folder = self.upload_dir(upload_id)
        if not folder.is_dir():
            raise self._unknown_upload(upload_id)  # and no lock file made for an unknown id
        try:
            with self._lock("upload", upload_id, blocking=False), \
                    self._lock("chunks", upload_id):
                if not folder.is_dir():
                    raise self._unknown_upload(upload_id)
                with contextlib.suppress(UnknownUploadError):
                    manifest = self.manifest(upload_id)
                    record = self.records.load(manifest.audio_id or upload_id)
                    if (record is not None and record.upload_id == upload_id
                            and record.upload_status != "completed"):
                        self.records.delete(record.audio_id)
                shutil.rmtree(folder, ignore_errors=True)
                # Held here, so removing them is safe (file_lock retries a removed file).
                for kind in ("upload", "chunks"):
                    self._lock_path(kind, upload_id).unlink(missing_ok=True)
        except BlockingIOError:
            raise UploadBusyError(f"upload {upload_id}: being processed; delete it once that "
                                  f"ends") from None

    def list_uploads(self) -> list[UploadSummary]:
        """Every upload not yet processed (or kept), oldest activity first."""
        found = []
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root / "uploads") as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                    with contextlib.suppress(InvalidUploadIdError, FileNotFoundError):
                        found.append(self._summary(entry.name))
        return sorted(found, key=lambda u: u.last_activity)

    def _summary(self, upload_id: str) -> UploadSummary:
        folder = self.upload_dir(upload_id)
        try:
            m: UploadManifest | None = self.manifest(upload_id)
        except (UnknownUploadError, ValueError):
            m = None  # started but never announced (a crash), or unreadable
        by_index = self._chunk_files(upload_id)
        stats = [p.stat() for ps in by_index.values() for p in ps]
        # Not the folder's own mtime: recover() touches it when it drops the byte counter.
        manifest_file = folder / "manifest.json"
        base = manifest_file if manifest_file.exists() else folder
        latest = max([base.stat().st_mtime, *(s.st_mtime for s in stats)])
        return UploadSummary(
            upload_id=upload_id, filename=m.filename if m else None,
            expected_chunks=m.expected_chunks if m else None,
            received_chunks=len(by_index),
            received_bytes=sum(s.st_size for s in stats),
            created_at=m.created_at if m else None,
            last_activity=datetime.fromtimestamp(latest, UTC).isoformat(timespec="seconds"),
            last_error=m.last_error if m else None)

    def prune_uploads(self, older_than_days: float) -> list[str]:
        """Delete the uploads without activity for ``older_than_days``; their ids.

        Uploads being processed are skipped (they are active).
        """
        if isinstance(older_than_days, bool) or not isinstance(older_than_days, int | float) \
                or not older_than_days >= 0:
            raise UploadError(f"older_than_days must be a number >= 0, got "
                              f"{shorten_repr(older_than_days)}")
        cutoff = datetime.now(UTC).timestamp() - older_than_days * 86400
        removed = []
        for u in self.list_uploads():
            if datetime.fromisoformat(u.last_activity).timestamp() >= cutoff:
                continue
            with contextlib.suppress(UploadBusyError, UnknownUploadError):
                self.delete_upload(u.upload_id)
                removed.append(u.upload_id)
        return removed

    def recover(self) -> list[Path]:
        """Remove what crashed writers left behind; the paths removed.

        Staging files, chunk temp files and half-written JSON of processes that
        are no longer alive go (files of live processes stay, so this is safe
        while a server runs); temp files of older versions, which name no
        writer, go after a day. The received-bytes counters are dropped and
        recounted on next use, as a crash may have left one behind its chunks.
        Lock files of uploads and audio that no longer exist go too.
        Run at start-up by the API server and ``pipeline-kit uploads``.
        """
        removed = sweep_temps(self.root / ".staging", legacy=lambda name: True)
        removed += self.sweep_locks()
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root / "uploads") as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    folder = Path(entry.path)
                    removed += sweep_temps(folder, legacy=_is_tmp)
                    removed += sweep_temps(folder / "chunks", legacy=_is_tmp)
                    (folder / RECEIVED_BYTES_FILE).unlink(missing_ok=True)
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".") \
                        and entry.name != "uploads":
                    removed += sweep_temps(Path(entry.path), legacy=_is_tmp)
        return removed


def _write_limited(
    out: BinaryIO, data: bytes | bytearray | memoryview | BinaryIO, limit: int
) -> tuple[str, int]:
    """Write ``data`` to ``out``, hashing it; stop once more than ``limit`` bytes came."""
    h = hashlib.sha256()
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data).cast("B")[: max(limit, 0) + 1]
        h.update(view)
        write_all(out, view)
        return h.hexdigest(), len(view)
    size = 0
    while size <= limit:
        block = data.read(min(COPY_BUFFER_BYTES, limit - size + 1))
        if not block:
            break
        h.update(block)
        write_all(out, memoryview(block))
        size += len(block)
    return h.hexdigest(), size


def _is_tmp(name: str) -> bool:
    return name.endswith(".tmp")


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _probe_as(staged: Path, filename: str, upload_id: str | None, verify: bool) -> AudioInfo:
    """Probe ``staged``; errors name the client's file (and upload) instead of the temp file."""
    try:
        return probe_audio(staged, verify=verify)
    except AudioError as e:
        where = f"upload {upload_id} ({filename})" if upload_id else filename
        raise type(e)(where, e.reason) from None


# ----------------------------------------------------------------------------- functions


def default_library() -> AudioLibrary:
    """An :class:`AudioLibrary` at :func:`default_root` (read from the environment now)."""
    return AudioLibrary()


def start_upload(
    upload_id: str | None = None, *, library: AudioLibrary | None = None, **kwargs: Any
) -> UploadManifest:
    """:meth:`AudioLibrary.start_upload` on ``library`` (default: :func:`default_library`)."""
    return (library or default_library()).start_upload(upload_id, **kwargs)


def receive_chunk(
    upload_id: str, index: int, data: bytes | BinaryIO, sha256: str | None = None,
    *, library: AudioLibrary | None = None,
) -> ChunkReceipt:
    """:meth:`AudioLibrary.receive_chunk` on ``library`` (default: :func:`default_library`)."""
    return (library or default_library()).receive_chunk(upload_id, index, data, sha256)


def process_upload(
    upload_id: str, *, library: AudioLibrary | None = None, **kwargs: Any
) -> AudioRecord:
    """:meth:`AudioLibrary.process_upload` on ``library`` (default: :func:`default_library`)."""
    return (library or default_library()).process_upload(upload_id, **kwargs)


def missing_chunks(upload_id: str, *, library: AudioLibrary | None = None) -> list[int]:
    """:meth:`AudioLibrary.missing_chunks` on ``library`` (default: :func:`default_library`)."""
    return (library or default_library()).missing_chunks(upload_id)


def import_audio(
    path: str | Path, audio_id: str | None = None, *, library: AudioLibrary | None = None,
    **kwargs: Any,
) -> AudioRecord:
    """:meth:`AudioLibrary.import_audio` on ``library`` (default: :func:`default_library`)."""
    return (library or default_library()).import_audio(path, audio_id, **kwargs)
