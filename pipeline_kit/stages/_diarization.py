"""Speaker diarization: who speaks when, offline.

Default engine: Resemblyzer's speaker encoder (a 3-layer LSTM whose pretrained
weights ship inside the ``Resemblyzer`` wheel) embeds overlapping windows of the
speech regions; the windows are clustered by cosine similarity with scikit-learn's
agglomerative clustering, and every short frame of speech takes the speaker whose
centroid its covering windows resemble most. Speech regions come from the
transcript's words when one is given (they are already found), else from the
project's Silero VAD.

The number of speakers, when not given, is where average-linkage clustering stops
at a cosine-distance threshold tuned on the AMI dev excerpts (see
``tests/benchmarks/bench_diarization.py``): on 30 s meeting excerpts with few
windows per speaker, the eigengap of the affinity was less stable than a fixed
threshold.

Overlapping speech is not detected (``overlaps=()``): every frame gets one speaker.

A local pyannote pipeline (``model=`` a folder with ``config.yaml`` or that file)
runs through pyannote.audio instead, offline.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._models import ModelNotAvailableError, resolve_diarization_model
from .._progress import Progress, ensure_progress
from .._threads import engine_threads, limit_torch
from . import _vad
from ._types import Diarization, ModelInfo, SpeakerTurn, Transcript

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MEL_HOP = 0.01  # seconds per mel frame (Resemblyzer's 10 ms step)
MAX_SPEAKERS = 20
ENGINE = "resemblyzer"
BATCH = 64  # windows per encoder call: progress and cancel between calls


@dataclass(frozen=True)
class EngineParams:
    """Window, clustering and smoothing settings of the default engine (tuned on AMI dev)."""

    window: float = 1.6  # seconds per embedded window (the encoder was trained on 1.6 s)
    hop: float = 0.4  # seconds between window starts
    threshold: float = 0.36  # cosine distance where merging clusters stops
    frame: float = 0.05  # resolution of the speaker decision, seconds
    min_turn: float = 0.3  # shorter runs of one speaker join their neighbours
    merge_gap: float = 0.5  # word gaps shorter than this stay inside one speech region
    vad_onset: float = 0.2  # Silero probability where speech starts (meetings: far voices)
    vad_offset: float = 0.14  # ... and where it ends
    vad_pad: float = 0.25  # seconds of padding around VAD speech
    overlap_margin: float = 0.0  # a second speaker where its score is this close to the best
    min_overlap: float = 0.3  # shorter overlap runs are dropped
    refine: int = 2  # rounds of reassigning windows to the nearest centroid


DEFAULT_PARAMS = EngineParams()


def check_speaker_counts(num_speakers: int | None, min_speakers: int | None,
                         max_speakers: int | None) -> None:
    """ValueError naming the problem when speaker counts are out of range or contradict."""
    for name, value in (("num_speakers", num_speakers), ("min_speakers", min_speakers),
                        ("max_speakers", max_speakers)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer from 1 to {MAX_SPEAKERS}, got {value!r}")
        if not 1 <= value <= MAX_SPEAKERS:
            raise ValueError(f"{name} must be from 1 to {MAX_SPEAKERS}, got {value}")
    if min_speakers is not None and max_speakers is not None and min_speakers > max_speakers:
        raise ValueError(f"min_speakers ({min_speakers}) is greater than max_speakers "
                         f"({max_speakers})")
    if num_speakers is not None:
        for name, bound, bad in (("min_speakers", min_speakers, lambda b: num_speakers < b),
                                 ("max_speakers", max_speakers, lambda b: num_speakers > b)):
            if bound is not None and bad(bound):
                raise ValueError(f"num_speakers ({num_speakers}) contradicts {name} ({bound})")


# ----------------------------------------------------------------------------- entry point

def diarize(
    audio: str | os.PathLike[str] | np.ndarray,
    transcript: Transcript | None = None,
    num_speakers: int | None = None,
    min_speakers: int | None = None,
    max_speakers: int | None = None,
    model: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    *,
    params: EngineParams = DEFAULT_PARAMS,
    threads: int | None = None,
) -> Diarization:
    """Speaker turns of ``audio`` (a file or 16 kHz mono float32 samples).

    ``transcript``: its words give the speech regions (else Silero VAD finds them).
    ``num_speakers`` fixes the count; else it is estimated within
    ``min_speakers``..``max_speakers`` (each 1..20). ``model``: None for the bundled
    Resemblyzer engine, or a local pyannote pipeline folder / ``config.yaml``.
    Speakers are labelled ``SPEAKER_1..N`` in order of first appearance. Audio
    shorter than one window is one speaker; audio without speech has no turns.
    ``progress`` gets ``update`` per block of work and may cancel between blocks.
    """
    check_speaker_counts(num_speakers, min_speakers, max_speakers)
    pyannote_path = resolve_diarization_model(model) if model is not None else None
    progress = ensure_progress(progress)
    n_threads = engine_threads(threads)
    samples = _samples(audio, progress)
    duration = samples.shape[0] / SAMPLE_RATE
    t0 = time.perf_counter()
    if pyannote_path is not None:
        result = _pyannote(pyannote_path, samples, num_speakers, min_speakers, max_speakers,
                           n_threads, progress)
    else:
        result = _resemblyzer(samples, transcript, num_speakers, min_speakers, max_speakers,
                              params, n_threads, progress)
    progress.update(100, step="Diarization done")
    meta = dict(result.metadata, processing_time_seconds=round(time.perf_counter() - t0, 3))
    return Diarization(result.turns, result.speakers, result.method, result.overlaps,
                       duration, result.model, meta)


def _samples(audio: str | os.PathLike[str] | np.ndarray, progress: Progress) -> np.ndarray:
    if isinstance(audio, np.ndarray):
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"audio samples must be 1-D (mono 16 kHz), got shape {samples.shape}")
        return samples
    from ._audio import load_audio

    path = Path(audio)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    progress.update(0, step="Decoding audio")
    return load_audio(path)


# ----------------------------------------------------------------------------- speech regions

def speech_regions(samples: np.ndarray, transcript: Transcript | None, params: EngineParams,
                   progress: Progress) -> list[tuple[float, float]]:
    """Where someone speaks: the transcript's words joined across short gaps, else VAD."""
    duration = samples.shape[0] / SAMPLE_RATE
    if transcript is not None:
        spans = [(w.start, w.end) for w in transcript.words] or [
            (s.start, s.end) for s in transcript.segments]
        return _join(sorted(spans), params.merge_gap, duration)
    if duration <= 0:
        return []

    def on_block(done: int, total: int) -> None:
        progress.update(done / SAMPLE_RATE, 4 * duration, step="Detecting speech")
        progress.check_cancelled()

    probs = _vad.speech_probabilities(samples, on_block=on_block)
    vad = _vad.VadParams(onset=params.vad_onset, offset=params.vad_offset, pad=params.vad_pad)
    return [(s, e) for s, e in _vad.speech_regions(probs, vad, duration) if e > s]


