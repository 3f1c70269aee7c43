"""Speaker diarization: who speaks when, offline.

Default engine: Resemblyzer's speaker encoder (a 3-layer LSTM whose pretrained
weights ship inside the ``Resemblyzer`` wheel) embeds 1.6 s windows, every 0.4 s, of
the speech regions; the windows are clustered by spectral clustering of their cosine
affinity, and every 50 ms frame of speech takes the speaker whose centroid its
covering windows resemble most. Speech regions come from the transcript's words when
one is given, joined with the project's Silero VAD (at a lower threshold than
transcription's: far voices in meetings): words miss backchannels and crosstalk, the
VAD misses quiet speech; the union scored DER 0.339 vs 0.361 for words alone on AMI dev.

Deciding the count (issue 29: it invented speakers on single readers and was no better
than one speaker over the speech on unseen meetings): one speaker is the default answer.
The largest eigengap of the pruned affinity's normalised Laplacian proposes a count; then
a cluster is kept as a voice of its own only with evidence (:func:`merge_unclear`): its
windows cover at least ``min_talk`` = 7 s, and its windows and another cluster's each
prefer their own centroid by at least ``min_separation`` = 0.12 on average; runs shorter
than ``min_turn`` = 1.5 s join their neighbours; the overlap detector adds a second
speaker only among the voices found, never a new one. The three values were chosen on
the development set of ``tests/benchmarks/diarization_devset.py`` (AMI, pyannote's
sample, 50 single voices, 32 mixes of 2-5 real voices) by
``tests/benchmarks/bench_diarization_devset.py``, which scores every recording
leave-one-recording-out: single voices 48/50 exactly one speaker, mixes DER 0.214 vs
0.640 for one speaker over the detected speech, AMI 0.426 vs 0.440 (these embeddings do
not separate far-field meeting voices).

Earlier notes, from the eigengap alone, tuned on the AMI dev excerpts and the two-speaker
recording shipped with pyannote.audio (``tests/benchmarks/bench_diarization.py``):
average-linkage clustering with a cosine-distance threshold scored the same on AMI
(DER 0.36 vs 0.35, both mostly finding one dominant speaker) but no threshold that
kept AMI there found the second voice of the two-speaker recording (DER 0.53 vs 0.21).

Estimating the count better does not lower DER with these embeddings: given the gold
count, AMI dev scores 0.59 (vs 0.34 estimated; forcing 2 speakers: 0.48), since
Resemblyzer splits one dominant voice before it separates two far ones. NME-SC
(Park et al. 2019: binarised p-nearest affinity, p swept by the normalised eigengap
ratio, up to 8 speakers) scored 0.352; without the cap on p and count it found 16-20.

Overlapping speech: a logistic-regression detector on the windows' embeddings,
similarity and loudness (``_overlap.py``, fitted on AMI dev) gives a frame a second
speaker; its spans are ``Diarization.overlaps``. (Before it, a second speaker where
its score came close to the best one's was tried: it traded
missed speech for false alarms, no gain on AMI; limited to frames within 1 s of a
turn change, it gained 0.002 at a 0.03 margin and lost on the two-speaker sample at
0.06 or more: too little to keep. Extending both turns across each change point by
0.2-0.8 s gained 0.001 and cost the sample up to 0.19.)

Where the 0.339 is (AMI dev, collar 0): missed 0.275 (0.229 of it overlapped speech,
0.046 single-speaker speech the VAD and Whisper both miss, mostly trn01 and trn07), false
alarm 0.025, confusion 0.038. With confusion at 0, missed + false alarm is still 0.300:
the 0.30 goal needs overlap detection. The detector in ``_overlap.py`` gives 0.284
in-sample and 0.327 leave-one-file-out (LOO: refitted on the other 8 files, threshold
chosen there; 0.339 without it). Tried before it on these 9 files only, none kept:
resegmentation by per-speaker MFCC GMMs and a Viterbi switch penalty, 0.338-0.348 (it
can only move turns on the 2 files with more than one cluster; from the gold count it
gave 0.578 vs 0.594); the count by BIC of that resegmentation, 0.368 at best (one speaker
everywhere), LOO 0.383; a second speaker where the GMM posteriors of the two best are
both high, 0.340-0.350; where windows resemble their own centroid least, 0.321 in-sample
but all of it on trn09, LOO 0.363 (a logistic regression adding loudness and window
dispersion: LOO 0.355-0.376; frames outside the words: 0.353; periodicity: no signal,
AUC 0.50); webrtcvad or an energy-over-noise-floor VAD joined in: 68-100 s false alarm
to win back 16 s; VAD padding and merge gap: the defaults are best, LOO 0.365.

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

from pipeline_kit.base._models import ModelNotAvailableError, resolve_diarization_model
from pipeline_kit.base._progress import Progress, ensure_progress, to_percent
from pipeline_kit.base._threads import engine_threads, limit_torch, one_torch_thread
from pipeline_kit.stages import _overlap, _vad
from pipeline_kit.stages._types import Diarization, ModelInfo, SpeakerTurn, Transcript

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MEL_HOP = 0.01  # seconds per mel frame (Resemblyzer's 10 ms step)
MAX_SPEAKERS = 20
ENGINE = "resemblyzer"
BATCH = 64  # windows per encoder call: progress and cancel between calls
# The parts of the bar: speech detection (its seconds of audio scanned), then the
# speaker embeddings (its windows); clustering fills the rest.
VAD_PART = (0.0, 25.0)
EMBED_PART = (25.0, 75.0)
MAX_CLUSTERED = 1500  # windows clustered at most (every n-th); the rest join the nearest


@dataclass(frozen=True)
class EngineParams:
    """Window, clustering and smoothing settings of the default engine (tuned on AMI dev)."""

    window: float = 1.6  # seconds per embedded window (the encoder was trained on 1.6 s)
    hop: float = 0.4  # seconds between window starts
    threshold: float = 0.36  # cosine distance where merging clusters stops
    frame: float = 0.05  # resolution of the speaker decision, seconds
    min_turn: float = 1.5  # shorter runs of one speaker join their neighbours
    merge_gap: float = 0.5  # word gaps shorter than this stay inside one speech region
    vad_onset: float = 0.2  # Silero probability where speech starts (meetings: far voices)
    vad_offset: float = 0.14  # ... and where it ends
    vad_pad: float = 0.25  # seconds of padding around VAD speech
    refine: int = 2  # rounds of reassigning windows to the nearest centroid
    method: str = "spectral"  # or "agglomerative" (average linkage, cosine threshold)
    prune: float = 0.3  # share of strongest neighbours each window keeps (spectral)
    centre: bool = False  # subtract the recording's mean embedding before clustering
    regions: str = "union"  # with a transcript: "union" of its words and the VAD, or "words"
    overlap_threshold: float | None = 0.4  # detector probability for a second speaker; None: off
    min_talk: float = 7.0  # seconds of windows a speaker needs, else it joins its nearest
    min_separation: float = 0.12  # clusters whose windows prefer their own centroid by less merge


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
    ``num_speakers`` is the count to start from (voices the evidence cannot tell apart
    still merge); ``min_speakers == max_speakers`` forces the count; else it is estimated
    within ``min_speakers``..``max_speakers`` (each 1..20). ``model``: None for the bundled
    Resemblyzer engine, or a local pyannote pipeline folder / ``config.yaml``.
    Speakers are labelled ``SPEAKER_1..N`` in order of first appearance. Audio
    shorter than one window is one speaker; audio without speech has no turns.
    ``progress`` gets ``update`` per block of work and may cancel between blocks.
    """
    check_speaker_counts(num_speakers, min_speakers, max_speakers)
    progress = ensure_progress(progress)
    n_threads = engine_threads(threads)
    pipeline = config = None
    if model is not None:  # before any audio is read: a model that cannot load fails at once
        config = resolve_diarization_model(model)
        pipeline = _load_pyannote(config, n_threads, progress)
    samples = _samples(audio, progress)
    duration = samples.shape[0] / SAMPLE_RATE
    t0 = time.perf_counter()
    if config is not None:
        result = _pyannote(pipeline, config, samples, num_speakers, min_speakers, max_speakers,
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
    from pipeline_kit.ingest._audio import existing_audio_file, load_audio

    path = existing_audio_file(audio)
    progress.update(0, step="Decoding audio")
    return load_audio(path)


# ----------------------------------------------------------------------------- speech regions

def speech_regions(samples: np.ndarray, transcript: Transcript | None, params: EngineParams,
                   progress: Progress) -> list[tuple[float, float]]:
    """Where someone speaks: the VAD's regions, joined with the transcript's words if given.

    Each source misses what the other finds: words miss backchannels and crosstalk
    Whisper drops, the VAD misses quiet far speech Whisper still transcribes.
    """
    duration = samples.shape[0] / SAMPLE_RATE
    if duration <= 0:
        return []
    spans: list[tuple[float, float]] = []
    if transcript is not None:
        spans = [(w.start, w.end) for w in transcript.words] or [
            (s.start, s.end) for s in transcript.segments]
    if transcript is None or params.regions == "union":
        spans += _vad_regions(samples, params, progress, duration)
    return _join(sorted(spans), params.merge_gap, duration)


def _vad_regions(samples: np.ndarray, params: EngineParams, progress: Progress,
                 duration: float) -> list[tuple[float, float]]:
    def on_block(done: int, total: int) -> None:
        progress.update(done / SAMPLE_RATE, duration, step="Detecting speech", within=VAD_PART)
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


def embed_windows(samples: np.ndarray, wins: list[tuple[float, float]],
                  progress: Progress) -> np.ndarray:
    """One L2-normalised speaker embedding per window, shape (len(wins), 256).

    The LSTM runs on one torch thread: its 480 small steps per batch each end in a
    barrier of torch's OpenMP team, and with the cores oversubscribed (measured at a
    load of 9 on 2 cores) two threads took 6-14x longer than one (trn03: 17 s vs 2.9 s).
    """
    import torch

    encoder = _load_encoder()
    mel = _mel(samples)
    n_frames = int(round((wins[0][1] - wins[0][0]) / MEL_HOP))
    mel = np.pad(mel, ((0, n_frames), (0, 0)))
    idx = [int(round(s / MEL_HOP)) for s, _ in wins]
    out = []
    for b in range(0, len(idx), BATCH):
        batch = np.stack([mel[i:i + n_frames] for i in idx[b:b + BATCH]])
        with _encoder_lock, one_torch_thread(), torch.no_grad():
            out.append(encoder(torch.from_numpy(batch)).numpy())
        done = min(len(idx), b + BATCH)
        # a bare percentage: windows are no seconds of audio, the step counts them
        progress.update(to_percent(done, len(idx), EMBED_PART),
                        step=f"Embedding window {done}/{len(idx)}")
        progress.check_cancelled()
    emb = np.concatenate(out).astype(np.float64)
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9)


