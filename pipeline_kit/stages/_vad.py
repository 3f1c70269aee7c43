"""Voice activity detection with Silero VAD as ONNX, the model faster-whisper bundles.

Why not WhisperX's pyannote VAD: it runs on torch/OpenMP, whose thread teams spin
and stall when the cores are oversubscribed (10-17x slower next to another busy
process). Silero is a small recurrent model; onnxruntime runs it on one thread at
about 1 % of real time, steadily under load. The model file ships inside the
faster-whisper wheel, so nothing is downloaded.

Scores are computed per block of audio so a caller gets progress and can cancel
between blocks. Regions are found with hysteresis (``onset``/``offset``), padded, and
merged into pieces of at most ``chunk_size`` seconds for Whisper.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
WINDOW = 512  # samples per score (32 ms), fixed by the model
CONTEXT = 64  # samples of the previous window the model also sees
BLOCK_WINDOWS = 940  # ~30 s of audio per ONNX call: progress/cancel granularity
RESTART_WINDOWS = 250  # 8 s: the passes from a zero state (see _restarted_max)
ENGINE = "silero-vad-onnx"


@dataclass(frozen=True)
class VadParams:
    """Hysteresis thresholds and padding, in probabilities and seconds."""

    onset: float = 0.5
    offset: float = 0.35
    min_speech: float = 0.1  # shorter regions are clicks, not words
    min_silence: float = 0.3  # shorter gaps are pauses inside speech
    pad: float = 0.4  # speech is padded by this much each side (Silero cuts tight)
    max_gap: float = 0.5  # longer silences (after padding: ~1.3 s of silence) end a piece
    short_item: float = 1.6  # shorter regions after a long silence are pieces of their own


@functools.lru_cache(maxsize=1)
def model_path() -> str:
    """The Silero ONNX file inside the installed faster-whisper package."""
    from faster_whisper.utils import get_assets_path

    path = os.path.join(get_assets_path(), "silero_vad_v6.onnx")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Silero VAD model missing from faster-whisper: {path}")
    return path


_sessions: dict[int, Any] = {}
_sessions_lock = threading.Lock()


def _session(threads: int) -> Any:
    with _sessions_lock:
        if threads not in _sessions:
            import onnxruntime

            opts = onnxruntime.SessionOptions()
            opts.inter_op_num_threads = 1
            opts.intra_op_num_threads = threads
            opts.enable_cpu_mem_arena = False
            opts.log_severity_level = 4
            _sessions[threads] = onnxruntime.InferenceSession(
                model_path(), providers=["CPUExecutionProvider"], sess_options=opts)
        return _sessions[threads]


def speech_probabilities(
    audio: np.ndarray, *, threads: int = 1,
    on_block: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """One speech probability per 32 ms window of 16 kHz ``audio``.

    ``on_block(done_samples, total_samples)`` is called after every ~30 s block; it
    may raise to stop (cancellation).
    """
    n = audio.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    padded = np.pad(audio.astype(np.float32, copy=False), (0, (-n) % WINDOW))
    windows = padded.reshape(-1, WINDOW)
    context = np.roll(windows[:, -CONTEXT:], 1, axis=0)
    context[0] = 0
    batched = np.concatenate([context, windows], axis=1)
    session = _session(threads)
    h, c = _zero_state(), _zero_state()
    out = np.zeros(batched.shape[0], dtype=np.float32)
    for i in range(0, batched.shape[0], BLOCK_WINDOWS):
        probs, h, c = session.run(None, {"input": batched[i:i + BLOCK_WINDOWS], "h": h, "c": c})
        carried = out[i:i + BLOCK_WINDOWS]  # restarted passes may have filled its start
        np.maximum(carried, np.asarray(probs).reshape(-1), out=carried)
        _restarted_max(session, batched, i, min(batched.shape[0], i + BLOCK_WINDOWS), out)
        if on_block is not None:
            on_block(min(n, (i + BLOCK_WINDOWS) * WINDOW), n)
    return out


def _zero_state() -> np.ndarray:
    return np.zeros((1, 1, 128), dtype=np.float32)


def _restarted_max(session: Any, batched: np.ndarray, lo: int, hi: int,
                   out: np.ndarray) -> None:
    """Raise ``out`` to the probabilities of passes restarted from a zero state every
    ``RESTART_WINDOWS // 2`` windows (those starting in ``lo..hi``), each
    ``RESTART_WINDOWS`` long, so every window is also scored by a model that has heard
    at most 8 s before it.

    Silero's recurrent state adapts to the recording's channel: after 27 s of one
    microphone, speech from another (a joined file, a phone call played in) scored
    below 0.05 for 12 s and was dropped from the transcript; the same speech alone
    scored 0.7-0.9.
    """
    for s in range(lo, hi, RESTART_WINDOWS // 2):
        probs, _, _ = session.run(None, {"input": batched[s:s + RESTART_WINDOWS],
                                         "h": _zero_state(), "c": _zero_state()})
        p = np.asarray(probs).reshape(-1)
        np.maximum(out[s:s + len(p)], p, out=out[s:s + len(p)])


def speech_regions(probs: np.ndarray, params: VadParams = VadParams(),
                   duration: float | None = None) -> list[tuple[float, float]]:
    """(start, end) seconds of speech from window probabilities, by hysteresis."""
    hop = WINDOW / SAMPLE_RATE
    end_limit = duration if duration is not None else len(probs) * hop
    regions: list[list[float]] = []
    start = None
    for i, p in enumerate(probs):
        if start is None and p >= params.onset:
            start = i
        elif start is not None and p < params.offset:
            regions.append([start * hop, i * hop])
            start = None
    if start is not None:
        regions.append([start * hop, len(probs) * hop])
    merged: list[list[float]] = []
    for r in regions:
        if merged and r[0] - merged[-1][1] < params.min_silence:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    kept = [r for r in merged if r[1] - r[0] >= params.min_speech]
    out: list[list[float]] = []
    for k, (s, e) in enumerate(kept):
        lo, hi = max(0.0, s - params.pad), min(end_limit, e + params.pad)
        if out and lo < out[-1][1]:  # paddings overlap: meet halfway between the speech
            lo = out[-1][1] = (kept[k - 1][1] + s) / 2
        out.append([lo, hi])
    return [(round(s, 3), round(e, 3)) for s, e in out]


def split_long(regions: list[tuple[float, float]], probs: np.ndarray,
               max_seconds: float) -> list[tuple[float, float]]:
    """Cut regions longer than ``max_seconds`` at their least speech-like window."""
    hop = WINDOW / SAMPLE_RATE
    out: list[tuple[float, float]] = []
    stack = list(reversed(regions))
    while stack:
        s, e = stack.pop()
        if e - s <= max_seconds:
            out.append((s, e))
            continue
        # search the second half of the allowed span, so pieces stay long
        lo = int((s + max_seconds / 2) / hop)
        hi = max(lo + 1, int((s + max_seconds) / hop))
        cut = (lo + int(np.argmin(probs[lo:hi]))) * hop if lo < len(probs) else s + max_seconds
        cut = min(max(cut, s + hop), s + max_seconds)
        out.append((s, round(cut, 3)))
        stack.append((round(cut, 3), e))
    return out


def isolated(regions: list[tuple[float, float]], short_item: float) -> list[bool]:
    """Per region: is it a short item that follows a long silence?

    After padding, neighbouring regions touch unless the silence between them is
    longer than twice the padding (~0.8 s); the start of the audio counts as
    silence. Such an item ("One.", "Two.", a heading before its section) is dropped
    by Whisper when it sits at the edge of a longer window, so it is decoded alone;
    what follows it is a separate region already (at least ``min_silence`` apart).
    """
    out = []
    for k, (s, e) in enumerate(regions):
        before = k == 0 or s - regions[k - 1][1] > 0.05
        out.append(e - s <= short_item and before)
    return out


def merge_regions(regions: list[tuple[float, float]], chunk_size: float,
                  max_gap: float = float("inf"),
                  short_item: float = 0.0) -> list[dict[str, Any]]:
    """Join neighbouring regions into pieces of at most ``chunk_size`` s (as WhisperX does).

    Regions more than ``max_gap`` s apart stay separate: Whisper tends to drop short
    items ("One.", "Two.") that sit between long silences in one window. For the same
    reason a short item after a long silence (:func:`isolated`) is a piece of its own.
    """
    alone = isolated(regions, short_item) if short_item > 0 else [False] * len(regions)
    pieces: list[dict[str, Any]] = []
    for k, (s, e) in enumerate(regions):
        if (pieces and not alone[k] and not (k and alone[k - 1])
                and e - pieces[-1]["start"] <= chunk_size and s - pieces[-1]["end"] <= max_gap):
            pieces[-1]["end"] = e
            pieces[-1]["segments"].append((s, e))
        else:
            pieces.append({"start": s, "end": e, "segments": [(s, e)]})
    return pieces


def detect_speech(
    audio: np.ndarray, chunk_size: float = 30.0, *, params: VadParams = VadParams(),
    threads: int = 1, on_block: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Speech pieces of at most ``chunk_size`` s: ``{"start", "end", "segments"}`` dicts."""
    probs = speech_probabilities(audio, threads=threads, on_block=on_block)
    duration = audio.shape[0] / SAMPLE_RATE
    regions = split_long(speech_regions(probs, params, duration), probs, chunk_size)
    return merge_regions(regions, chunk_size, params.max_gap, params.short_item)