def _join(spans: list[tuple[float, float]], gap: float,
          duration: float) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for s, e in spans:
        s, e = max(0.0, s), min(duration, e)
        if e <= s:
            continue
        if out and s - out[-1][1] < gap:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(a, b) for a, b in out]


# ----------------------------------------------------------------------------- embeddings

def windows(regions: list[tuple[float, float]], params: EngineParams,
            duration: float) -> list[tuple[float, float]]:
    """Windows of ``params.window`` s covering each region (a short region: one, centred)."""
    w, out = params.window, []
    for s, e in regions:
        if e - s <= w:
            mid = (s + e) / 2
            lo = min(max(0.0, mid - w / 2), max(0.0, duration - w))
            out.append((lo, lo + w))
            continue
        n = int(np.ceil((e - s - w) / params.hop)) + 1
        starts = np.linspace(s, e - w, n)
        out += [(float(a), float(a) + w) for a in starts]
    return out


_encoder: Any = None
_encoder_lock = threading.Lock()


def _load_encoder() -> Any:
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from resemblyzer import VoiceEncoder

                _encoder = VoiceEncoder("cpu", verbose=False)
        return _encoder


def _mel(samples: np.ndarray) -> np.ndarray:
    """Resemblyzer's (linear) mel spectrogram of the whole recording, volume-normalised."""
    from resemblyzer import audio as ra

    wav = samples
    if np.any(wav):
        wav = ra.normalize_volume(wav, ra.audio_norm_target_dBFS, increase_only=True)
    return ra.wav_to_mel_spectrogram(wav.astype(np.float32))


