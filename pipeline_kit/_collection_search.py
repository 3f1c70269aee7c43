"""Search over a collection's chunks, in memory: BM25 (SciPy sparse), exact cosine (NumPy)
and their reciprocal-rank fusion.

DuckDB's full-text extension is not bundled with its wheel (it would be fetched at
run time), so keyword scores are computed here: terms are hashed into 2**20
columns (no vocabulary to keep, so each run's term counts are computed once at
index time and simply stacked), and the BM25 weight of every (chunk, term) is
computed once when the searcher loads. A query then sums a few sparse columns.
Tokens are hashed with crc32 (stable across processes, unlike ``hash``).
"""

from __future__ import annotations

import contextlib
import itertools
import re
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse

from pipeline_kit.stages._keyphrases import singular

N_FEATURES = 2**20
K1, B = 1.2, 0.75
RRF_K = 60
# Semantic search's first pass (see Reduced): from REDUCE_FROM rows on (below, the exact
# product is cheap), over REDUCED_DIMS principal components, keeping CANDIDATES rows for
# the exact re-rank. Measured at 500,000 synthetic chunks (bench_collection.py), where
# ~330 near-copies of each chunk differ only by noise the components drop, the exact
# top 20 came out for 25 % of queries with 64 dims and 256 candidates, 58 % with 64 and
# 2,000, 95 % with 128 and 2,000 (99 % of the rows in common).
REDUCE_FROM = 100_000
REDUCED_DIMS = 128
CANDIDATES = 2_000
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


# Function words that carry no topic (a short fixed list: importing scikit-learn's
# would cost seconds per process).
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself
yourselves also may might must shall upon us yet
""".split())
_cols: dict[str, int] = {}  # token -> hashed column (-1: a stop word), memoised


def _column(token: str) -> int:
    col = _cols.get(token)
    if col is None:
        col = -1 if token in STOP_WORDS else zlib.crc32(singular(token).encode()) % N_FEATURES
        if len(_cols) < 2_000_000:
            _cols[token] = col
    return col


def terms(text: str) -> list[str]:
    """Lower-case word tokens without stop words, each made singular ("Printers" -> "printer")."""
    return [singular(t) for t in _TOKEN_RE.findall(text.lower()) if t not in STOP_WORDS]


def term_counts(texts: Sequence[str]) -> sparse.csr_matrix:
    """(texts × hashed terms) raw counts; a term's column is a crc32 of its singular form.

    Tokens are factorised first (pandas, in C), so only distinct tokens reach Python.
    """
    import pandas as pd

    tokens = [_TOKEN_RE.findall(t.lower()) for t in texts]
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(texts))
    flat = list(itertools.chain.from_iterable(tokens))
    if not flat:
        return sparse.csr_matrix((len(texts), N_FEATURES), dtype=np.float32)
    codes, distinct = pd.factorize(pd.Series(flat, dtype=object))
    cols = np.fromiter(map(_column, distinct), dtype=np.int64, count=len(distinct))[codes]
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    keep = cols >= 0
    keys, counts = np.unique(rows[keep] * N_FEATURES + cols[keep], return_counts=True)
    return sparse.csr_matrix((counts.astype(np.float32), (keys // N_FEATURES, keys % N_FEATURES)),
                             shape=(len(texts), N_FEATURES))


def query_columns(q: str) -> np.ndarray:
    """Hashed columns of the query's distinct terms."""
    cols = {c for c in map(_column, _TOKEN_RE.findall(q.lower())) if c >= 0}
    return np.array(sorted(cols), dtype=np.int64)


def bm25_weights(counts: sparse.csr_matrix) -> sparse.csc_matrix:
    """Okapi BM25 weight of every (chunk, term) with a count, as a CSC matrix."""
    n = counts.shape[0]
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    avg = float(lengths.mean()) if n else 1.0
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    rows = np.repeat(np.arange(n), np.diff(counts.indptr))
    tf = counts.data
    norm = K1 * (1 - B + B * lengths[rows] / max(avg, 1e-9))
    data = (idf[counts.indices] * tf * (K1 + 1) / (tf + norm)).astype(np.float32)
    return sparse.csr_matrix((data, counts.indices, counts.indptr), shape=counts.shape).tocsc()


