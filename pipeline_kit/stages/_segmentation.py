"""Unsupervised topic segmentation of a sentence sequence (the core of chapter analysis).

Method ("modularity DP"):

1. Two sentence-similarity matrices: *lexical* (cosine of TF-IDF vectors of
   Porter-stemmed content words, fitted on the text itself) and *semantic*
   (cosine of sentence embeddings, MiniLM by default).
2. Each is turned into a modularity gain ``B = S - γ · d dᵀ / 2m`` (``d`` = row sums,
   diagonal and negative similarities dropped): a pair of sentences gains when it is
   more similar than expected for two sentences of that connectedness. ``γ`` (the
   *resolution*) sets how fine the segmentation is. The two gains, each scaled to
   mean absolute value 1, are mixed with weight ``lexical_weight``.
3. Dynamic programming picks the contiguous partition maximising the sum of the gain
   over all pairs inside the same segment. Because the gain is centred, the number of
   segments follows from the text; with ``target_count`` it is fixed instead.

Segment-length prior. With ``prior="fixed"`` every segment has at least ``min_length``
sentences, which suits even documents but can never find a one- or two-sentence
section. ``prior="estimated"`` lets the document show where its short sections are,
without labels: a segment shorter than ``min_length`` (down to one sentence) is allowed
where the unconstrained DP (``min_length=1``) finds it at the chosen resolution *and*
at a coarser one (γ × 0.85), i.e. where the short segment is stable across the
resolution; unstable short segments (a stray low-content sentence) stay forbidden.
``min_short`` (default 1) is the fewest sentences such a segment may have.

Measured (``tests/benchmarks/bench_segmentation_prior.py``, one run; Pk / WindowDiff;
"uneven": 20 documents joining 6 Choi gold segments and 4 of 1-2 sentences; "short":
those 1-2 sentence segments found with both ends exact):

=============== ============= ============= ============= =============== ==========
prior           Choi 3-5      Choi 6-8      Choi 9-11     Choi 3-11       uneven
=============== ============= ============= ============= =============== ==========
fixed           0.052 / 0.052 0.057 / 0.060 0.037 / 0.045 0.054 / 0.056   0.159 / 0.183, short 0/80
estimated       0.071 / 0.086 0.059 / 0.088 0.041 / 0.071 0.059 / 0.079   0.113 / 0.151, short 27/80
estimated, 2+   0.063 / 0.063 0.056 / 0.061 0.037 / 0.045 0.054 / 0.057   0.128 / 0.155, short 11/80
no boundary     0.462         0.465         0.471         0.460           0.358
=============== ============= ============= ============= =============== ==========

The estimated prior costs Pk on even text (Choi 3-5 most), so ``"fixed"`` stays the default.

Boundaries are returned as the sentence indices ``b`` (``0 < b < n``) where a new
segment starts; 0 is never included, so ``[]`` means one segment.
Cost is O(n²) time and memory in the number of sentences.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from pipeline_kit.stages._embeddings import Embedder, get_embedder

if TYPE_CHECKING:
    from scipy.sparse import spmatrix

# Rows of sentence vectors: embeddings (dense) or TF-IDF (scipy sparse), both L2-normalised.
Vectors: TypeAlias = "np.ndarray | spmatrix"

METHODS = ("hybrid", "lexical", "semantic")
PRIORS = ("fixed", "estimated")
# Resolution factors at which a short segment must recur to count as stable (see above).
STABILITY_SCALES = (0.85, 1.0)
DEFAULT_OPTIONS: dict[str, float] = {
    # Tuned on Choi 3-5, 6-8 and 9-11 (dev); the surface is flat around these values.
    "lexical_weight": 0.4,
    "lexical_resolution": 1.5,
    "semantic_resolution": 1.7,
}
_TOKEN_RE = re.compile(r"[a-z][a-z'-]*[a-z]")


def check_options(method: str, min_length: object, target_count: object,
                  options: dict[str, Any], prior: object = "fixed",
                  min_short: object = 1) -> dict[str, float]:
    """Validate the arguments of :func:`segment_sentences`; return the full option set."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if prior not in PRIORS:
        raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
    if isinstance(min_short, bool) or not isinstance(min_short, int) or min_short < 1:
        raise ValueError(f"min_short must be an integer >= 1, got {min_short!r}")
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        raise ValueError(f"min_length must be an integer >= 1, got {min_length!r}")
    if target_count is not None and (isinstance(target_count, bool)
                                     or not isinstance(target_count, int) or target_count < 1):
        raise ValueError(f"target_count must be an integer >= 1 or None, got {target_count!r}")
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown}; known: {sorted(DEFAULT_OPTIONS)}")
    opts = {**DEFAULT_OPTIONS, **options}
    for name, value in opts.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    if opts["lexical_weight"] > 1:
        raise ValueError(f"lexical_weight must be in [0, 1], got {opts['lexical_weight']!r}")
    return opts


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    from nltk.stem import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=100_000)
def _stem(word: str) -> str:
    return _stemmer().stem(word)


