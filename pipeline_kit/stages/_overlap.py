"""Overlapped speech: 50 ms frames where a second speaker talks over the first.

Why: on AMI meetings 0.21 of the scored speaker time is spoken over someone else, and
an engine that gives each frame one speaker misses all of it (with no speaker confused
at all, missed + false alarm would still be DER 0.300 on AMI dev). No overlap model
ships offline, so a logistic regression on features the diarizer already has decides:
the mean Resemblyzer embedding of the windows covering the frame (minus the
recording's mean), its similarity to the best speaker's centroid (raw and relative to
the recording's median), the frame's loudness relative to the speech's median, and how
much the covering windows disagree. Two voices at once make a window unlike any one
speaker's, and louder.

Its weights (``_overlap_weights.py``) are fitted on the 9 AMI dev excerpts by
``tests/benchmarks/train_overlap.py``; the diarization benchmark reports the DER it
gives there and, honestly, leave-one-file-out (the detector refitted without the file
it scores). A frame labelled overlapped gets a second speaker: the speaker whose
centroid it resembles second best. In a recording with one speaker found the diarizer
does not run it at all: a new speaker from the detector alone would be a speaker invented
without the evidence the count asks for (issue 29). Runs of it shorter than
``EngineParams.min_turn`` are dropped (the diarizer does that).

Limits, measured: it is a meeting detector. Where it fires on AMI it is mostly right
(precision 0.72-1.0 on trn04/06/08/09) but finds a quarter to a half of the overlap;
on a clean digital mix of two read voices (the Austen reader with pyannote's sample
voice at 0.5-2x level) it finds none, and on one reader it stays silent (Austen,
221 s of LJ Speech).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME = 0.05  # seconds per decision frame
SMOOTH = 10  # frames in the moving average of the scalar features (0.5 s)
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Frames:
    """Per-frame view of one recording: frame centres, speech mask, speaker scores, features."""

    t: np.ndarray  # (T,) frame centres, seconds
    speech: np.ndarray  # (T,) bool: inside a speech region
    scores: np.ndarray  # (T, K) mean similarity of the covering windows to each centroid
    x: np.ndarray  # (T, D) detector features (zero outside speech)


def frame_features(samples: np.ndarray, regions: list[tuple[float, float]],
                   wins: list[tuple[float, float]], emb: np.ndarray,
                   centroids: np.ndarray) -> Frames:
    """The detector's features for every 50 ms frame (see the module docstring)."""
    n = max(1, int(round(samples.shape[0] / SAMPLE_RATE / FRAME)))
    t = (np.arange(n) + 0.5) * FRAME
    speech = np.zeros(n, dtype=bool)
    for s, e in regions:
        speech |= (t >= s) & (t < e)
    starts = np.array([s for s, _ in wins])
    ends = np.array([e for _, e in wins])
    scores = emb @ centroids.T
    sums, count = covering_sums(starts, ends, np.hstack([emb, scores]), n)
    nearest = np.argmin(np.abs(((starts + ends) / 2)[None, :] - t[:, None]), axis=1)
    empty = count < 0.5
    mean = np.where(empty[:, None], np.hstack([emb, scores])[nearest],
                    sums / np.maximum(count, 1)[:, None])
    e_mean, s_mean = mean[:, :emb.shape[1]], mean[:, emb.shape[1]:]
    # mean pairwise similarity of the covering windows, diagonal included: |sum|^2 / n^2
    spread = np.where(count > 1, 1 - np.sum(sums[:, :emb.shape[1]] ** 2, axis=1)
                      / np.maximum(count, 1) ** 2, 0.0)
    best = _smooth(s_mean.max(axis=1), speech)
    rel = best - np.median(best[speech]) if speech.any() else best
    loud = _smooth(_loudness(samples, n, speech), speech)
    centred = np.where(speech[:, None], e_mean - e_mean[speech].mean(axis=0)
                       if speech.any() else e_mean, 0.0)
    x = np.hstack([centred, np.stack([rel, best, loud, _smooth(spread, speech)], axis=1)])
    return Frames(t, speech, s_mean, np.where(speech[:, None], x, 0.0))