def embed_windows(samples: np.ndarray, wins: list[tuple[float, float]], threads: int,
                  progress: Progress, duration: float) -> np.ndarray:
    """One L2-normalised speaker embedding per window, shape (len(wins), 256)."""
    import torch

    limit_torch(threads)
    encoder = _load_encoder()
    mel = _mel(samples)
    n_frames = int(round((wins[0][1] - wins[0][0]) / MEL_HOP))
    mel = np.pad(mel, ((0, n_frames), (0, 0)))
    idx = [int(round(s / MEL_HOP)) for s, _ in wins]
    out = []
    for b in range(0, len(idx), BATCH):
        batch = np.stack([mel[i:i + n_frames] for i in idx[b:b + BATCH]])
        with torch.no_grad():
            out.append(encoder(torch.from_numpy(batch)).numpy())
        done = min(len(idx), b + BATCH)
        progress.update(duration + 2 * duration * done / len(idx), 4 * duration,
                        step=f"Embedding window {done}/{len(idx)}")
        progress.check_cancelled()
    emb = np.concatenate(out).astype(np.float64)
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)


# ----------------------------------------------------------------------------- clustering

def cluster(emb: np.ndarray, num_speakers: int | None, min_speakers: int | None,
            max_speakers: int | None, params: EngineParams) -> np.ndarray:
    """A cluster index per embedding: average-linkage on cosine distance, then refined."""
    from sklearn.cluster import AgglomerativeClustering

    n = emb.shape[0]
    if n == 1 or num_speakers == 1:
        return np.zeros(n, dtype=int)
    lo, hi = min_speakers or 1, min(max_speakers or MAX_SPEAKERS, n)
    if num_speakers is not None:
        k = min(num_speakers, n)
    else:
        found = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                        distance_threshold=params.threshold).fit(emb)
        k = int(min(max(found.n_clusters_, lo), hi))
        if k == found.n_clusters_:
            return _refine(emb, found.labels_, params.refine)
    if k <= 1:
        return np.zeros(n, dtype=int)
    labels = AgglomerativeClustering(n_clusters=k, metric="cosine",
                                     linkage="average").fit(emb).labels_
    return _refine(emb, labels, params.refine)


def _centroids(emb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    ks = np.unique(labels)
    c = np.stack([emb[labels == k].mean(axis=0) for k in ks])
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)


def _refine(emb: np.ndarray, labels: np.ndarray, rounds: int) -> np.ndarray:
    """Reassign each window to its nearest centroid (k-means steps on the sphere)."""
    labels = np.unique(labels, return_inverse=True)[1]
    for _ in range(rounds):
        new = np.argmax(emb @ _centroids(emb, labels).T, axis=1)
        new = np.unique(new, return_inverse=True)[1]
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


# ----------------------------------------------------------------------------- turns

