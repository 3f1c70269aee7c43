"""Audio without speech (silence, noise, tones): empty results, no crash, no invented words."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from pipeline_kit.pipeline._pipeline import run_pipeline
from pipeline_kit.stages._chapters import analyze_chapters
from pipeline_kit.stages._chunking import create_semantic_chunks
from pipeline_kit.stages._graph import build_graph
from pipeline_kit.stages._questions import generate_questions
from pipeline_kit.stages._transcription import _decode_batch, is_speech, load_engine, transcribe

pytestmark = pytest.mark.slow
SR = 16000


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(SR * seconds), dtype=np.float32)


def white_noise(seconds: float) -> np.ndarray:
    return (np.random.default_rng(7).standard_normal(int(SR * seconds)) * 0.1).astype(np.float32)


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    """A sine between 1 s of silence on each side (the 0.1 s case was heard as "Thank you.")."""
    t = np.arange(int(SR * seconds)) / SR
    return np.concatenate([silence(1), 0.5 * np.sin(2 * np.pi * hz * t), silence(1)]).astype(
        np.float32)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.mark.parametrize("name, samples", [
    ("silence 60 s", silence(60)),
    ("white noise 60 s", white_noise(60)),
    ("tone 0.1 s", tone(0.1)),
    ("tone 1 s", tone(1.0)),
])
def test_no_speech_gives_an_empty_transcript(name, samples):
    t = transcribe(samples)
    assert t.text == "" and t.words == () and t.segments == (), (name, t.text)
    assert t.audio_duration_seconds == pytest.approx(len(samples) / SR)
    assert t.metadata["vad_engine"] == "silero-vad-onnx"


@pytest.mark.parametrize("name, samples", [
    ("tone 0.1 s", tone(0.1)), ("tone 1 s", tone(1.0)), ("noise", white_noise(5)),
    ("silence", silence(3)),  # Whisper hears "you" here, with log-prob -0.4
])
def test_decoder_output_on_non_speech_is_rejected(name, samples):
    # Past the VAD (a second line of defence): what Whisper makes of the raw signal is
    # refused by the no-speech / log-probability filter.
    engine = load_engine()
    decoded = _decode_batch(engine, engine.tokenizer, [samples], word_times=False)[0]
    assert not is_speech(decoded), (name, decoded)


def test_real_speech_passes_the_filter(sample_dir):
    from pipeline_kit.ingest._audio import load_audio

    engine = load_engine()
    audio = load_audio(sample_dir / "austen_sample.wav")[: SR * 10]
    decoded = _decode_batch(engine, engine.tokenizer, [audio], word_times=False)[0]
    assert is_speech(decoded), decoded


@pytest.fixture(scope="module")
def empty_transcript():
    return transcribe(silence(5))


@pytest.mark.parametrize("method", ["embedding", "tfidf", "fixed"])
def test_downstream_stages_accept_an_empty_transcript(empty_transcript, method):
    chunks = create_semantic_chunks(empty_transcript, method=method)
    assert chunks == []
    assert analyze_chapters(chunks) == []
    assert analyze_chapters(empty_transcript) == []
    graph = build_graph(chunks)
    assert graph.number_of_nodes() == 0
    assert generate_questions(chunks, [], graph) == []


def test_pipeline_on_silence_completes_with_empty_results(tmp_path):
    wav = write_wav(tmp_path / "silence.wav", silence(20))
    r = run_pipeline(wav, home=tmp_path / "home", out_dir=tmp_path / "out",
                     chunking_method="tfidf")
    assert r.run_record["outcome"] == "completed"
    assert r.transcript.words == () and r.chunks == [] and r.chapters == []
    assert r.questions == [] and r.graph.number_of_nodes() == 0
    assert json.loads((tmp_path / "out" / "transcript.json").read_text())["words"] == []


def test_cli_run_on_tone_exits_0(tmp_path):
    wav = write_wav(tmp_path / "tone.wav", tone(0.1))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c",
         "import sys; from pipeline_kit.faces.cli import main; sys.exit(main())",
         "run", str(wav), "--out", str(out), "--home", str(tmp_path / "home"), "--quiet",
         "--method", "tfidf"],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((out / "transcript.json").read_text())["text"] == ""
    assert json.loads((out / "questions.json").read_text()) == []