# ----------------------------------------------------------------------------- clustering

def cluster(emb: np.ndarray, num_speakers: int | None, min_speakers: int | None,
            max_speakers: int | None, params: EngineParams,
            wins: list[tuple[float, float]] | None = None) -> np.ndarray:
    """A cluster index per embedding (see :func:`spectral_labels`), then refined; clusters
    lacking evidence of a voice of their own then merge (:func:`merge_unclear`; ``wins``,
    the embeddings' windows, give their talk time), down to ``min_speakers`` at least.

    ``num_speakers`` replaces the estimated count as the number of clusters to start
    from; ``min_speakers == max_speakers`` forces an exact count. Measured on the
    development set (``bench_diarization_devset.py``), the gold count given this way never
    raised a group's mean DER (AMI 0.407 vs 0.426 estimated), while forcing it did
    (AMI 0.576: Resemblyzer splits the dominant voice before it finds a quiet one).
    """
    n = emb.shape[0]
    if n == 1 or num_speakers == 1:
        return np.zeros(n, dtype=int)
    hi = min(max_speakers or MAX_SPEAKERS, n)
    lo = min(min_speakers or 1, hi)  # never more clusters than windows
    x = centre(emb) if params.centre else emb
    step = max(1, int(np.ceil(n / MAX_CLUSTERED)))
    sample = x[::step]
    if params.method == "agglomerative":
        labels = _agglomerative(sample, num_speakers, lo, hi, params)
    else:
        labels = spectral_labels(sample, num_speakers, lo, hi, params)
    if labels.max() == 0:
        return np.zeros(n, dtype=int)
    full = _refine(x, np.argmax(x @ _centroids(sample, labels).T, axis=1), params.refine)
    spans = wins if wins is not None else [(i * params.hop, i * params.hop + params.window)
                                           for i in range(n)]
    return merge_unclear(x, spans, full, lo, params)