def covering_sums(starts: np.ndarray, ends: np.ndarray, values: np.ndarray, n: int,
                  origin: float = 0.0, step: float = FRAME) -> tuple[np.ndarray, np.ndarray]:
    """Per frame ``j`` (centre ``origin + (j + 0.5) * step``): the sum of ``values`` of the
    windows covering its centre, and their count (a difference array, O(windows + n))."""
    lo = np.clip(np.ceil((starts - origin) / step - 0.5), 0, n).astype(int)
    hi = np.clip(np.ceil((ends - origin) / step - 0.5), 0, n).astype(int)
    total = np.zeros((n + 1, values.shape[1]))
    count = np.zeros(n + 1)
    np.add.at(total, lo, values)
    np.add.at(total, hi, -values)
    np.add.at(count, lo, 1)
    np.add.at(count, hi, -1)
    return np.cumsum(total, axis=0)[:n], np.cumsum(count)[:n]


def _loudness(samples: np.ndarray, n: int, speech: np.ndarray) -> np.ndarray:
    """RMS level of each frame in dB, relative to the median over the speech frames."""
    step = int(FRAME * SAMPLE_RATE)
    padded = np.pad(samples.astype(np.float64), (0, max(0, n * step - samples.shape[0])))
    rms = np.sqrt(np.mean(padded[: n * step].reshape(n, step) ** 2, axis=1))
    db = 20 * np.log10(rms + 1e-6)
    return db - (np.median(db[speech]) if speech.any() else 0.0)


def _smooth(x: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Moving average over ``SMOOTH`` frames, of speech frames only."""
    kernel = np.ones(SMOOTH)
    weight = np.convolve(speech.astype(float), kernel, "same")
    return np.convolve(np.where(speech, x, 0.0), kernel, "same") / np.maximum(weight, 1e-9)


def probabilities(frames: Frames, coef: np.ndarray, intercept: float) -> np.ndarray:
    """The detector's probability that each frame is overlapped (0 outside speech)."""
    p = 1.0 / (1.0 + np.exp(-(frames.x @ coef + intercept)))
    return np.where(frames.speech, p, 0.0)


def fit(xs: list[np.ndarray], ys: list[np.ndarray], c: float) -> tuple[np.ndarray, float]:
    """Logistic-regression weights from speech frames' features and overlap labels."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=2000).fit(np.concatenate(xs), np.concatenate(ys))
    return model.coef_[0], float(model.intercept_[0])


def second_speaker_runs(frames: Frames, overlapped: np.ndarray) -> list[tuple[float, float, int]]:
    """(start, end, speaker) runs of the second speaker over the overlapped frames.

    The second speaker is the cluster a frame resembles second best; with one cluster,
    a new one (index 1), since whoever talks over the only speaker found is someone else.
    """
    k = frames.scores.shape[1]
    second = (np.argsort(-frames.scores, axis=1)[:, 1] if k >= 2
              else np.full(frames.t.size, k))
    mask = overlapped & frames.speech
    runs: list[tuple[float, float, int]] = []
    i = 0
    while i < mask.size:
        if not mask[i]:
            i += 1
            continue
        j = i
        while j < mask.size and mask[j] and second[j] == second[i]:
            j += 1
        runs.append((float(frames.t[i] - FRAME / 2), float(frames.t[j - 1] + FRAME / 2),
                     int(second[i])))
        i = j
    return runs


def load_weights() -> tuple[np.ndarray, float]:
    """The shipped detector weights (fitted on AMI dev)."""
    from pipeline_kit.stages._overlap_weights import COEF, INTERCEPT

    return np.asarray(COEF, dtype=np.float64), float(INTERCEPT)
