"""Audio probing and loading on real files, and the errors for files that are not usable audio."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from pipeline_kit.ingest._audio import (
    AudioError,
    AudioInfo,
    CorruptAudioError,
    EmptyAudioError,
    NotAudioError,
    UploadError,
    ZeroLengthAudioError,
    load_audio,
    probe_audio,
    sniff_audio_kind,
)


@pytest.fixture
def wav(sample_dir: Path) -> Path:
    return sample_dir / "austen_sample.wav"


def write_zero_frame_wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"")
    return path


def test_probe_wav(wav: Path) -> None:
    info = probe_audio(wav)
    assert info.duration_seconds == pytest.approx(26.73, abs=0.01)
    assert (info.sample_rate, info.channels, info.codec, info.format) == (
        16000, 1, "pcm_s16le", "wav")
    assert info.num_samples == 427680 and info.verified
    assert info.file_size_bytes == wav.stat().st_size
    assert AudioInfo.from_dict(info.to_dict()) == info


def test_probe_without_verify_reads_the_header_only(wav: Path) -> None:
    info = probe_audio(wav, verify=False)
    assert info.duration_seconds == pytest.approx(26.73, abs=0.01)
    assert info.num_samples is None and not info.verified


def test_probe_flac_stereo() -> None:
    info = probe_audio(shared_path("speech/jfk/jfk.flac"))
    assert info.duration_seconds == pytest.approx(11.0, abs=0.01)
    assert (info.sample_rate, info.channels, info.codec, info.format) == (
        44100, 2, "flac", "flac")


def test_load_audio_is_mono_float32_at_16k(wav: Path) -> None:
    audio = load_audio(wav)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert audio.shape == (427680,)
    assert 0 < float(np.abs(audio).max()) <= 1.0


def test_load_audio_resamples_and_downmixes_flac() -> None:
    audio = load_audio(shared_path("speech/jfk/jfk.flac"), sr=16000)
    assert audio.dtype == np.float32 and audio.shape == (176000,)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty") as ei:
        probe_audio(p)
    assert not isinstance(ei.value, ZeroLengthAudioError)


def test_zero_frame_wav(tmp_path: Path) -> None:
    p = write_zero_frame_wav(tmp_path / "zero.wav")
    for verify in (True, False):
        with pytest.raises(ZeroLengthAudioError, match="no audio samples"):
            probe_audio(p, verify=verify)
    with pytest.raises(ZeroLengthAudioError):
        load_audio(p)


def test_text_renamed_wav_is_not_audio(tmp_path: Path) -> None:
    p = tmp_path / "notes.wav"
    p.write_text("These are meeting notes, not a recording.\n" * 10)
    with pytest.raises(NotAudioError, match="is text, not audio") as ei:
        probe_audio(p)
    assert "Invalid data" in str(ei.value)  # PyAV's reason
    assert ei.value.path == str(p) and "notes.wav" in str(ei.value)
    with pytest.raises(NotAudioError):
        load_audio(p)


def test_random_bytes_are_not_audio(tmp_path: Path) -> None:
    p = tmp_path / "noise.bin"
    p.write_bytes(b"\x00\x01" + os.urandom(4000))
    with pytest.raises(NotAudioError, match="not a recognised audio format"):
        probe_audio(p)


def test_truncated_wav_is_corrupt(tmp_path: Path, wav: Path) -> None:
    data = wav.read_bytes()
    p = tmp_path / "half.wav"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptAudioError, match="truncated"):
        probe_audio(p)
    p.write_bytes(data[:30])  # header cut short
    with pytest.raises(CorruptAudioError, match="RIFF/WAV"):
        probe_audio(p)


def test_garbled_wav_header_is_corrupt(tmp_path: Path, wav: Path) -> None:
    data = bytearray(wav.read_bytes())
    data[20:36] = b"\xee" * 16  # the fmt chunk: codec, channels, rate
    p = tmp_path / "garbled.wav"
    p.write_bytes(bytes(data))
    with pytest.raises(CorruptAudioError):
        probe_audio(p)


def test_damaged_flac_is_caught_by_decoding(tmp_path: Path) -> None:
    data = shared_path("speech/jfk/jfk.flac").read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])
    probe_audio(cut, verify=False)  # the header alone looks fine
    with pytest.raises(CorruptAudioError, match="decoding failed"):
        probe_audio(cut)
    garbled = bytearray(data)
    mid = len(garbled) // 2
    garbled[mid : mid + 2000] = bytes(2000)
    g = tmp_path / "garbled.flac"
    g.write_bytes(bytes(garbled))
    with pytest.raises(CorruptAudioError):
        probe_audio(g)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        probe_audio(tmp_path / "nope.wav")


def test_error_hierarchy() -> None:
    for cls in (EmptyAudioError, ZeroLengthAudioError, NotAudioError, CorruptAudioError):
        assert issubclass(cls, AudioError) and issubclass(cls, UploadError)
        assert issubclass(cls, ValueError)


def test_sniff_audio_kind() -> None:
    assert sniff_audio_kind(b"RIFF\x00\x00\x00\x00WAVE") == "RIFF/WAV"
    assert sniff_audio_kind(b"fLaC\x00") == "FLAC"
    assert sniff_audio_kind(b"\x00\x00\x00\x20ftypM4A ") == "MP4/M4A"
    assert sniff_audio_kind(b"\xff\xfb\x90\x00") == "MPEG audio"
    assert sniff_audio_kind(b"hello") is None
