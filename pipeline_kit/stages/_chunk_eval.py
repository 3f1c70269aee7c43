"""What chunks are for, measured: retrieval by held-back sentences and the noise of a hit.

Everything here works on sentence embeddings that were already computed (a
:class:`~._chunking.Prepared`): a chunk's vector is the word-weighted sum of the unit
embeddings of the sentences it overlaps, so no chunk is ever embedded.

Retrieval is leave-one-out. A held-back sentence ``q`` is taken out of every chunk that
holds it (its vector and its words are subtracted), then used as the query against all
chunks. Choi-style: the first sentence of each segment is a query, and the right
answers are the chunks whose remaining words lie mostly (at least half) in that
segment. Self-supervised, the segments are the text's own topic segmentation; gold,
the gold ones.
Scores: recall@1, recall@5 and the mean reciprocal rank of the first right answer (ties
counted against the query).

Context precision: for each query, the share of the top hit's remaining words that lie
in the query's own topic segment (the text's own segmentation, or the gold one); the
noise a reader or a language model gets with the passage.

Only word ranges are used (the chunks', the sentences', the segments'), so it holds
whatever rule places the cuts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline_kit.stages._types import Chunk

RETRIEVAL_KEYS = ("recall_at_1", "recall_at_5", "mrr")


@dataclass(frozen=True)
class SentenceIndex:
    """Word spans and unit embeddings of a text's sentences, shared by every setting."""

    starts: np.ndarray  # first word of each sentence
    ends: np.ndarray  # one past its last word
    emb: np.ndarray  # one row per sentence (float64)
    n_words: int

    @classmethod
    def of(cls, starts: Sequence[int], ends: Sequence[int], emb: np.ndarray,
           n_words: int) -> SentenceIndex:
        e = np.asarray(emb, dtype=np.float64)
        if len(e) != len(starts) or len(starts) != len(ends):
            raise ValueError(f"{len(starts)} sentence starts, {len(ends)} ends and "
                             f"{len(e)} embeddings: they must match")
        return cls(np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64), e,
                   int(n_words))

    def segment_of_sentences(self, segment_starts: Sequence[int]) -> np.ndarray:
        """Index of the segment holding each sentence's middle word."""
        mid = (self.starts + np.maximum(self.starts, self.ends - 1)) // 2
        return np.searchsorted(np.asarray(sorted(segment_starts), dtype=np.int64), mid,
                               side="right")

    def sentence_at(self, word: int) -> int:
        """The sentence holding word index ``word``."""
        found = int(np.searchsorted(self.ends, word, side="right"))
        return min(len(self.ends) - 1, found)


def _overlap(a0: np.ndarray, a1: np.ndarray, b0: np.ndarray, b1: np.ndarray) -> np.ndarray:
    """Words shared by ranges ``[a0, a1)`` and ``[b0, b1)`` (broadcast)."""
    return np.maximum(0, np.minimum(a1, b1) - np.maximum(a0, b0))


def sentence_chunk_words(index: SentenceIndex, chunks: Sequence[Chunk]) -> np.ndarray:
    """``W[s, c]``: words of sentence ``s`` inside chunk ``c`` (sentences x chunks)."""
    w = np.zeros((len(index.starts), len(chunks)))
    for c, ch in enumerate(chunks):
        lo = int(np.searchsorted(index.ends, ch.start_word_index, side="right"))
        hi = int(np.searchsorted(index.starts, ch.end_word_index, side="left"))
        if hi > lo:
            w[lo:hi, c] = _overlap(index.starts[lo:hi], index.ends[lo:hi],
                                   np.array(ch.start_word_index), np.array(ch.end_word_index))
    return w


def segment_chunk_words(chunks: Sequence[Chunk], segment_starts: Sequence[int],
                        n_words: int) -> np.ndarray:
    """``G[c, g]``: words of chunk ``c`` inside segment ``g`` (chunks x segments)."""
    edges = np.array([0, *sorted(set(segment_starts) - {0}), n_words], dtype=np.int64)
    c0 = np.array([c.start_word_index for c in chunks], dtype=np.int64)[:, None]
    c1 = np.array([c.end_word_index for c in chunks], dtype=np.int64)[:, None]
    return _overlap(c0, c1, edges[None, :-1], edges[None, 1:]).astype(float)


