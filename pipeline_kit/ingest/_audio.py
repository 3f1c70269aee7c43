"""Audio probing and loading with PyAV: what a file holds, and whether it is usable audio.

:func:`probe_audio` opens a file with PyAV and (by default) decodes it once to
prove it is complete; :func:`load_audio` returns mono float32 samples through
``faster_whisper.decode_audio``. Files that cannot be used raise an
:class:`AudioError` that says why: empty, zero-length, not audio, or corrupt.

PyAV, numpy and faster_whisper are imported lazily so that importing this module
(and the upload stage that uses it) stays cheap.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from av.audio.stream import AudioStream
    from av.container import InputContainer

DEFAULT_SAMPLE_RATE = 16000

# Codecs whose header states the exact sample count, so a shortfall means damage.
_EXACT_LENGTH_CODECS = ("flac", "alac", "wavpack", "tta")
_SHORTFALL_TOLERANCE_SECONDS = 0.01

# Leading bytes of audio containers: data starting like this is audio, even if broken.
_AUDIO_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"RIFF", "RIFF/WAV"), (0, b"RF64", "RF64/WAV"), (0, b"fLaC", "FLAC"),
    (0, b"ID3", "MP3"), (0, b"OggS", "Ogg"), (0, b"FORM", "AIFF"), (0, b"caff", "CAF"),
    (4, b"ftyp", "MP4/M4A"), (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"), (0, b"#!AMR", "AMR"),
    (0, b"wvpk", "WavPack"), (0, b"MAC ", "Monkey's Audio"), (0, b".snd", "Sun AU"),
)


class UploadError(ValueError):
    """Base of every error about audio handed to the library.

    Bad ids, chunks, checksums and sizes (see :mod:`pipeline_kit.ingest._upload`,
    which re-exports this class) and unusable audio content (:class:`AudioError`).
    """


class AudioError(UploadError):
    """A file that cannot be used as audio; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{Path(path).name}: {reason}")


class EmptyAudioError(AudioError):
    """The file has no bytes at all."""


class ZeroLengthAudioError(EmptyAudioError):
    """A well-formed audio file that contains no samples (e.g. a WAV with 0 frames)."""


class NotAudioError(AudioError):
    """Data that is not audio at all: text, an unknown format, or a file with no audio stream."""


class CorruptAudioError(AudioError):
    """Data that looks like audio but is damaged: bad header, truncated, undecodable."""


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`probe_audio` found out about one audio file."""

    path: str
    file_size_bytes: int
    duration_seconds: float | None  # decoded length when verified, else from the header
    sample_rate: int
    channels: int
    codec: str  # e.g. "pcm_s16le", "flac", "mp3"
    format: str  # container, e.g. "wav", "flac", "mp3"
    bit_rate: int | None = None
    num_samples: int | None = None  # per channel, counted by decoding (verified only)
    verified: bool = False  # True when the whole file was decoded without error

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioInfo:
        return cls(**d)


def sniff_audio_kind(head: bytes) -> str | None:
    """Name of the audio container ``head`` (the first bytes of a file) starts like, or None."""
    for offset, magic, name in _AUDIO_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "MPEG audio"
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(head) - 3  # only a character cut at the end of the sample
    return True


def _reason(e: Exception) -> str:
    """PyAV's message without the errno and file name (those name our temporary file)."""
    return getattr(e, "strerror", None) or str(e)


def _classify_open_failure(path: Path, head: bytes, reason: str) -> AudioError:
    kind = sniff_audio_kind(head)
    if kind is not None:
        return CorruptAudioError(path, f"looks like {kind} but cannot be read: {reason}")
    if _looks_like_text(head):
        start = head[:40].decode("utf-8", "replace")
        return NotAudioError(path, f"is text, not audio (starts {start!r}); PyAV: {reason}")
    return NotAudioError(path, f"is not a recognised audio format; PyAV: {reason}")