def separation(emb: np.ndarray, labels: np.ndarray, a: int, b: int) -> float:
    """How clearly clusters ``a`` and ``b`` are two voices: the smaller of the two clusters'
    mean margin by which their windows resemble their own centroid over the other's.

    Windows of one voice split in two prefer their own half by a few hundredths (the
    split follows noise); two voices separate by about a tenth or more.
    """
    c = _centroids(emb, labels)
    ks = list(np.unique(labels))
    ca, cb = c[ks.index(a)], c[ks.index(b)]
    margins = []
    for k, own, other in ((a, ca, cb), (b, cb, ca)):
        x = emb[labels == k]
        margins.append(float(np.mean(x @ own - x @ other)))
    return min(margins)


def talk_seconds(wins: list[tuple[float, float]], mask: np.ndarray) -> float:
    """Seconds covered by the windows where ``mask`` is true (their union)."""
    total, end = 0.0, -np.inf
    for s, e in sorted(w for w, m in zip(wins, mask, strict=True) if m):
        total += max(0.0, e - max(s, end))
        end = max(end, e)
    return total


def merge_unclear(emb: np.ndarray, wins: list[tuple[float, float]], labels: np.ndarray, lo: int,
                  params: EngineParams) -> np.ndarray:
    """Merge clusters without the evidence of a voice of their own, down to ``lo`` at least.

    One speaker is the default answer: a cluster whose windows cover less than
    ``params.min_talk`` seconds (:func:`talk_seconds`) joins the cluster its centroid
    resembles most, and of two clusters separated by less than ``params.min_separation``
    (:func:`separation`) the smaller joins the other; after each merge the windows are
    reassigned to the centroids.
    """
    labels = np.unique(labels, return_inverse=True)[1]
    while labels.max() + 1 > max(1, lo):
        ks, sizes = np.unique(labels, return_counts=True)
        c = _centroids(emb, labels)
        sim = c @ c.T
        np.fill_diagonal(sim, -np.inf)
        talk = np.array([talk_seconds(wins, labels == k) for k in ks])
        small = int(np.argmin(talk))
        if talk[small] < params.min_talk:
            into = int(np.argmax(sim[small]))
        else:
            pairs = [(separation(emb, labels, int(ks[i]), int(ks[j])), i, j)
                     for i in range(ks.size) for j in range(i + 1, ks.size)]
            sep, i, j = min(pairs)
            if sep >= params.min_separation:
                break
            small, into = (i, j) if sizes[i] < sizes[j] else (j, i)
        labels = np.where(labels == ks[small], ks[into], labels)
        labels = _refine(emb, labels, params.refine)
    return labels


