"""Transcription stage vs the raw WhisperX engine, same audio, same model, same run.

Raw engine: ``whisperx.load_model(...).transcribe(audio, batch_size=8)`` (pyannote VAD,
segment text, no word times). Ours: ``pipeline_kit.transcribe`` with the same model,
batch size and decoding options, Silero VAD (ONNX), plus word times. One-time model
load is reported separately. For speed under load see ``bench_contention.py``.
Goal: ours / raw <= 1.05 with equal WER. Run: ``python tests/benchmarks/bench_transcription.py``.
"""

from __future__ import annotations

import statistics
import sys
import time

from _common import DATA

AUDIO = DATA / "speech_long" / "ljspeech_LJ001-0001-0032_concat_16k.wav"
REF = AUDIO.with_suffix(".ref.txt")


def main() -> int:
    if not AUDIO.exists():
        print(f"skipped: shared development data not available at {AUDIO}")
        return 0
    from pipeline_kit.base._models import resolve_whisper_model
    from pipeline_kit.ingest._audio import load_audio
    from pipeline_kit.stages._evaluation import word_error_rate
    from pipeline_kit.stages._transcription import _import_whisperx, load_engine, transcribe

    audio = load_audio(AUDIO)
    duration = len(audio) / 16000
    t0 = time.perf_counter()
    engine = load_engine()
    load_s = time.perf_counter() - t0
    raw_pipeline = _import_whisperx().load_model(
        str(resolve_whisper_model().path), "cpu", compute_type="int8", language="en",
        vad_method="pyannote", local_files_only=True, threads=engine.threads)
    raw_times, ours_times = [], []
    raw_text = ours_text = ""
    for _ in range(3):  # interleaved so machine load affects both alike
        t0 = time.perf_counter()
        r = raw_pipeline.transcribe(audio, batch_size=8)
        raw_times.append(time.perf_counter() - t0)
        raw_text = " ".join(s["text"] for s in r["segments"])
        t0 = time.perf_counter()
        t = transcribe(audio, batch_size=8)
        ours_times.append(time.perf_counter() - t0)
        ours_text = t.text
    ref = REF.read_text()
    raw_m, ours_m = statistics.median(raw_times), statistics.median(ours_times)
    print(f"audio: {AUDIO.name} ({duration:.1f} s); model load (once per process): {load_s:.1f} s")
    print(f"{'engine':<28}{'median s':>10}{'x real time':>13}{'WER':>8}")
    print(f"{'raw whisperx.transcribe':<28}{raw_m:>10.2f}{duration / raw_m:>13.1f}"
          f"{word_error_rate(ref, raw_text):>8.1%}")
    print(f"{'pipeline_kit.transcribe':<28}{ours_m:>10.2f}{duration / ours_m:>13.1f}"
          f"{word_error_rate(ref, ours_text):>8.1%}")
    print(f"ratio ours/raw: {ours_m / raw_m:.3f} (goal <= 1.05; ours also times every word: "
          f"{len(t.words)} words)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