@dataclass(frozen=True)
class HeldOut:
    """Leave-one-out scores of some query sentences against every chunk."""

    queries: np.ndarray  # sentence indices
    scores: np.ndarray  # queries x chunks cosine; -inf where nothing of the chunk is left
    held: np.ndarray  # queries x chunks: words of the query inside the chunk
    left: np.ndarray  # queries x chunks: words of the chunk once the query is out


def held_out_scores(index: SentenceIndex, w: np.ndarray, queries: np.ndarray) -> HeldOut:
    """Cosine of each query sentence with every chunk once that sentence is taken out.

    From the chunk sums ``S = W.T @ E`` alone: removing sentence ``q`` from chunk ``c``
    subtracts ``W[q, c] * e_q``, whose effect on the dot product and the norm is closed
    form, so all queries cost one matrix product.
    """
    emb = index.emb
    sums = w.T @ emb  # chunks x dim
    norm2 = np.einsum("ij,ij->i", sums, sums)
    eq = emb[queries]
    self2 = np.einsum("ij,ij->i", eq, eq)[:, None]
    dots = eq @ sums.T
    held = w[queries]
    dot = dots - held * self2
    n2 = np.maximum(norm2[None, :] - 2 * held * dots + held * held * self2, 0.0)
    qn = np.sqrt(self2)
    den = np.sqrt(n2) * qn
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(den > 1e-12, dot / np.where(den > 1e-12, den, 1.0), 0.0)
    left = w.sum(axis=0)[None, :] - held
    cos = np.where(left > 0, cos, -np.inf)
    return HeldOut(queries, cos, held, left)


def rank_scores(scores: np.ndarray, relevant: np.ndarray) -> dict[str, float]:
    """Recall@1, recall@5 and MRR of the best-scored relevant chunk per query.

    A chunk tied with it counts as ranked above it; a query with no reachable relevant
    chunk scores 0.
    """
    if not len(scores):
        return dict.fromkeys(RETRIEVAL_KEYS, float("nan"))
    best = np.where(relevant & np.isfinite(scores), scores, -np.inf).max(axis=1)
    reachable = np.isfinite(best)
    ahead = (scores >= best[:, None]).sum(axis=1) - 1  # other chunks scoring as high
    rank = np.where(reachable, ahead + 1, np.inf)
    return {"recall_at_1": float(np.mean(rank <= 1)),
            "recall_at_5": float(np.mean(rank <= 5)),
            "mrr": float(np.mean(np.where(reachable, 1.0 / rank, 0.0)))}


def context_precision(out: HeldOut, seg_words: np.ndarray, query_segment: np.ndarray
                      ) -> float:
    """Mean share of the top hit's remaining words that lie in the query's own segment.

    ``seg_words``: :func:`segment_chunk_words`; the query's own words in the hit (none
    when it was not there) are taken off both counts, as they were off the index.
    """
    if not len(out.queries):
        return float("nan")
    rows = np.arange(len(out.queries))
    top = out.scores.argmax(axis=1)
    left = out.left[rows, top]
    inside = seg_words[top, query_segment] - out.held[rows, top]
    share = np.where(left > 0, np.clip(inside, 0, None) / np.where(left > 0, left, 1), 0.0)
    return float(share.mean())


def own_segment_words(seg_words: np.ndarray, query_segment: np.ndarray,
                      out: HeldOut) -> np.ndarray:
    """Queries x chunks: remaining words of each chunk in the query's own segment."""
    return seg_words[:, query_segment[out.queries]].T - out.held


def mostly_inside(own: np.ndarray, out: HeldOut) -> np.ndarray:
    """Chunks with at least half of their remaining words in the query's segment."""
    return (out.left > 0) & (2 * own >= out.left)


def every_sentence(index: SentenceIndex, w: np.ndarray) -> HeldOut:
    """Every sentence held back in turn (what context precision is measured over)."""
    return held_out_scores(index, w, np.arange(len(index.starts)))