def centre(emb: np.ndarray) -> np.ndarray:
    """Embeddings minus the recording's mean, re-normalised.

    Resemblyzer's embeddings of one recording all share the room and microphone:
    raw cosine similarities sit around 0.7 between speakers and 0.75-0.8 within one;
    without the shared part they spread to about -0.2 and 0.2. Off by default
    (``EngineParams.centre``): on AMI it split single dominant speakers (DER 0.51 vs 0.35).
    """
    c = emb - emb.mean(axis=0)
    return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-9)


def spectral_labels(x: np.ndarray, num_speakers: int | None, lo: int, hi: int,
                    params: EngineParams) -> np.ndarray:
    """Spectral clustering of the pruned cosine affinity; the eigengap picks the count.

    Each row keeps its ``params.prune`` share of strongest neighbours (so one loud
    speaker does not link to everyone), the graph is symmetrised, and the number of
    speakers is where the normalised Laplacian's eigenvalues jump most.
    """
    from sklearn.cluster import KMeans

    n = x.shape[0]
    sim = x @ x.T
    np.fill_diagonal(sim, 0.0)
    keep = max(2, int(np.ceil(params.prune * n)))
    cut = np.partition(sim, n - keep, axis=1)[:, n - keep][:, None]
    aff = np.where(sim >= cut, np.clip(sim, 0.0, None) + 1e-3, 0.0)
    aff = (aff + aff.T) / 2
    deg = aff.sum(axis=1)
    d = 1.0 / np.sqrt(np.maximum(deg, 1e-9))
    lap = np.eye(n) - d[:, None] * aff * d[None, :]
    vals, vecs = np.linalg.eigh(lap)
    if num_speakers is not None:
        k = min(num_speakers, n)
    else:
        gaps = np.diff(vals[: hi + 1])
        k = int(np.argmax(gaps[lo - 1: hi]) + lo) if hi > lo else lo
    if k <= 1:
        return np.zeros(n, dtype=int)
    v = vecs[:, :k]
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    return KMeans(k, n_init=10, random_state=0).fit(v).labels_


