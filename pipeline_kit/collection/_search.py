"""Search over a collection's chunks, in memory: BM25 (SciPy sparse), cosine (NumPy; from
``REDUCE_FROM`` rows on, only over the query's nearest inverted lists, see ``Clusters``),
and their fusion (the cosine boosted by the BM25 score, or reciprocal ranks).

Semantic scores come in two passes: the chunk vectors (unit mean of a chunk's sentences)
pick the ``RERANK`` best chunks, which are then scored by their best-matching sentence
(``SentenceIndex``). A query is usually one sentence; a chunk's mean blurs the one
sentence that answers it. On Choi part 1 (bench_retrieval.py, 1,600 held-out queries)
this raised semantic recall@5 from 0.968 to 0.974 and MRR from 0.908 to 0.911.

DuckDB's full-text extension is not bundled with its wheel (it would be fetched at
run time), so keyword scores are computed here: terms are hashed into 2**20
columns (no vocabulary to keep, so each run's term counts are computed once at
index time and simply stacked), and the BM25 weight of every (chunk, term) is
computed once when the searcher loads. A query then sums a few sparse columns.
Tokens are hashed with crc32 (stable across processes, unlike ``hash``).
"""

from __future__ import annotations

import contextlib
import functools
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
# Semantic search's first pass (see Clusters): from REDUCE_FROM rows on (below, the exact
# product is cheap), the unit vectors are grouped into about one inverted list per
# ROWS_PER_LIST rows (spherical k-means); a query scores the lists' centroids and then
# only the rows of its PROBE best lists (and the keyword hits, for hybrid), exactly.
# The previous first pass, a 128-dim PCA copy of every row, still touched all 500,000
# rows per query (48 ms p95 idle, ~125 ms with the machine busy).
# Measured at 500,000 synthetic chunks (bench_collection.py; ~330 near-copies of each
# chunk): 500 rows per list and 8 lists probed (about 4,700 rows scored) gave the exact
# top 20 for 97.5 % of queries (99.9 % of rows in common), as 12 or 16 lists did; 1,000
# rows per list needed 48 lists for that.
REDUCE_FROM = 100_000
ROWS_PER_LIST = 500
PROBE = 8
CANDIDATES = 2_000  # at least this many allowed rows are scored exactly (more lists probed)
RERANK = 100  # chunks the chunk vectors pick for scoring by their best sentence
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


def blas_threads(limit: int | None = None) -> contextlib.AbstractContextManager[Any]:
    """Hold BLAS to this process's share of the cores (``_threads``), or to ``limit``
    threads, for one product.

    The limit is set only when it is below what BLAS would use anyway (the first call
    finds the libraries; later ones cost microseconds).
    """
    from pipeline_kit.base._threads import engine_threads

    if not _blas:
        from threadpoolctl import ThreadpoolController

        ctl = ThreadpoolController()
        _blas.extend([ctl, max([i["num_threads"] for i in ctl.info()
                                if i["user_api"] == "blas"], default=1)])
    share = engine_threads() if limit is None else min(limit, engine_threads())
    if share >= _blas[1]:
        return contextlib.nullcontext()
    return _blas[0].limit(limits=share, user_api="blas")


