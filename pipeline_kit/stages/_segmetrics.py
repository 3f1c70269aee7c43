"""Segmentation metrics over boundary index lists: Pk, WindowDiff, boundary P/R/F1.

A segmentation of ``n`` units (words or sentences) is given as the sorted list of
indices where a new segment *starts* (``0 < b < n``; 0 is implied and ignored).
Pk and WindowDiff are nltk's definitions (``nltk.metrics.segmentation``), with
``k`` defaulting to half the mean reference segment length, as nltk and the Choi
literature do. Also loads Choi (2000) ``.ref`` files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

CHOI_SEPARATOR = "=========="


def _clean(boundaries: Iterable[int], n: int, name: str) -> list[int]:
    """Sorted unique boundaries inside ``(0, n)``; 0 and ``n`` are dropped, others rejected."""
    out = sorted({int(b) for b in boundaries} - {0, n})
    if out and (out[0] < 0 or out[-1] > n):
        raise ValueError(f"{name} must lie within [0, {n}], got {out[0]}..{out[-1]}")
    return out


def to_mask(boundaries: Iterable[int], n: int) -> str:
    """nltk's string form: character ``i`` is ``"1"`` when a segment ends after unit ``i``."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    chars = ["0"] * n
    for b in _clean(boundaries, n, "boundaries"):
        chars[b - 1] = "1"
    return "".join(chars)


def default_k(ref_boundaries: Iterable[int], n: int) -> int:
    """Half the mean reference segment length (at least 1), nltk's default window."""
    segments = len(_clean(ref_boundaries, n, "ref_boundaries")) + 1
    return max(1, int(round(n / (segments * 2.0))))


def pk(ref_boundaries: Iterable[int], hyp_boundaries: Iterable[int], n: int,
       k: int | None = None) -> float:
    """Beeferman's Pk (lower is better): share of k-windows where ref and hyp disagree."""
    from nltk.metrics.segmentation import pk as nltk_pk

    return _window_metric(nltk_pk, ref_boundaries, hyp_boundaries, n, k)


def windowdiff(ref_boundaries: Iterable[int], hyp_boundaries: Iterable[int], n: int,
               k: int | None = None) -> float:
    """Pevzner & Hearst's WindowDiff (lower is better), nltk's definition."""
    from nltk.metrics.segmentation import windowdiff as nltk_wd

    return _window_metric(nltk_wd, ref_boundaries, hyp_boundaries, n, k)


def _window_metric(metric: Callable[..., float], ref_boundaries: Iterable[int],
                   hyp_boundaries: Iterable[int], n: int, k: int | None) -> float:
    """An nltk window metric on boundary masks, k defaulting to :func:`default_k`.

    A text no longer than the window scores 0 when the masks agree, else 1 (nltk
    would divide by zero).
    """
    ref = list(ref_boundaries)
    k = default_k(ref, n) if k is None else k
    ref_mask, hyp_mask = to_mask(ref, n), to_mask(hyp_boundaries, n)
    if n <= k:
        return 0.0 if ref_mask == hyp_mask else 1.0
    return float(metric(ref_mask, hyp_mask, k))


def boundary_prf(ref_boundaries: Iterable[int], hyp_boundaries: Iterable[int],
                 tolerance: int = 0) -> tuple[float, float, float]:
    """Boundary precision, recall, F1; a hyp boundary within ``tolerance`` units of an
    unmatched ref boundary counts as a hit (one-to-one, nearest first).

    Empty hyp gives precision 1.0 (nothing wrong was claimed); empty ref gives recall 1.0.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    ref = sorted(set(ref_boundaries))
    hyp = sorted(set(hyp_boundaries))
    pairs = sorted((abs(h - r), h, r) for h in hyp for r in ref if abs(h - r) <= tolerance)
    used_h: set[int] = set()
    used_r: set[int] = set()
    for _, h, r in pairs:
        if h not in used_h and r not in used_r:
            used_h.add(h)
            used_r.add(r)
    hits = len(used_h)
    precision = hits / len(hyp) if hyp else 1.0
    recall = hits / len(ref) if ref else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def segmentation_scores(ref_boundaries: Sequence[int], hyp_boundaries: Sequence[int], n: int,
                        k: int | None = None, tolerance: int = 0) -> dict[str, float]:
    """All metrics at once: precision, recall, f1, pk, windowdiff."""
    p, r, f = boundary_prf(ref_boundaries, hyp_boundaries, tolerance)
    return {"precision": p, "recall": r, "f1": f,
            "pk": pk(ref_boundaries, hyp_boundaries, n, k),
            "windowdiff": windowdiff(ref_boundaries, hyp_boundaries, n, k)}


def load_choi(path: str | Path) -> tuple[list[str], list[int]]:
    """Read a Choi ``.ref`` file: sentences, and the sentence indices that start a segment.

    Boundary indices exclude 0 (the first segment's start), matching this module's
    convention.
    """
    sentences: list[str] = []
    starts: list[int] = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        s = line.strip()
        if s == CHOI_SEPARATOR:
            if sentences and (not starts or starts[-1] != len(sentences)):
                starts.append(len(sentences))
        elif s:
            sentences.append(s)
    return sentences, [b for b in starts if 0 < b < len(sentences)]


def sentence_to_word_boundaries(sentences: Sequence[str], boundaries: Iterable[int]) -> list[int]:
    """Map sentence-index boundaries to word indices of ``" ".join(sentences).split()``."""
    starts = [0]
    for s in sentences:
        starts.append(starts[-1] + len(s.split()))
    return [starts[b] for b in boundaries]