def content_terms(text: str) -> list[str]:
    """Stemmed content words of a text: lower-cased, stop words and 1–2 letter words dropped."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return [_stem(w) for w in _TOKEN_RE.findall(text.lower()) if w not in ENGLISH_STOP_WORDS]


def lexical_vectors(sentences: Sequence[str]) -> spmatrix:  # rows L2-normalised
    """TF-IDF rows (sublinear tf) of stemmed content words, fitted on these sentences."""
    from scipy.sparse import csr_matrix
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(analyzer=content_terms, sublinear_tf=True)
    try:
        return vec.fit_transform(list(sentences))
    except ValueError:  # no content word at all
        return csr_matrix((len(sentences), 1), dtype=np.float64)


def cosine_matrix(x: Vectors) -> np.ndarray:
    """Dense ``x xᵀ`` of row-normalised vectors (dense or sparse)."""
    s = x @ x.T
    return np.asarray(s.toarray() if hasattr(s, "toarray") else s, dtype=np.float64)


def modularity_gain(sim: np.ndarray, resolution: float) -> np.ndarray:
    """``S - γ d dᵀ / 2m`` with zero diagonal, scaled to mean absolute value 1."""
    s = np.maximum(np.asarray(sim, dtype=np.float64), 0.0)
    np.fill_diagonal(s, 0.0)
    degree = s.sum(axis=1)
    total = degree.sum()
    if total <= 0:
        return np.zeros_like(s)
    gain = s - resolution * np.outer(degree, degree) / total
    np.fill_diagonal(gain, 0.0)
    scale = np.abs(gain).mean()
    return gain / scale if scale > 0 else gain


def gain_matrix(sentences: Sequence[str], *, method: str = "hybrid",
                embeddings: np.ndarray | None = None,
                lexical_weight: float = DEFAULT_OPTIONS["lexical_weight"],
                lexical_resolution: float = DEFAULT_OPTIONS["lexical_resolution"],
                semantic_resolution: float = DEFAULT_OPTIONS["semantic_resolution"]) -> np.ndarray:
    """The pairwise gain the partition maximises; ``embeddings`` needed unless lexical."""
    n = len(sentences)
    total = np.zeros((n, n))
    w_lex = {"lexical": 1.0, "semantic": 0.0}.get(method, lexical_weight)
    if w_lex > 0:
        total += w_lex * modularity_gain(cosine_matrix(lexical_vectors(sentences)),
                                         lexical_resolution)
    if w_lex < 1:
        if embeddings is None or len(embeddings) != n:
            raise ValueError("embeddings with one row per sentence are needed for "
                             f"method {method!r}")
        total += (1 - w_lex) * modularity_gain(cosine_matrix(embeddings), semantic_resolution)
    return total


def _block_sums(gain: np.ndarray) -> np.ndarray:
    n = len(gain)
    p = np.zeros((n + 1, n + 1))
    p[1:, 1:] = gain.cumsum(0).cumsum(1)
    return p


def _allowed(n: int, min_length: int, durations: tuple[np.ndarray, np.ndarray] | None,
             min_seconds: float | None, cues: np.ndarray | None = None,
             short: Iterable[tuple[int, int]] = ()) -> np.ndarray:
    """``ok[a, b]``: may ``[a, b)`` be a segment (length and duration rules).

    With ``cues`` (per start index ``0..n``, True where a strong boundary cue is),
    a segment shorter than ``min_length`` is still allowed when both its ends are
    cues (the start and end of the text count as cues) and it holds at least two
    rows: a short section introduced by a heading and followed by another.
    ``short``: further ``(a, b)`` segments allowed whatever their length.
    """
    a = np.arange(n + 1)[:, None]
    b = np.arange(n + 1)[None, :]
    ok = (b - a) >= min_length
    for first, stop in short:
        ok[first, stop] = True
    if cues is not None and n:
        ends = np.asarray(cues, dtype=bool).copy()
        ends[0] = ends[n] = True
        ok |= ends[a] & ends[b] & ((b - a) >= 2)
    if durations is not None and min_seconds:
        start, end = durations
        st = np.append(start, end[-1] if n else 0.0)
        en = np.insert(end, 0, start[0] if n else 0.0)
        ok &= (en[b] - st[a]) >= min_seconds
    return ok


def best_partition(gain: np.ndarray, *, min_length: int = 1, target_count: int | None = None,
                   durations: tuple[np.ndarray, np.ndarray] | None = None,
                   min_seconds: float | None = None, cues: np.ndarray | None = None,
                   start_bonus: np.ndarray | None = None,
                   short: Iterable[tuple[int, int]] = ()) -> list[int]:
    """Segment starts (excluding 0) of the partition maximising within-segment gain.

    Every segment has at least ``min_length`` rows and, when ``durations`` (per-row
    start and end times) are given, lasts at least ``min_seconds``. When no split
    satisfies the rules the whole sequence is one segment. With ``target_count`` the
    partition has exactly that many segments (``ValueError`` if impossible).
    ``cues`` (bool per row index, length ``n`` or ``n + 1``): rows where a strong
    boundary cue is (a spoken heading); short segments between two cues are allowed
    (:func:`_allowed`). ``start_bonus`` (per row index): added to the gain of a
    segment starting there (0 excluded), to favour or discourage boundaries.
    ``short``: ``(a, b)`` segments allowed below ``min_length`` (:func:`stable_short_segments`).
    """
    n = len(gain)
    if n == 0:
        if target_count not in (None, 1):
            raise ValueError(f"target_count={target_count} but there are no sentences")
        return []
    p = _block_sums(gain)
    cue = np.zeros(n + 1, dtype=bool)
    if cues is not None:
        c = np.asarray(cues, dtype=bool)[: n + 1]
        cue[: len(c)] = c
    cue[0] = False
    ok = _allowed(n, min_length, durations, min_seconds, cue if cue.any() else None, short)
    idx = np.arange(n + 1)
    bonus = np.zeros(n + 1)
    if start_bonus is not None:
        sb = np.asarray(start_bonus, dtype=np.float64)[: n + 1]
        bonus[1: len(sb)] = sb[1:]

    def block(b: int) -> np.ndarray:  # gain of [a, b) for every a, with a's cue bonus
        return p[b, b] - p[idx, b] - p[b, idx] + p[idx, idx] + bonus

    if target_count is None:
        best = np.full(n + 1, -np.inf)
        best[0] = 0.0
        back = np.zeros(n + 1, dtype=int)
        for b in range(1, n + 1):
            v = np.where(ok[:, b], best + block(b), -np.inf)
            back[b] = int(np.argmax(v[:b]))  # first maximum: prefers fewer, earlier cuts
            best[b] = v[back[b]]
        if not np.isfinite(best[n]):
            return []
        return _trace(back, n)

    k_max = target_count
    best = np.full((k_max + 1, n + 1), -np.inf)
    best[0, 0] = 0.0
    back = np.zeros((k_max + 1, n + 1), dtype=int)
    blocks = np.stack([block(b) for b in range(n + 1)], axis=1)  # blocks[a, b]
    blocks = np.where(ok, blocks, -np.inf)
    for k in range(1, k_max + 1):
        cand = best[k - 1][:, None] + blocks  # [a, b]
        back[k] = np.argmax(cand, axis=0)
        best[k] = cand[back[k], idx]
    if not np.isfinite(best[k_max, n]):
        raise ValueError(f"cannot make {target_count} segments of {n} sentences with "
                         f"min_length={min_length}"
                         + (f" and min_seconds={min_seconds}" if min_seconds else ""))
    out, b = [], n
    for k in range(k_max, 0, -1):
        b = int(back[k, b])
        if b > 0:
            out.append(b)
    return sorted(out)


def _trace(back: np.ndarray, n: int) -> list[int]:
    out, b = [], n
    while b > 0:
        b = int(back[b])
        if b > 0:
            out.append(b)
    return sorted(out)


def _segments(starts: Sequence[int], n: int) -> set[tuple[int, int]]:
    edges = [0, *starts, n]
    return set(zip(edges, edges[1:], strict=False))


def stable_short_segments(gains: Sequence[np.ndarray], shorter_than: int,
                          shortest: int = 1) -> set[tuple[int, int]]:
    """Segments ``(a, b)`` of ``shortest <= b - a < shorter_than`` rows that the
    unconstrained DP (``min_length=1``) finds under every gain (one gain per resolution):
    the short sections the document itself supports, stable across the resolution."""
    if not gains or shorter_than <= shortest:
        return set()
    n = len(gains[0])
    found = [{(a, b) for a, b in _segments(best_partition(g, min_length=1), n)
              if shortest <= b - a < shorter_than} for g in gains]
    return set.intersection(*found)


def estimated_short_segments(gain: np.ndarray, gain_at: Callable[[float], np.ndarray],
                             shorter_than: int, shortest: int) -> set[tuple[int, int]]:
    """The short segments the estimated prior allows: :func:`stable_short_segments` over
    ``gain`` and the gains at the other ``STABILITY_SCALES`` (``gain_at(factor)``)."""
    gains = [gain if f == 1.0 else gain_at(f) for f in STABILITY_SCALES]
    return stable_short_segments(gains, shorter_than=shorter_than, shortest=shortest)


def embed_sentences(sentences: Sequence[str], method: str,
                    embedder: Embedder | str | None) -> np.ndarray | None:
    """One ``encode`` call for all sentences, or ``None`` for the lexical method."""
    if method == "lexical" or not sentences:
        return None
    return np.asarray(get_embedder(embedder).encode(list(sentences)), dtype=np.float64)


def segment_sentences(
    sentences: Sequence[str],
    *,
    embedder: Embedder | str | None = None,
    method: str = "hybrid",
    min_length: int = 3,
    target_count: int | None = None,
    prior: str = "fixed",
    min_short: int = 1,
    **options: float,
) -> list[int]:
    """Indices ``b`` (``0 < b < len(sentences)``) of the sentences that start a new segment.

    ``method``: ``"hybrid"`` (lexical + embeddings, the default and most accurate),
    ``"lexical"`` (TF-IDF only, model-free and fast) or ``"semantic"`` (embeddings
    only). ``embedder``: as :func:`get_embedder` (``None`` = bundled MiniLM).
    ``min_length``: fewest sentences per segment. ``target_count``: exact number of
    segments; ``None`` finds it from the text. ``options``: ``lexical_weight``,
    ``lexical_resolution``, ``semantic_resolution`` (higher = more segments).
    ``prior``: ``"fixed"`` (every segment has ``min_length`` sentences) or
    ``"estimated"`` (segments of ``min_short`` up to ``min_length - 1`` sentences too,
    where the document supports them; see the module docs). ``"estimated"`` suits
    uneven texts; on even ones (Choi) it costs a little Pk, hence not the default. With
    ``"fixed"``, a text shorter than ``2 * min_length`` sentences is one segment.
    """
    opts = check_options(method, min_length, target_count, options, prior, min_short)
    sentences = [str(s) for s in sentences]
    if target_count is not None and target_count * min_length > len(sentences):
        raise ValueError(f"target_count={target_count} needs at least "
                         f"{target_count * min_length} sentences at min_length={min_length}, "
                         f"got {len(sentences)}")
    if not sentences:
        return []
    emb = embed_sentences(sentences, method, embedder)
    gain = gain_matrix(sentences, method=method, embeddings=emb, **opts)
    short: set[tuple[int, int]] = set()
    if prior == "estimated":
        short = estimated_short_segments(
            gain, lambda f: gain_matrix(sentences, method=method, embeddings=emb,
                                        **scaled_resolution(opts, f)),
            shorter_than=min_length, shortest=min_short)
    return best_partition(gain, min_length=min_length, target_count=target_count, short=short)


def scaled_resolution(opts: dict[str, float], factor: float) -> dict[str, float]:
    """The options with both resolutions multiplied by ``factor``."""
    return {**opts, "lexical_resolution": opts["lexical_resolution"] * factor,
            "semantic_resolution": opts["semantic_resolution"] * factor}