def _agglomerative(x: np.ndarray, num_speakers: int | None, lo: int, hi: int,
                   params: EngineParams) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    if num_speakers is not None:
        k = min(num_speakers, x.shape[0])
    else:
        found = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                        distance_threshold=params.threshold).fit(x)
        k = int(min(max(found.n_clusters_, lo), hi))
    if k <= 1:
        return np.zeros(x.shape[0], dtype=int)
    return AgglomerativeClustering(n_clusters=k, metric="cosine",
                                   linkage="average").fit(x).labels_


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
                 emb: np.ndarray, labels: np.ndarray,
                 params: EngineParams) -> list[tuple[float, float, int]]:
    """(start, end, cluster) runs over the speech regions at ``params.frame`` resolution.

    A frame's score for a speaker is the mean similarity to that speaker's centroid
    of the windows covering it (the nearest window when none covers it).
    """
    scores = emb @ _centroids(emb, labels).T  # (windows, speakers)
    starts = np.array([s for s, _ in wins])
    ends = np.array([e for _, e in wins])
    mids = (starts + ends) / 2
    runs: list[tuple[float, float, int]] = []
    for s, e in regions:
        n = max(1, int(round((e - s) / params.frame)))
        step = (e - s) / n
        hit = np.flatnonzero((ends > s) & (starts < e))
        total, count = _overlap.covering_sums(starts[hit], ends[hit], scores[hit], n, s, step)
        empty = np.flatnonzero(count < 0.5)
        if empty.size:
            centres = s + (empty + 0.5) * step
            total[empty] = scores[np.argmin(np.abs(mids[None, :] - centres[:, None]), axis=1)]
        edges = s + step * np.arange(n + 1)
        runs += _smooth(edges, np.argmax(total, axis=1), params.min_turn)
    return runs


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
    info = ModelInfo(name="resemblyzer-voice-encoder", device="cpu", threads=1,
                     weights_sha256=encoder_sha256(),
                     vad=None if transcript is not None else _vad.ENGINE)
    meta: dict[str, Any] = {"engine": ENGINE, "params": asdict(params),
                            "threads": {"torch_encoder": 1, "clustering": threads},
                            "regions_from": _regions_from(transcript, params)}
    progress.update(0, step="Finding speech")
    regions = speech_regions(samples, transcript, params, progress)
    if not regions:
        return Diarization((), (), f"{ENGINE}:no-speech", (), duration, info, meta)
    if duration < params.window:
        turns, speakers = label_turns([(s, e, 0) for s, e in regions])
        meta["note"] = f"audio shorter than one {params.window} s window: one speaker"
        return Diarization(turns, speakers, f"{ENGINE}:single-window", (), duration, info, meta)
    wins = windows(regions, params, duration)
    emb = embed_windows(samples, wins, progress)
    progress.update(EMBED_PART[1], step="Clustering speakers")
    progress.check_cancelled()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):  # BLAS and OpenMP of numpy/scikit-learn: our share
        labels = cluster(emb, num_speakers, min_speakers, max_speakers, params, wins)
    x = centre(emb) if params.centre else emb
    runs = frame_labels(regions, wins, x, labels, params)
    overlaps: tuple[tuple[float, float], ...] = ()
    if params.overlap_threshold is not None and labels.max() > 0:
        extra, overlaps = second_speakers(samples, regions, wins, x, labels,
                                          params.overlap_threshold, params.min_turn)
        runs += extra
    turns, speakers = label_turns(runs)
    meta.update(windows=len(wins), speech_seconds=round(sum(e - s for s, e in regions), 3),
                estimated=num_speakers is None,
                overlap_seconds=round(sum(e - s for s, e in overlaps), 3))
    return Diarization(turns, speakers, f"{ENGINE}+{params.method}", overlaps, duration, info,
                       meta)