def frame_labels(regions: list[tuple[float, float]], wins: list[tuple[float, float]],
                 emb: np.ndarray, labels: np.ndarray, params: EngineParams,
                 ) -> tuple[list[tuple[float, float, int]], list[tuple[float, float, int]]]:
    """(start, end, cluster) runs over the speech regions at ``params.frame`` resolution,
    and the runs of a second speaker where two seem to talk at once.

    A frame's score for a speaker is the mean similarity to that speaker's centroid
    of the windows covering it (the nearest window when none covers it). A second
    speaker is added where its score is within ``params.overlap_margin`` of the best.
    """
    scores = emb @ _centroids(emb, labels).T  # (windows, speakers)
    starts = np.array([s for s, _ in wins])
    ends = np.array([e for _, e in wins])
    mids = (starts + ends) / 2
    runs: list[tuple[float, float, int]] = []
    second: list[tuple[float, float, int]] = []
    for s, e in regions:
        n = max(1, int(round((e - s) / params.frame)))
        edges = np.linspace(s, e, n + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        cover = (starts[None, :] <= centres[:, None]) & (ends[None, :] > centres[:, None])
        nearest = np.argmin(np.abs(mids[None, :] - centres[:, None]), axis=1)
        cover[np.arange(n), nearest] |= ~cover.any(axis=1)
        frame_score = (cover.astype(float) @ scores) / cover.sum(axis=1, keepdims=True)
        main = _smooth(edges, np.argmax(frame_score, axis=1), params.min_turn)
        runs += main
        if params.overlap_margin > 0 and scores.shape[1] > 1:
            second += _second_speaker(edges, frame_score, main, params)
    return runs, second


def _second_speaker(edges: np.ndarray, frame_score: np.ndarray,
                    main: list[tuple[float, float, int]],
                    params: EngineParams) -> list[tuple[float, float, int]]:
    """Runs where the best other speaker scores within the margin of the frame's speaker."""
    centres = (edges[:-1] + edges[1:]) / 2
    own = np.zeros(len(centres), dtype=int)
    for a, b, k in main:
        own[(centres >= a) & (centres < b)] = k
    others = frame_score.copy()
    others[np.arange(len(own)), own] = -np.inf
    alt = np.argmax(others, axis=1)
    close = frame_score[np.arange(len(own)), own] - others[np.arange(len(own)), alt]
    flag = close < params.overlap_margin
    out: list[tuple[float, float, int]] = []
    i = 0
    while i < len(flag):
        if not flag[i]:
            i += 1
            continue
        j = i
        while j < len(flag) and flag[j] and alt[j] == alt[i]:
            j += 1
        if edges[j] - edges[i] >= params.min_overlap:
            out.append((float(edges[i]), float(edges[j]), int(alt[i])))
        i = j
    return out


def _smooth(edges: np.ndarray, best: np.ndarray, min_turn: float) -> list[tuple[float, float, int]]:
    """Runs of equal labels; a run shorter than ``min_turn`` takes its longer neighbour's."""
    runs: list[list[Any]] = []
    for i, k in enumerate(best):
        if runs and runs[-1][2] == k:
            runs[-1][1] = edges[i + 1]
        else:
            runs.append([edges[i], edges[i + 1], int(k)])
    changed = True
    while changed and len(runs) > 1:
        changed = False
        shortest = min(range(len(runs)), key=lambda i: runs[i][1] - runs[i][0])
        r = runs[shortest]
        if r[1] - r[0] >= min_turn:
            break
        left = runs[shortest - 1] if shortest > 0 else None
        right = runs[shortest + 1] if shortest + 1 < len(runs) else None
        take = max((x for x in (left, right) if x is not None), key=lambda x: x[1] - x[0])
        take[0], take[1] = min(take[0], r[0]), max(take[1], r[1])
        del runs[shortest]
        merged: list[list[Any]] = []
        for x in runs:
            if merged and merged[-1][2] == x[2]:
                merged[-1][1] = x[1]
            else:
                merged.append(x)
        runs, changed = merged, True
    return [(float(a), float(b), int(k)) for a, b, k in runs]


def label_turns(runs: list[tuple[float, float, int]]) -> tuple[tuple[SpeakerTurn, ...],
                                                                 tuple[str, ...]]:
    """Turns labelled SPEAKER_1..N in order of first appearance, and those labels.

    Runs of one speaker that touch or overlap become one turn.
    """
    names: dict[int, str] = {}
    spans: list[list[Any]] = []
    last: dict[int, list[Any]] = {}
    for s, e, k in sorted(runs):
        names.setdefault(k, f"SPEAKER_{len(names) + 1}")
        if k in last and s <= last[k][1] + 1e-6:
            last[k][1] = max(last[k][1], e)
        else:
            last[k] = [s, e, k]
            spans.append(last[k])
    turns = tuple(SpeakerTurn(round(s, 3), round(e, 3), names[k]) for s, e, k in spans)
    return turns, tuple(names.values())


# ----------------------------------------------------------------------------- engines

def _resemblyzer(samples: np.ndarray, transcript: Transcript | None, num_speakers: int | None,
                 min_speakers: int | None, max_speakers: int | None, params: EngineParams,
                 threads: int, progress: Progress) -> Diarization:
    duration = samples.shape[0] / SAMPLE_RATE
    info = ModelInfo(name="resemblyzer-voice-encoder", device="cpu", threads=threads,
                     weights_sha256=encoder_sha256(),
                     vad=None if transcript is not None else _vad.ENGINE)
    meta: dict[str, Any] = {"engine": ENGINE, "params": asdict(params),
                            "regions_from": "transcript" if transcript is not None else "vad"}
    progress.update(0, step="Finding speech")
    regions = speech_regions(samples, transcript, params, progress)
    if not regions:
        return Diarization((), (), f"{ENGINE}:no-speech", (), duration, info, meta)
    if duration < params.window:
        turns, speakers = label_turns([(s, e, 0) for s, e in regions])
        meta["note"] = f"audio shorter than one {params.window} s window: one speaker"
        return Diarization(turns, speakers, f"{ENGINE}:single-window", (), duration, info, meta)
    wins = windows(regions, params, duration)
    emb = embed_windows(samples, wins, threads, progress, duration)
    progress.update(3 * duration, 4 * duration, step="Clustering speakers")
    labels = cluster(emb, num_speakers, min_speakers, max_speakers, params)
    runs, second = frame_labels(regions, wins, emb, labels, params)
    turns, speakers = label_turns(runs + second)
    overlaps = _overlaps(second)
    meta.update(windows=len(wins), speech_seconds=round(sum(e - s for s, e in regions), 3),
                estimated=num_speakers is None)
    return Diarization(turns, speakers, f"{ENGINE}+agglomerative", overlaps, duration, info,
                       meta)


def _overlaps(second: list[tuple[float, float, int]]) -> tuple[tuple[float, float], ...]:
    """(start, end) of the second-speaker runs, joined where they touch."""
    out: list[list[float]] = []
    for s, e, _ in sorted(second):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return tuple((round(a, 3), round(b, 3)) for a, b in out)


def encoder_sha256() -> str | None:
    """sha256 of the Resemblyzer weights file (None when the package is missing)."""
    import importlib.util

    from .._models import weights_sha256

    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or spec.origin is None:
        return None
    return weights_sha256(Path(spec.origin).parent)


def _pyannote(path: Path, samples: np.ndarray, num_speakers: int | None,
              min_speakers: int | None, max_speakers: int | None, threads: int,
              progress: Progress) -> Diarization:
    """Run a local pyannote.audio pipeline on the samples (its own VAD and clustering)."""
    import torch

    limit_torch(threads)
    progress.update(0, step="Loading pyannote pipeline")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyannote.audio import Pipeline

        try:
            pipeline = Pipeline.from_pretrained(path)
        except Exception as exc:
            raise ModelNotAvailableError(
                f"pyannote pipeline {path} could not be loaded offline "
                f"({type(exc).__name__}: {exc}); its config.yaml must name model files "
                "that exist locally") from exc
    if pipeline is None:
        raise ModelNotAvailableError(f"pyannote pipeline {path} could not be loaded offline")
    progress.check_cancelled()
    progress.update(10, step="Diarizing (pyannote)")
    kwargs = {k: v for k, v in (("num_speakers", num_speakers), ("min_speakers", min_speakers),
                                ("max_speakers", max_speakers)) if v is not None}
    waveform = torch.from_numpy(np.ascontiguousarray(samples))[None, :]
    out = pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE}, **kwargs)
    annotation = getattr(out, "speaker_diarization", out)
    runs = [(seg.start, seg.end, label)
            for seg, _, label in annotation.itertracks(yield_label=True)]
    order = {lab: i for i, lab in enumerate(dict.fromkeys(lab for _, _, lab in sorted(runs)))}
    turns, speakers = label_turns([(s, e, order[lab]) for s, e, lab in runs])
    overlaps = tuple((round(s.start, 3), round(s.end, 3))
                     for s in annotation.get_overlap().support())
    info = ModelInfo(name=f"pyannote:{path.name}", path=str(path), device="cpu", threads=threads)
    return Diarization(turns, speakers, f"pyannote:{path}", overlaps,
                       samples.shape[0] / SAMPLE_RATE, info, {"engine": "pyannote"})