def top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None,
          positive: bool = False) -> np.ndarray:
    """Row indices of the ``k`` best scores (best first) among ``allowed`` rows."""
    s = scores if allowed is None else np.where(allowed, scores, -np.inf)
    if positive:
        s = np.where(s > 0, s, -np.inf)
    k = min(k, int(np.isfinite(s).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-s, k - 1)[:k]
    return part[np.lexsort((part, -s[part]))]


_blas: list[Any] = []  # [ThreadpoolController, its BLAS thread count], made on first use


def blas_threads() -> contextlib.AbstractContextManager[Any]:
    """Hold BLAS to this process's share of the cores (``_threads``) for one product.

    Limiting costs milliseconds per call, so it is done only when the share is below
    what BLAS would use anyway.
    """
    from pipeline_kit._threads import engine_threads

    if not _blas:
        from threadpoolctl import ThreadpoolController

        ctl = ThreadpoolController()
        _blas.extend([ctl, max([i["num_threads"] for i in ctl.info()
                                if i["user_api"] == "blas"], default=1)])
    share = engine_threads()
    if share >= _blas[1]:
        return contextlib.nullcontext()
    return _blas[0].limit(limits=share, user_api="blas")


class Searcher:
    """BM25 weights and unit chunk vectors of every indexed chunk, row for row.

    From ``reduce_from`` rows on, semantic search first scores a PCA-reduced copy of
    the vectors (:class:`Reduced`, built at load), then re-ranks its best candidates
    with the exact cosine (see :meth:`semantic_top`).
    """

    def __init__(self, counts: sparse.csr_matrix, vectors: np.ndarray | None,
                 has_vector: np.ndarray, *, reduce_from: int = REDUCE_FROM,
                 candidates: int = CANDIDATES) -> None:
        self.weights = bm25_weights(counts)
        self.vectors = vectors
        self.has_vector = has_vector
        self.n = counts.shape[0]
        self._no_vector = np.flatnonzero(~has_vector)
        self.candidates = candidates
        self.reduced = Reduced(vectors, has_vector) \
            if vectors is not None and has_vector.sum() >= max(reduce_from, 1) else None

    def keyword(self, q: str) -> np.ndarray:
        """BM25 score of every chunk for ``q``."""
        cols = query_columns(q)
        if not len(cols) or not self.n:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.weights[:, cols].sum(axis=1)).ravel()

    def semantic(self, q_vector: np.ndarray) -> np.ndarray:
        """Cosine of every chunk vector with ``q_vector`` (-1 for chunks without one)."""
        if self.vectors is None or not self.n:
            return np.full(self.n, -1.0, dtype=np.float32)
        with blas_threads():
            s = self.vectors @ q_vector.astype(np.float32)
        s[~self.has_vector] = -1.0
        return s

    def semantic_top(self, q_vector: np.ndarray, k: int, allowed: np.ndarray,
                     extra: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows of ``allowed`` by cosine (+ ``extra``), and their scores.

        Without a reduced copy this is ``top_k(semantic(q) + extra, k, allowed)``. With
        one, the first pass over the reduced copy picks ``candidates`` rows and only
        they are scored exactly and ranked: the scores are exact, and the rows are the
        exact top k unless one of them fell outside the candidates (measured rare).
        """
        q = q_vector.astype(np.float32)
        if self.reduced is None:
            s = self.semantic(q) if extra is None else self.semantic(q) + extra
            rows = top_k(s, k, allowed)
            return rows, s[rows]
        with blas_threads():
            approx = self.reduced.first_pass(q)
        approx[self._no_vector] = -1.0
        if extra is not None:
            approx += extra
        rows = top_k(approx, max(self.candidates, 2 * k), allowed)  # mostly a superset of top k
        exact = self._exact(rows, q, extra)
        order = np.lexsort((rows, -exact))[:k]
        return rows[order], exact[order]

    def _exact(self, rows: np.ndarray, q: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
        """Exact cosine (+ ``extra``) of ``rows``; -1 for rows without a vector."""
        assert self.vectors is not None  # semantic() returns early without vectors
        s = self.vectors[rows] @ q
        s[~self.has_vector[rows]] = -1.0
        return s if extra is None else s + extra[rows]

    def fuse(self, lists: Sequence[np.ndarray], k: int,
             weights: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Reciprocal-rank fusion of ranked row lists: (rows best first, fused scores)."""
        fused: dict[int, float] = {}
        for ranked, w in zip(lists, weights or [1.0] * len(lists), strict=True):
            for rank, row in enumerate(ranked.tolist()):
                fused[row] = fused.get(row, 0.0) + w / (RRF_K + rank + 1)
        order = sorted(fused, key=lambda r: (-fused[r], r))[:k]
        return np.array(order, dtype=np.int64), np.array([fused[r] for r in order])


# ----------------------------------------------------------------------------- fast cosine



class Reduced:
    """The chunk vectors' first ``dims`` principal components (PCA on a sample).

    ``v·q ≈ mean·q + z·(basisᵀq)``: a product over ``dims`` columns instead of the
    vectors' full width, good enough to pick the candidates an exact pass re-ranks.
    """

    def __init__(self, vectors: np.ndarray, has_vector: np.ndarray, dims: int = REDUCED_DIMS,
                 sample: int = 20_000) -> None:
        rows = np.flatnonzero(has_vector)
        if len(rows) > sample:
            rows = np.sort(np.random.default_rng(0).choice(rows, sample, replace=False))
        x = vectors[rows].astype(np.float64)
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        self.basis = np.ascontiguousarray(vt[:dims].T, dtype=np.float32)  # (width, dims)
        self.offset = (mean @ vt[:dims].T).astype(np.float32)  # mean's coordinates
        self.mean = mean.astype(np.float32)
        with blas_threads():
            self.z = vectors @ self.basis
        self.z -= self.offset

    def first_pass(self, q: np.ndarray) -> np.ndarray:
        """Approximate cosine of every row with the unit query ``q``."""
        approx = self.z @ (q @ self.basis)
        approx += np.float32(self.mean @ q)
        return approx


def highlight(text: str, q: str, width: int = 40) -> str:
    """A window of ``text`` around the first query term, matched words wrapped in ``**``."""
    wanted = set(terms(q))
    words = text.split()
    hits = [i for i, w in enumerate(words)
            if (t := terms(w)) and any(x in wanted for x in t)]
    if len(words) <= width:
        lo, hi = 0, len(words)
    else:
        centre = hits[0] if hits else 0
        lo = max(0, min(centre - width // 3, len(words) - width))
        hi = lo + width
    marked = [f"**{w}**" if i in set(hits) else w for i, w in enumerate(words)][lo:hi]
    return ("… " if lo else "") + " ".join(marked) + (" …" if hi < len(words) else "")