class SentenceIndex:
    """Every chunk's sentence vectors, to score a chunk by its best-matching sentence.

    Kept run by run as the runs stored them: ``vectors[i]`` (often memory-mapped: a query
    reads only the rows of the chunks it reranks) and ``spans[i]``, each chunk's
    ``(first, end)`` rows in it, for the run whose chunks start at row ``first[i]``;
    None for a run that kept no sentence vectors.
    """

    def __init__(self, first: Sequence[int], vectors: Sequence[np.ndarray | None],
                 spans: Sequence[np.ndarray | None]) -> None:
        self.first = np.asarray(first, dtype=np.int64)
        self.vectors = list(vectors)
        self.spans = list(spans)

    def best_cosine(self, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Each row's highest sentence cosine with the unit vector ``q`` (NaN for a chunk
        without sentence vectors)."""
        out = np.full(len(rows), np.nan, dtype=np.float32)
        runs = np.searchsorted(self.first, rows, side="right") - 1
        for run in np.unique(runs).tolist():
            vecs, spans = self.vectors[run], self.spans[run]
            if vecs is None or spans is None:
                continue
            at = np.flatnonzero(runs == run)
            lo, hi = spans[rows[at] - self.first[run]].T.astype(np.int64)
            some = hi > lo
            at, lo, n = at[some], lo[some], (hi - lo)[some]
            if not len(at):
                continue
            starts = np.cumsum(n) - n  # each chunk's first sentence among those gathered
            gathered = np.arange(int(n.sum())) + np.repeat(lo - starts, n)
            cos = np.asarray(vecs[gathered], dtype=np.float32) @ q
            out[at] = np.maximum.reduceat(cos, starts)
        return out


class Searcher:
    """BM25 weights and unit chunk vectors of every indexed chunk, row for row.

    Given ``clusters`` (the collection gives them from ``REDUCE_FROM`` rows on),
    semantic search scores exactly only the rows of the inverted lists nearest the
    query, not every row (see :meth:`semantic_top`). Given ``sentences``, the best
    ``rerank`` chunks are then scored by their best sentence.
    """

    def __init__(self, counts: sparse.csr_matrix, vectors: np.ndarray | None,
                 has_vector: np.ndarray, *, clusters: Clusters | None = None,
                 sentences: SentenceIndex | None = None, candidates: int = CANDIDATES,
                 probe: int = PROBE, rerank: int = RERANK) -> None:
        self.weights = bm25_weights(counts)
        self.weights.sort_indices()  # keyword_hits reads each column's rows in order
        self.vectors = vectors
        self.has_vector = has_vector
        self.n = counts.shape[0]
        self.candidates = candidates
        self.probe = probe
        self.rerank = rerank
        self.clusters = clusters if vectors is not None else None
        self.sentences = sentences if vectors is not None else None

    def keyword(self, q: str) -> np.ndarray:
        """BM25 score of every chunk for ``q``."""
        rows, scores = self.keyword_hits(q)
        out = np.zeros(self.n, dtype=np.float32)
        out[rows] = scores
        return out

    def keyword_hits(self, q: str) -> tuple[np.ndarray, np.ndarray]:
        """The rows (ascending) holding a term of ``q``, and their BM25 scores: only the
        query terms' postings are read, not a score per chunk."""
        cols = query_columns(q)
        if not len(cols) or not self.n:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        w = self.weights
        spans = [slice(w.indptr[c], w.indptr[c + 1]) for c in cols]
        if len(spans) == 1:  # a column's row indices are sorted and unique
            return w.indices[spans[0]].astype(np.int64), w.data[spans[0]]
        rows, at = np.unique(np.concatenate([w.indices[sp] for sp in spans]),
                             return_inverse=True)
        scores = np.bincount(at, weights=np.concatenate([w.data[sp] for sp in spans]))
        return rows.astype(np.int64), scores.astype(np.float32)

    def semantic(self, q_vector: np.ndarray) -> np.ndarray:
        """Cosine of every chunk vector with ``q_vector`` (-1 for chunks without one)."""
        if self.vectors is None or not self.n:
            return np.full(self.n, -1.0, dtype=np.float32)
        with blas_threads():
            s = self.vectors @ q_vector.astype(np.float32)
        s[~self.has_vector] = -1.0
        return s

    def semantic_top(self, q_vector: np.ndarray, k: int, allowed: np.ndarray,
                     boost: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows of ``allowed`` by cosine (times 1 + ``boost`` for the rows
        it names: (rows ascending, values)), and their scores.

        The chunk vectors choose the best ``rerank`` rows; with sentence vectors, those
        are then scored by their best sentence's cosine (see :meth:`_by_sentence`).
        Without clusters, or when ``allowed`` holds at most ``candidates`` rows, the
        chunk vectors rank every allowed row. Otherwise only the rows of the lists whose
        centroids are nearest the query (at least ``probe`` lists and ``candidates``
        allowed rows) and the most boosted rows are scored: the scores are exact, and
        the rows are the exact top unless one of them sits in a list farther from the
        query (measured rare, see bench_collection.py).
        """
        q = q_vector.astype(np.float32)
        wanted = max(k, self.rerank)
        if self.clusters is None:
            cos = self.semantic(q)
            factor = np.ones(self.n, dtype=np.float32)
            if boost is not None:
                factor[boost[0]] += boost[1]
            rows = top_k(cos * factor, wanted, allowed)
            return self._by_sentence(rows, cos[rows], factor[rows], q, k)
        # A few thousand rows: memory-bound products a second BLAS thread barely speeds
        # up on an idle machine and slows down on a busy one, where it spins for a core.
        with blas_threads(1):
            pool = max(self.candidates, 2 * k)
            if int(np.count_nonzero(allowed)) <= pool:  # a narrow filter: score all it allows
                rows = np.flatnonzero(allowed)
            else:
                rows = self.clusters.candidates(q, allowed, self.probe, pool)
            if boost is not None and len(boost[0]):  # rows the boost may lift into the top k
                best = top_k(boost[1], self.candidates, allowed[boost[0]])
                rows = np.union1d(rows, boost[0][best])
            cos, factor = self._cosine(rows, q), self._factor(rows, boost)
        keep = np.lexsort((rows, -(cos * factor)))[:wanted]
        return self._by_sentence(rows[keep], cos[keep], factor[keep], q, k)

    def _by_sentence(self, rows: np.ndarray, cos: np.ndarray, factor: np.ndarray,
                     q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best of ``rows``, each scored by its best sentence's cosine (its chunk
        cosine ``cos`` when it has no sentence vectors) times ``factor``.

        Chunks that share their best sentence (overlapping chunks do) tie: the one whose
        chunk vector is nearer the query ranks first."""
        best = cos
        if self.sentences is not None and len(rows):
            by_sentence = self.sentences.best_cosine(rows, q)
            best = np.where(np.isnan(by_sentence), cos, by_sentence)
        scores = best * factor
        order = np.lexsort((rows, -cos, -scores))[:k]
        return rows[order], scores[order]

    def _cosine(self, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Exact cosine of ``rows`` with ``q``; -1 for rows without a vector."""
        assert self.vectors is not None  # semantic_top needs clusters, hence vectors
        s = self.vectors[rows] @ q
        s[~self.has_vector[rows]] = -1.0
        return s

    @staticmethod
    def _factor(rows: np.ndarray, boost: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """1 + the boost of each of ``rows`` (1 for the rows it does not name)."""
        if boost is None or not len(boost[0]):
            return np.ones(len(rows), dtype=np.float32)
        at = np.minimum(np.searchsorted(boost[0], rows), len(boost[0]) - 1)
        return 1 + np.where(boost[0][at] == rows, boost[1][at], np.float32(0))

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


class Clusters:
    """Inverted lists: every row with a vector filed under its nearest centroid.

    The centroids come from spherical k-means on a sample of the unit vectors. A query
    scores the centroids (a few hundred products), then only the rows of the nearest
    lists: the per-query work no longer grows with every row of the collection.
    ``assign``: each row's list (-1 without a vector), kept so a grown collection only
    files its new rows (see :meth:`extended`).
    """

    def __init__(self, centroids: np.ndarray, assign: np.ndarray) -> None:
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.assign = assign.astype(np.int32)
        filed = np.flatnonzero(self.assign >= 0)
        order = np.argsort(self.assign[filed], kind="stable")
        self.members = filed[order]  # row ids, list by list
        self.starts = np.searchsorted(self.assign[self.members],
                                      np.arange(len(self.centroids) + 1))

    @classmethod
    def fit(cls, vectors: np.ndarray, has_vector: np.ndarray, *,
            rows_per_list: int = ROWS_PER_LIST, iters: int = 8,
            sample_per_list: int = 32) -> Clusters:
        """Lists for ``vectors``: k-means on a sample, then every row assigned."""
        rows = np.flatnonzero(has_vector)
        lists = max(1, len(rows) // rows_per_list)
        rng = np.random.default_rng(0)
        sample = vectors[np.sort(rng.choice(rows, min(len(rows), lists * sample_per_list),
                                            replace=False))]
        centroids = sample[rng.choice(len(sample), lists, replace=False)].copy()
        for _ in range(iters):
            near = nearest(sample, centroids)
            member = sparse.csr_matrix((np.ones(len(sample), np.float32),
                                        (near, np.arange(len(sample)))),
                                       shape=(lists, len(sample)))
            sums = np.asarray(member @ sample)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            filled = norms[:, 0] > 0  # an emptied list keeps its centroid
            centroids[filled] = sums[filled] / norms[filled]
        return cls(centroids, assign_rows(vectors, has_vector, centroids))

    def extended(self, vectors: np.ndarray, has_vector: np.ndarray) -> Clusters:
        """These lists with the rows past the assigned ones (a grown collection) filed."""
        old = len(self.assign)
        new = assign_rows(vectors[old:], has_vector[old:], self.centroids)
        return Clusters(self.centroids, np.concatenate([self.assign, new]))

    def candidates(self, q: np.ndarray, allowed: np.ndarray, probe: int,
                   at_least: int) -> np.ndarray:
        """Allowed rows of the lists nearest ``q``: ``probe`` lists, more until
        ``at_least`` allowed rows are found (or every list is read)."""
        order = np.argsort(-(self.centroids @ q), kind="stable")
        found: list[np.ndarray] = []
        count, at = 0, 0
        while at < len(order) and (at < probe or count < at_least):
            step = order[at:at + probe]
            at += len(step)
            rows = np.concatenate([self.members[self.starts[i]:self.starts[i + 1]]
                                   for i in step])
            rows = rows[allowed[rows]]
            found.append(rows)
            count += len(rows)
        return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


def nearest(x: np.ndarray, centroids: np.ndarray, block: int = 50_000) -> np.ndarray:
    """Index of each row's nearest (highest cosine) centroid, ``block`` rows at a time."""
    out = np.empty(len(x), dtype=np.int32)
    for lo in range(0, len(x), block):
        with blas_threads():
            out[lo:lo + block] = np.argmax(x[lo:lo + block] @ centroids.T, axis=1)
    return out


def assign_rows(vectors: np.ndarray, has_vector: np.ndarray,
                centroids: np.ndarray) -> np.ndarray:
    """Each row's list (-1 for rows without a vector)."""
    assign = np.full(len(vectors), -1, dtype=np.int32)
    rows = np.flatnonzero(has_vector)
    block = 50_000  # gathered a block at a time: no copy of every vector
    for lo in range(0, len(rows), block):
        part = rows[lo:lo + block]
        assign[part] = nearest(vectors[part], centroids, block)
    return assign


@functools.lru_cache(maxsize=100_000)
def _word_terms(word: str) -> tuple[str, ...]:
    """``terms`` of one word, memoised: snippets repeat words, and making each word
    singular again cost ~4 ms of a 500,000-chunk search's 20 hits."""
    return tuple(terms(word))


def highlight(text: str, q: str, width: int = 40) -> str:
    """A window of ``text`` around the first query term, matched words wrapped in ``**``."""
    wanted = set(terms(q))
    words = text.split()
    hits = [i for i, w in enumerate(words) if not wanted.isdisjoint(_word_terms(w))]
    if len(words) <= width:
        lo, hi = 0, len(words)
    else:
        centre = hits[0] if hits else 0
        lo = max(0, min(centre - width // 3, len(words) - width))
        hi = lo + width
    hit = set(hits)
    marked = [f"**{w}**" if i in hit else w for i, w in enumerate(words[lo:hi], start=lo)]
    return ("… " if lo else "") + " ".join(marked) + (" …" if hi < len(words) else "")