def self_supervised(index: SentenceIndex, chunks: Sequence[Chunk], w: np.ndarray,
                    topic_starts: Sequence[int], every: HeldOut | None = None
                    ) -> dict[str, float]:
    """Choi-style retrieval against the text's own topic segmentation: each of its
    segments' first sentence held back and asking, the right answers the chunks lying
    mostly in that segment; and how much of the top hit is the query's own topic.

    The same questions gold asks, with the toolkit's segments for gold's. Chosen on Choi
    folders 3-5 and 9-11 docs 0-4 against every sentence asking (right: a chunk holding
    a neighbour or lying mostly in its segment): Spearman with gold MRR across 23
    settings 0.705 against 0.348; scored on folders 6-8 and 3-11 docs 10-19: 0.632
    against 0.364 (gold asked by each segment's second sentence agrees with gold asked
    by its first at 0.666).
    """
    return segment_retrieval(index, chunks, w, topic_starts, every)


def segment_retrieval(index: SentenceIndex, chunks: Sequence[Chunk], w: np.ndarray,
                      starts: Sequence[int], every: HeldOut | None = None,
                      nth: int = 0) -> dict[str, float]:
    """Each segment's first sentence (``nth``: its ``nth`` one) held back and used as
    the query against ``chunks``, right answers the chunks lying mostly (at least half)
    in its segment: recall@1/5 and MRR; and the context precision over every sentence.
    ``starts``: word indices where segments begin. NaN for fewer than two sentences or
    no chunk."""
    if len(index.starts) < 2 or not chunks:
        return dict.fromkeys((*RETRIEVAL_KEYS, "context_precision"), float("nan"))
    seg = segment_chunk_words(chunks, starts, index.n_words)
    sentence_segment = index.segment_of_sentences(starts)
    firsts = sorted({index.sentence_at(b) for b in {0, *starts} - {index.n_words}})
    queries = np.array([q + nth for q in firsts if q + nth < len(index.starts)
                        and sentence_segment[q + nth] == sentence_segment[q]], dtype=np.int64)
    out = held_out_scores(index, w, queries)
    relevant = mostly_inside(own_segment_words(seg, sentence_segment, out), out)
    result = rank_scores(out.scores, relevant)
    every = every if every is not None else every_sentence(index, w)
    result["context_precision"] = context_precision(every, seg, sentence_segment)
    return result


def gold_retrieval(index: SentenceIndex, chunks: Sequence[Chunk], w: np.ndarray,
                   gold: Sequence[int], every: HeldOut | None = None,
                   nth: int = 0) -> dict[str, float]:
    """:func:`segment_retrieval` against the gold segments (Choi-style), its columns
    named ``gold_*``. ``nth``: ask with each segment's ``nth`` sentence instead
    (segments too short are left out), to see how much the gold score depends on which
    sentences ask."""
    asked = segment_retrieval(index, chunks, w, gold, every, nth)
    return {f"gold_{k}": v for k, v in asked.items()}


def straddle_share(chunks: Sequence[Chunk], boundaries: Sequence[int]) -> float:
    """Share of chunks with a boundary strictly inside them (words of two segments)."""
    if not chunks:
        return float("nan")
    b = np.array(sorted(boundaries), dtype=np.int64)
    lo = np.array([c.start_word_index for c in chunks], dtype=np.int64)
    hi = np.array([c.end_word_index for c in chunks], dtype=np.int64)
    inside = np.searchsorted(b, hi, side="left") - np.searchsorted(b, lo, side="right")
    return float(np.mean(inside > 0))


def mid_sentence_share(chunks: Sequence[Chunk], index: SentenceIndex) -> float:
    """Share of chunks whose first word is not the first word of a sentence."""
    if not chunks:
        return float("nan")
    starts = set(index.starts.tolist())
    return float(np.mean([c.start_word_index not in starts for c in chunks]))


def size_stats(chunks: Sequence[Chunk]) -> dict[str, float]:
    """Chunk count and the median, 10th and 90th percentile of chunk length (words)."""
    sizes = np.array([c.word_count for c in chunks], dtype=float)
    if not len(sizes):
        return {"n_chunks": 0.0, "words_median": 0.0, "words_p10": 0.0, "words_p90": 0.0}
    p10, med, p90 = np.percentile(sizes, [10, 50, 90])
    return {"n_chunks": float(len(sizes)), "words_median": float(med),
            "words_p10": float(p10), "words_p90": float(p90)}