def _riff_problem(path: Path, size: int) -> str | None:
    """Why a RIFF/WAVE file is cut short, or None (FFmpeg silently plays what is there)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF":
            return None
        if len(head) < 12:
            return f"RIFF header cut short ({size} bytes)"
        if head[8:12] != b"WAVE":
            return None
        pos = 12
        for _ in range(1000):  # chunks before "data" are few; stop on garbage
            if pos + 8 > size:
                return None
            f.seek(pos)
            hdr = f.read(8)
            chunk_size = int.from_bytes(hdr[4:8], "little")
            if hdr[:4] == b"data":
                present = size - pos - 8
                if chunk_size in (0, 0xFFFFFFFF) or chunk_size <= present:
                    return None  # complete, or a streamed WAV with no size set
                return (f"truncated: the WAV data chunk declares {chunk_size} bytes "
                        f"but only {present} are present")
            pos += 8 + chunk_size + (chunk_size & 1)
    return None


def _header_seconds(stream: AudioStream, container: InputContainer) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None


def probe_audio(path: str | Path, *, verify: bool = True) -> AudioInfo:
    """Describe the audio in ``path``: duration, sample rate, channels, codec, format.

    With ``verify`` (the default) every frame is decoded once, which proves the
    file is complete and gives the exact duration; without it only the header is
    read (fast, but a truncated compressed file may pass). Raises
    :class:`EmptyAudioError`, :class:`ZeroLengthAudioError`, :class:`NotAudioError`
    or :class:`CorruptAudioError` (with PyAV's reason), or ``FileNotFoundError``.
    """
    import av

    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise EmptyAudioError(path, "file is empty (0 bytes)")
    problem = _riff_problem(path, size)
    if problem is not None:
        raise CorruptAudioError(path, problem)
    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        with open(path, "rb") as f:
            head = f.read(4096)
        raise _classify_open_failure(path, head, _reason(e)) from None
    with container:
        if not container.streams.audio:
            found = ", ".join(s.type for s in container.streams) or "none"
            raise NotAudioError(path, f"has no audio stream (streams: {found})")
        stream = container.streams.audio[0]
        cc = stream.codec_context
        codec = getattr(cc, "name", None) if cc is not None else None
        if not codec:
            raise CorruptAudioError(path, "unknown or unsupported audio codec in header")
        rate = int(cc.sample_rate or stream.rate or 0)
        channels = int(cc.layout.nb_channels if cc.layout is not None else cc.channels or 0)
        if rate <= 0 or channels <= 0:
            raise CorruptAudioError(path, f"invalid header: {rate} Hz, {channels} channels")
        header_seconds = _header_seconds(stream, container)
        fmt = container.format.name
        bit_rate = container.bit_rate or None
        num_samples: int | None = None
        if verify:
            num_samples = _decode_count(path, container, stream, rate)
            decoded = num_samples / rate
            _check_shortfall(path, codec, header_seconds, decoded)
            duration: float | None = decoded
        else:
            _check_has_packets(path, container, stream)
            duration = header_seconds
    return AudioInfo(
        path=str(path), file_size_bytes=size, duration_seconds=duration, sample_rate=rate,
        channels=channels, codec=codec, format=fmt, bit_rate=bit_rate,
        num_samples=num_samples, verified=verify,
    )


def _decode_count(path: Path, container: InputContainer, stream: AudioStream, rate: int) -> int:
    import av

    samples = 0
    try:
        for frame in container.decode(stream):
            samples += frame.samples
    except av.FFmpegError as e:
        raise CorruptAudioError(
            path, f"decoding failed after {samples / rate:.2f} s: {_reason(e)}") from None
    if samples == 0:
        raise ZeroLengthAudioError(path, "contains no audio samples (0 frames)")
    return samples


def _check_has_packets(path: Path, container: InputContainer, stream: AudioStream) -> None:
    import av

    try:
        for packet in container.demux(stream):
            if packet.size:
                return
    except av.FFmpegError as e:
        raise CorruptAudioError(path, f"reading packets failed: {_reason(e)}") from None
    raise ZeroLengthAudioError(path, "contains no audio samples (0 frames)")


def _check_shortfall(path: Path, codec: str, header: float | None, decoded: float) -> None:
    exact = codec.startswith("pcm_") or codec in _EXACT_LENGTH_CODECS
    if exact and header and header - decoded > _SHORTFALL_TOLERANCE_SECONDS:
        raise CorruptAudioError(
            path, f"truncated or damaged: header says {header:.3f} s "
            f"but only {decoded:.3f} s decode")


def existing_audio_file(path: str | os.PathLike[str]) -> Path:
    """``path`` when it is a file; else an error saying what it is instead (a folder
    given by mistake is not "not found")."""
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"audio path {p} is a directory, not a file")
    if not p.is_file():
        raise FileNotFoundError(f"audio file not found: {p}")
    return p


def load_audio(path: str | Path, sr: int = DEFAULT_SAMPLE_RATE) -> np.ndarray:
    """Decode ``path`` to a mono float32 array at ``sr`` Hz (via faster_whisper).

    Raises the same :class:`AudioError` subclasses as :func:`probe_audio`.
    """
    import av
    import numpy as np
    from faster_whisper import decode_audio

    probe_audio(path, verify=False)  # classifies empty / non-audio / broken headers
    try:
        audio = decode_audio(str(path), sampling_rate=sr)
    except av.FFmpegError as e:
        raise CorruptAudioError(path, f"decoding failed: {_reason(e)}") from None
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size == 0:
        raise ZeroLengthAudioError(path, "contains no audio samples (0 frames)")
    return audio