def second_speakers(samples: np.ndarray, regions: list[tuple[float, float]],
                    wins: list[tuple[float, float]], emb: np.ndarray, labels: np.ndarray,
                    threshold: float, min_turn: float
                    ) -> tuple[list[tuple[float, float, int]], tuple[tuple[float, float], ...]]:
    """Runs of a second speaker where the overlap detector fires, and those spans.

    Runs shorter than ``min_turn`` are dropped, as short one-speaker runs are: a blip
    of 0.05-0.25 s is no one talking over (it was all the detector found in 221 s of one
    reader).
    """
    frames = _overlap.frame_features(samples, regions, wins, emb, _centroids(emb, labels))
    overlapped = _overlap.probabilities(frames, *_overlap.load_weights()) > threshold
    extra = [r for r in _overlap.second_speaker_runs(frames, overlapped)
             if r[1] - r[0] >= min_turn]
    spans = _join(sorted((s, e) for s, e, _ in extra), 1e-6, samples.shape[0] / SAMPLE_RATE)
    return extra, tuple((round(s, 3), round(e, 3)) for s, e in spans)


def _regions_from(transcript: Transcript | None, params: EngineParams) -> str:
    if transcript is None:
        return "vad"
    return "transcript+vad" if params.regions == "union" else "transcript"


def encoder_sha256() -> str | None:
    """sha256 of the Resemblyzer weights file (None when the package is missing)."""
    import importlib.util

    from pipeline_kit.base._models import weights_sha256

    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or spec.origin is None:
        return None
    return weights_sha256(Path(spec.origin).parent)


def _load_pyannote(config: Path, threads: int, progress: Progress) -> Any:
    """The pyannote.audio pipeline of a local ``config.yaml``; ModelNotAvailableError if
    it cannot be loaded offline (its checkpoints missing, a hub name in it)."""
    limit_torch(threads)
    progress.update(0, step="Loading pyannote pipeline")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pyannote.audio import Pipeline

        try:
            pipeline = Pipeline.from_pretrained(config)
        except Exception as exc:
            raise ModelNotAvailableError(
                f"pyannote pipeline {config} could not be loaded offline "
                f"({type(exc).__name__}: {str(exc)[:300]}); its config.yaml must name model "
                "checkpoints that exist locally") from exc
    if pipeline is None:
        raise ModelNotAvailableError(f"pyannote pipeline {config} could not be loaded offline")
    return pipeline


def _pyannote(pipeline: Any, path: Path, samples: np.ndarray, num_speakers: int | None,
              min_speakers: int | None, max_speakers: int | None, threads: int,
              progress: Progress) -> Diarization:
    """Run a loaded pyannote.audio pipeline on the samples (its own VAD and clustering)."""
    import torch

    limit_torch(threads)
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
    info = ModelInfo(name=f"pyannote:{path.parent.name}", path=str(path), device="cpu",
                     threads=threads)
    return Diarization(turns, speakers, f"pyannote:{path}", overlaps,
                       samples.shape[0] / SAMPLE_RATE, info, {"engine": "pyannote"})
