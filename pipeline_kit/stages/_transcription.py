"""Stage 2: speech to a timed transcript with faster-whisper (CTranslate2) and Silero VAD.

Why our own loop around faster-whisper's parts: each batch of VAD pieces is encoded
once; the same encoder output feeds both decoding and Whisper's cross-attention word
alignment (no second encoder pass), and progress/cancellation happen between
small batches, sized so one call into the engine takes about a second.

Why no torch on this path: torch/OpenMP thread teams spin and stall when the cores
are oversubscribed (another busy process, N batch workers, a kernel that used torch
on its main thread). VAD is Silero on onnxruntime (:mod:`._vad`), features are
faster-whisper's numpy log-mel, decoding is CTranslate2; all get the thread count
:func:`pipeline_kit.base._threads.engine_threads` chooses from the cores really available.

When a local wav2vec2 model is given (``align_model=``) WhisperX's forced alignment
replaces the Whisper word times. Words it cannot time (numbers are a known case)
are interpolated from their neighbours and marked ``interpolated``.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline_kit.base import _threads
from pipeline_kit.base._models import resolve_whisper_model
from pipeline_kit.base._progress import Progress, ensure_progress
from pipeline_kit.base._threads import engine_threads, limit_torch
from pipeline_kit.ingest._upload import file_sha256
from pipeline_kit.stages import _vad
from pipeline_kit.stages._types import ModelInfo, Segment, Transcript, Word

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
N_SAMPLES = 30 * SAMPLE_RATE  # Whisper's window
METHOD_WHISPER = "whisper-word-timestamps"
METHOD_WAV2VEC2 = "wav2vec2-align"
# VAD pieces per engine call: 2 decodes LJ Speech's 221.7 s (9 pieces, tiny.en, 2 cores)
# in 8.3 s against 10.7 s one at a time (4: 7.8 s), and keeps a call, the unit of
# progress and cancellation, to about 2 s of work on an idle machine.
BATCH_SIZE = 2
# The part of the bar that speech detection fills (its seconds of audio scanned); the
# rest is decoding's seconds of speech. Silero VAD took about a tenth of tiny.en's
# decoding time on a 2-core CPU.
VAD_PART = (0.0, 10.0)
# A decoded piece is not speech when Whisper's no-speech probability is high (real
# speech on the shared and bundled data: at most 0.03; silence, noise and tones
# that got past VAD: 0.63-0.95) or the decoder is guessing (real speech >= -0.4,
# single words cut from speech >= -1.8).
NO_SPEECH_PROB = 0.6
VERY_LOW_LOGPROB = -2.0


@dataclass(frozen=True)
class DecodeOptions:
    """Beam-search options (WhisperX's defaults for its batched pipeline)."""

    beam_size: int = 5
    patience: float = 1.0
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    suppress_blank: bool = True
    suppress_tokens: tuple[int, ...] = (-1,)


@dataclass
class AsrEngine:
    """A loaded Whisper model and what identifies it; shared by all tasks of a process."""

    whisper: Any  # faster_whisper.WhisperModel
    tokenizer: Any  # faster_whisper.tokenizer.Tokenizer, or None for multilingual models
    options: DecodeOptions
    info: ModelInfo
    threads: int
    lock: threading.Lock


_engines: dict[tuple[str, str, str, int], AsrEngine] = {}
_engines_lock = threading.Lock()
_aligners: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def _import_whisperx() -> Any:
    # whisperx pulls torch, pyannote and torchcodec; the latter warns at import that no
    # system FFmpeg exists. We decode with PyAV, so that warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import whisperx

    _quiet_logs()
    return whisperx


def _quiet_logs() -> None:
    # Libraries that set their own INFO level on child loggers (a parent's level does
    # not override that): keep their chatter out of notebooks and logs.
    for name in ("whisperx", "whisperx.asr", "faster_whisper", "pyannote",
                 "lightning", "lightning.pytorch", "speechbrain"):
        logging.getLogger(name).setLevel(logging.WARNING)


def load_engine(
    model: str | os.PathLike[str] | None = None,
    *,
    device: str = "cpu",
    compute_type: str = "int8",
    threads: int | None = None,
) -> AsrEngine:
    """Load (once per process and thread count) the Whisper model for a device and type.

    ``threads``: CTranslate2 threads; None chooses from the cores available to this
    process and its sibling workers (:func:`pipeline_kit.base._threads.engine_threads`).
    """
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

    resolved = resolve_whisper_model(model)
    threads = engine_threads(threads)
    key = (str(resolved.path), device, compute_type, threads)
    with _engines_lock:
        if key in _engines:
            return _engines[key]
        if _threads.TORCH_LOADED_FIRST and os.environ.get(_threads.WAIT_POLICY) == "PASSIVE":
            log.warning("torch was imported before pipeline_kit, so its OpenMP threads spin "
                        "while idle and can slow transcription several times; import "
                        "pipeline_kit first or set OMP_WAIT_POLICY=PASSIVE before starting "
                        "Python")
        whisper = WhisperModel(str(resolved.path), device=device, compute_type=compute_type,
                               cpu_threads=threads, local_files_only=True)
        _quiet_logs()
        tokenizer = None
        if not whisper.model.is_multilingual or resolved.name.endswith(".en"):
            tokenizer = Tokenizer(whisper.hf_tokenizer, whisper.model.is_multilingual,
                                  task="transcribe", language="en")
        info = ModelInfo(
            name=resolved.name,
            path=str(resolved.path),
            weights_sha256=resolved.weights_sha256,
            device=device,
            compute_type=compute_type,
            threads=threads,
            vad=_vad.ENGINE,
        )
        engine = AsrEngine(whisper, tokenizer, DecodeOptions(), info, threads, threading.Lock())
        _engines[key] = engine
        return engine


def _decode_batch(
    engine: AsrEngine, tokenizer: Any, pieces: list[np.ndarray], word_times: bool,
    check: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Encode a batch once; decode it and (optionally) align words on the same encoder output.

    ``check`` runs between the three engine calls (encode, beam search, alignment),
    each of which cannot be interrupted; it may raise to stop (cancellation).
    """
    check = check or (lambda: None)
    model = engine.whisper
    feats = np.stack(
        [model.feature_extractor(a, padding=N_SAMPLES - a.shape[0]) for a in pieces]
    )
    encoder_output = model.encode(feats)
    check()
    out = _generate(engine, tokenizer, encoder_output, len(pieces))
    if word_times:
        check()
        frames = [
            min(math.ceil(a.shape[0] / SAMPLE_RATE * model.frames_per_second), 3000)
            for a in pieces
        ]
        tokens = [o["tokens"] for o in out]
        alignments = model.find_alignment(tokenizer, tokens, encoder_output, frames)
        for o, alignment in zip(out, alignments, strict=True):
            o["words"] = [
                {
                    "word": a["word"],
                    "start": float(a["start"]),
                    "end": float(a["end"]),
                    "probability": float(a["probability"]),
                }
                for a in alignment
                if a["word"].strip()
            ]
    return out


def _generate(engine: AsrEngine, tokenizer: Any, encoder_output: Any,
              n: int) -> list[dict[str, Any]]:
    """Beam search on encoded pieces: text, tokens and the scores the filter needs."""
    model = engine.whisper
    opts = engine.options
    prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
    results = model.model.generate(
        encoder_output,
        [prompt] * n,
        beam_size=opts.beam_size,
        patience=opts.patience,
        length_penalty=opts.length_penalty,
        max_length=model.max_length,
        suppress_blank=opts.suppress_blank,
        suppress_tokens=list(opts.suppress_tokens),
        no_repeat_ngram_size=opts.no_repeat_ngram_size,
        repetition_penalty=opts.repetition_penalty,
        return_scores=True,
        return_no_speech_prob=True,
    )
    out: list[dict[str, Any]] = []
    for r in results:
        toks = [t for t in r.sequences_ids[0] if t < tokenizer.eot]
        seq_len = len(r.sequences_ids[0])
        avg_logprob = r.scores[0] * (seq_len**opts.length_penalty) / (seq_len + 1)
        out.append(
            {
                "text": tokenizer.decode(toks),
                "tokens": toks,
                "avg_logprob": float(avg_logprob),
                "no_speech_prob": float(r.no_speech_prob),
                "words": [],
            }
        )
    return out


def is_speech(decoded: dict[str, Any]) -> bool:
    """False for a decoded piece that is most likely not speech (a hallucination).

    Stricter than Whisper's own rule (high no-speech probability *and* low average
    log-probability), which keeps "you" decoded from pure silence (log-prob -0.4).
    """
    if not decoded["text"].strip():
        return False
    return (decoded["no_speech_prob"] <= NO_SPEECH_PROB
            and decoded["avg_logprob"] >= VERY_LOW_LOGPROB)


def _merge_punctuation(words: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Attach stand-alone punctuation tokens to the word before (or after) them."""
    merged: list[dict[str, Any]] = []
    pending_prefix = ""
    for w in words:
        text = w["word"].strip()
        if text and all(not c.isalnum() for c in text):
            if merged and text[0] not in "\"'“¿([{":
                merged[-1]["word"] += text
                merged[-1]["end"] = max(merged[-1]["end"], w["end"])
            else:
                pending_prefix += text
            continue
        w = dict(w, word=pending_prefix + text)
        pending_prefix = ""
        merged.append(w)
    return merged


def interpolate_missing_times(
    words: list[dict[str, Any]], start: float, end: float
) -> list[dict[str, Any]]:
    """Fill words without ``start``/``end`` from their timed neighbours and mark them.

    Untimed runs are spread evenly between the previous word's end and the next
    word's start (or the segment edges); times are made non-decreasing.
    """
    out = [dict(w) for w in words]
    i = 0
    n = len(out)
    while i < n:
        if out[i].get("start") is not None and out[i].get("end") is not None:
            out[i].setdefault("interpolated", False)
            i += 1
            continue
        j = i
        while j < n and (out[j].get("start") is None or out[j].get("end") is None):
            j += 1
        left = out[i - 1]["end"] if i > 0 else start
        right = out[j]["start"] if j < n else end
        right = max(right, left)
        step = (right - left) / (j - i)
        for k in range(i, j):
            out[k]["start"] = left + (k - i) * step
            out[k]["end"] = left + (k - i + 1) * step
            out[k]["interpolated"] = True
        i = j
    last = start
    for w in out:
        w["start"] = min(max(w["start"], last), end)
        w["end"] = min(max(w["end"], w["start"]), end)
        last = w["start"]
    return out


def _load_aligner(language: str, align_model: str, device: str) -> tuple[Any, Any]:
    key = (language, align_model, device)
    with _engines_lock:
        if key not in _aligners:
            whisperx = _import_whisperx()
            _aligners[key] = whisperx.load_align_model(
                language_code=language, device=device, model_name=align_model,
                model_cache_only=True,
            )
        return _aligners[key]


def _wav2vec2_words(
    raw_segments: list[dict[str, Any]], audio: np.ndarray, language: str, align_model: str,
    device: str,
) -> list[list[dict[str, Any]]]:
    whisperx = _import_whisperx()
    model, metadata = _load_aligner(language, align_model, device)
    aligned = whisperx.align(
        [{"text": s["text"], "start": s["start"], "end": s["end"]} for s in raw_segments],
        model, metadata, audio, device, return_char_alignments=False,
    )
    # whisperx.align may split segments at sentence ends; regroup words by time.
    words = [w for s in aligned["segments"] for w in s.get("words", [])]
    grouped: list[list[dict[str, Any]]] = [[] for _ in raw_segments]
    k = 0
    for w in words:
        while k + 1 < len(raw_segments) and w.get("start") is not None and (
            w["start"] >= raw_segments[k + 1]["start"]
        ):
            k += 1
        grouped[k].append(
            {"word": w["word"], "start": w.get("start"), "end": w.get("end"),
             "probability": w.get("score")}
        )
    return grouped


def transcribe(
    audio: str | os.PathLike[str] | np.ndarray,
    model: str | os.PathLike[str] | None = None,
    *,
    device: str = "cpu",
    compute_type: str = "int8",
    batch_size: int = BATCH_SIZE,
    language: str | None = None,
    align_model: str | None = None,
    vad_chunk_seconds: float = 30.0,
    threads: int | None = None,
    progress: Progress | None = None,
) -> Transcript:
    """Transcribe audio (a file path or 16 kHz float32 samples) to a timed Transcript.

    ``model``: None for the bundled ``tiny.en``, another Whisper size name available
    offline, or a CTranslate2 model folder. ``align_model``: a local wav2vec2 model
    (folder or cached name) for WhisperX forced alignment; without it, or when it cannot
    be loaded offline (recorded in ``metadata["word_timing_fallback"]``), word times
    come from Whisper's cross-attention on the same encoder pass. ``threads``: engine
    threads (default: this process's share of the available cores, or
    ``$PIPELINE_KIT_THREADS``). ``batch_size``: VAD pieces per engine call (the last
    call may hold fewer); the transcript depends on it in the last bits of word
    probabilities, and on nothing else of the machine. ``progress`` gets
    ``update(done, total)`` after every VAD block (seconds of audio scanned) and every
    batch (seconds of speech decoded), each in its own part of the bar, and may cancel
    there.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if not 1 <= vad_chunk_seconds <= 30:
        raise ValueError(f"vad_chunk_seconds must be in [1, 30], got {vad_chunk_seconds}")
    n_threads = engine_threads(threads)
    progress = ensure_progress(progress)
    audio_sha = None
    if isinstance(audio, np.ndarray):
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"audio samples must be 1-D (mono 16 kHz), got shape {samples.shape}")
    else:
        from pipeline_kit.ingest._audio import existing_audio_file, load_audio

        path = existing_audio_file(audio)
        progress.update(0, step="Decoding audio")
        samples = load_audio(path)
        audio_sha = file_sha256(path)
    duration = samples.shape[0] / SAMPLE_RATE
    progress.update(0, step="Loading model")
    engine = load_engine(model, device=device, compute_type=compute_type, threads=n_threads)
    progress.check_cancelled()

    t0 = time.perf_counter()
    with engine.lock:
        pieces = _detect(samples, vad_chunk_seconds, duration, progress)
        tokenizer, language = _tokenizer(engine, samples, language)
        raw, rejected = _decode_all(engine, tokenizer, samples, pieces, batch_size, progress)

    method = METHOD_WHISPER
    metadata: dict[str, Any] = {
        "batch_size": batch_size, "vad_segments": len(pieces), "rejected_segments": rejected,
        "vad_engine": _vad.ENGINE,
        "threads": {"ctranslate2": engine.threads, "vad_onnxruntime": 1},
    }
    if align_model is not None and raw:
        progress.update(100, step="Aligning words (wav2vec2)")
        limit_torch(n_threads)
        try:
            grouped = _wav2vec2_words(raw, samples, language, align_model, device)
        except Exception as exc:  # no usable local model: keep Whisper's own word times
            reason = f"{type(exc).__name__}: {exc}".strip()[:500]
            log.warning("wav2vec2 alignment with %r unavailable, using Whisper word times: %s",
                        align_model, reason)
            metadata["word_timing_fallback"] = {"requested": align_model, "reason": reason}
        else:
            for seg, ws in zip(raw, grouped, strict=True):
                seg["words"] = ws
            method = METHOD_WAV2VEC2
            metadata["threads"]["torch"] = n_threads
    transcript = _build_transcript(raw, duration)
    elapsed = time.perf_counter() - t0
    progress.update(100, step="Transcription done")
    return Transcript(
        text=transcript[0],
        segments=transcript[1],
        words=transcript[2],
        language=language,
        confidence=_confidence(transcript[2], raw),
        model=engine.info,
        word_timing_method=method,
        processing_time_seconds=elapsed,
        audio_duration_seconds=duration,
        audio_sha256=audio_sha,
        metadata=metadata,
    )


def _detect(samples: np.ndarray, chunk_seconds: float, duration: float,
            progress: Progress) -> list[dict[str, Any]]:
    """Speech pieces from Silero VAD, reporting each block as seconds of audio scanned
    (the part ``VAD_PART`` of the task's bar; decoding counts seconds of speech)."""
    if duration <= 0:
        return []

    def on_block(done: int, total: int) -> None:
        progress.update(done / SAMPLE_RATE, duration, step="Detecting speech", within=VAD_PART)
        progress.check_cancelled()

    progress.update(0, duration, step="Detecting speech", within=VAD_PART)
    return _vad.detect_speech(samples, chunk_seconds, on_block=on_block)


def _decode_all(
    engine: AsrEngine, tokenizer: Any, samples: np.ndarray, pieces: list[dict[str, Any]],
    batch_size: int, progress: Progress,
) -> tuple[list[dict[str, Any]], int]:
    """Decode every VAD piece; return the kept segments and how many were rejected.

    Pieces go to the engine in consecutive batches of ``batch_size``, a schedule that
    depends on the pieces alone: CTranslate2's sums, and so word probabilities, differ
    in their last bits with the batch a piece is decoded in, so a schedule that adapted
    to wall time gave a loaded machine (or a process's first, slower call) another
    transcript. Progress and cancellation come after every batch.
    """
    total = sum(p["end"] - p["start"] for p in pieces)
    done_s = 0.0
    raw: list[dict[str, Any]] = []
    rejected = 0
    for i in range(0, len(pieces), batch_size):
        batch = pieces[i : i + batch_size]
        audio = [samples[int(p["start"] * SAMPLE_RATE) : int(p["end"] * SAMPLE_RATE)]
                 for p in batch]
        decoded = _decode_batch(engine, tokenizer, audio, word_times=True,
                                check=progress.check_cancelled)
        for p, d in zip(batch, decoded, strict=True):
            if not is_speech(d):
                rejected += 1
                continue
            offset = round(p["start"], 3)
            for w in d["words"]:
                w["start"] += offset
                w["end"] += offset
            raw.append(dict(d, start=offset, end=round(p["end"], 3)))
        done_s += sum(p["end"] - p["start"] for p in batch)
        progress.update(min(done_s, total), total, within=(VAD_PART[1], 100.0),
                        step=f"Transcribing segment {i + len(batch)}/{len(pieces)}")
        progress.check_cancelled()
    return raw, rejected


def _tokenizer(engine: AsrEngine, samples: np.ndarray, language: str | None) -> tuple[Any, str]:
    from faster_whisper.tokenizer import Tokenizer

    if engine.tokenizer is not None and language in (None, engine.tokenizer.language_code):
        return engine.tokenizer, engine.tokenizer.language_code
    model = engine.whisper
    if language is None:
        language = model.detect_language(samples[:N_SAMPLES])[0] if samples.size else "en"
    tok = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                    language=language)
    return tok, language


def _build_transcript(
    raw: list[dict[str, Any]], duration: float
) -> tuple[str, tuple[Segment, ...], tuple[Word, ...]]:
    words: list[Word] = []
    segments: list[Segment] = []
    for seg in raw:
        ws = _merge_punctuation(seg["words"]) if seg["words"] else []
        if not ws and seg["text"].strip():
            ws = [{"word": t, "start": None, "end": None, "probability": None}
                  for t in seg["text"].split()]
        ws = interpolate_missing_times(ws, seg["start"], min(seg["end"], duration))
        first = len(words)
        for w in ws:
            words.append(
                Word(w["word"].strip(), round(w["start"], 3), round(w["end"], 3),
                     w.get("probability"), bool(w.get("interpolated")))
            )
        segments.append(
            Segment(len(segments), seg["start"], seg["end"], seg["text"].strip(), first,
                    len(words), seg.get("avg_logprob"), seg.get("no_speech_prob"))
        )
    text = " ".join(s.text for s in segments)
    return text, tuple(segments), tuple(words)


def _confidence(words: tuple[Word, ...], raw: list[dict[str, Any]]) -> float:
    probs = [w.probability for w in words if w.probability is not None]
    if probs:
        return float(np.mean(probs))
    if raw:
        return float(np.exp(np.mean([s["avg_logprob"] for s in raw])))
    return 0.0
