"""Parameter sweep of the chunker: one table row per (method, chunk_size, overlap).

Sentences are embedded once per method (:func:`~.chunking.prepare`); every setting
only re-runs boundary placement, so a sweep of many settings costs little more
than one chunking run. Quality columns are computed with one reference embedding
for all rows (the first embedding method of the sweep), so rows are comparable.

Choosing without gold (:func:`choose_setting`): ``topic_pk`` is the Pk of a
setting's chunk cuts against the toolkit's own topic segmentation (hybrid MiniLM +
lexical when the sweep embeds, else lexical), so it needs no reference. Measured on
Choi dev (docs 0-4 of 3-5, 6-8, 9-11 and 3-11; 54 settings each: methods embedding,
tfidf, fixed x chunk_size 100, 150, 200, 300, 500, 1000 x overlap 0, 25, 50), the
Spearman correlation with gold Pk across settings, mean over the 20 documents:

==================== ========= ==========================================
label-free column    Spearman  note
==================== ========= ==========================================
topic_pk             +0.957    used for the choice (pooled 1,080 rows: +0.956)
topic_windowdiff     +0.930    tie-break
boundary_similarity  +0.894
sentence_end_share   -0.720
n_chunks             +0.261
coherence            -0.047
==================== ========= ==========================================

The chosen setting had the best gold Pk of the 54 in 17 of the 20 documents
(median rank 1, mean rank 2.9). With ``gold_boundaries`` the table also has the
gold columns (precision, recall, f1, pk, windowdiff).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from pipeline_kit.base._progress import Progress, ensure_progress
from pipeline_kit.stages._chunking import (
    CHUNK_OPTIONS,
    PREPARE_OPTIONS,
    Prepared,
    chunk_boundaries,
    chunk_prepared,
    prepare,
    validate_sizes,
)
from pipeline_kit.stages._embeddings import Embedder
from pipeline_kit.stages._segmetrics import pk, segmentation_scores, windowdiff
from pipeline_kit.stages._types import Chunk, Transcript

V = TypeVar("V", int, str)

METRIC_COLUMNS = ("n_chunks", "words_mean", "words_min", "words_max", "words_std",
                  "topic_pk", "topic_windowdiff",
                  "coherence", "boundary_similarity", "sentence_end_share")
GOLD_COLUMNS = ("precision", "recall", "f1", "pk", "windowdiff")


def _as_list(name: str, value: V | Iterable[V]) -> list[V]:
    """One value or several, as a non-empty list."""
    values = [value] if isinstance(value, (int, str)) else list(value)
    if not values:
        raise ValueError(f"{name} must not be empty, got {value!r}")
    return values


class _StretchVectors:
    """Word-weighted mean sentence embedding of any word range, from prefix sums."""

    def __init__(self, prepared: Prepared) -> None:
        emb = prepared.embeddings
        assert emb is not None
        self.starts = np.array([s.start_word for s in prepared.sentences], dtype=np.int64)
        self.ends = np.array([s.end_word for s in prepared.sentences], dtype=np.int64)
        self.emb = emb.astype(np.float64)
        weighted = self.emb * (self.ends - self.starts)[:, None]
        self.csum = np.vstack([np.zeros((1, emb.shape[1])), np.cumsum(weighted, axis=0)])

    def mean(self, start: int, end: int) -> np.ndarray:
        i = int(np.searchsorted(self.ends, start, side="right"))  # sentence holding `start`
        j = int(np.searchsorted(self.starts, end, side="left"))  # one past the last touched
        if j - i == 1:
            return self.emb[i].copy()
        total = self.csum[j - 1] - self.csum[i + 1]  # sentences fully inside
        total = total + self.emb[i] * (self.ends[i] - start)
        total = total + self.emb[j - 1] * (end - self.starts[j - 1])
        return total / max(1, end - start)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / den) if den else 0.0


def chunk_metrics(chunks: Sequence[Chunk], reference: Prepared | None,
                  sentence_starts: set[int]) -> dict[str, float]:
    """Size distribution, coherence, similarity across boundaries, share at sentence ends.

    ``coherence``: mean over chunks of the mean cosine between each word's sentence
    embedding and the chunk centroid (the norm of the mean of unit vectors).
    ``boundary_similarity``: mean cosine between the new words before and after each cut.
    """
    sizes = np.array([c.word_count for c in chunks], dtype=float)
    cuts = chunk_boundaries(chunks)
    out = {
        "n_chunks": float(len(chunks)),
        "words_mean": float(sizes.mean()) if len(sizes) else 0.0,
        "words_min": float(sizes.min()) if len(sizes) else 0.0,
        "words_max": float(sizes.max()) if len(sizes) else 0.0,
        "words_std": float(sizes.std()) if len(sizes) else 0.0,
        "coherence": float("nan"),
        "boundary_similarity": float("nan"),
        "sentence_end_share": float(np.mean([c in sentence_starts for c in cuts]))
        if cuts else float("nan"),
    }
    if reference is None or reference.embeddings is None or not chunks:
        return out
    sv = _StretchVectors(reference)
    out["coherence"] = float(np.mean([
        np.linalg.norm(sv.mean(c.start_word_index, c.end_word_index)) for c in chunks]))
    if cuts:
        edges = [0, *cuts, chunks[-1].end_word_index]
        out["boundary_similarity"] = float(np.mean([
            _cos(sv.mean(edges[i], edges[i + 1]), sv.mean(edges[i + 1], edges[i + 2]))
            for i in range(len(cuts))]))
    return out


def topic_agreement(chunks: Sequence[Chunk], topic_starts: Sequence[int],
                    n_words: int) -> dict[str, float]:
    """Label-free quality: Pk and WindowDiff of the chunk cuts against the toolkit's own
    topic segmentation (lower is better; NaN for an empty text)."""
    if not n_words:
        return {"topic_pk": float("nan"), "topic_windowdiff": float("nan")}
    cuts = chunk_boundaries(chunks)
    return {"topic_pk": pk(list(topic_starts), cuts, n_words),
            "topic_windowdiff": windowdiff(list(topic_starts), cuts, n_words)}


def _topic_reference(prepared: dict[str, Prepared], transcript: Transcript | str,
                     embedder: Embedder | str | None, prep_opts: dict[str, Any]) -> Prepared:
    """The segmentation the label-free ``topic_pk`` compares against: MiniLM hybrid
    topics when the sweep embeds, else lexical ones (prepared here if needed)."""
    for m in ("embedding", "tfidf"):
        if m in prepared:
            return prepared[m]
    return prepare(transcript, "tfidf", embedder, **prep_opts)


def choose_setting(table):  # (pandas.DataFrame) -> pandas.Series
    """The sweep row to use, chosen without gold: lowest ``topic_pk``.

    Ties go to the lower ``topic_windowdiff``, then the larger chunk, then the smaller
    overlap. ``topic_pk`` tracks gold Pk; see :func:`sweep` for the measured correlation.
    """
    if table.empty:
        raise ValueError("the sweep table is empty: no setting to choose from")
    order = table.sort_values(["topic_pk", "topic_windowdiff", "chunk_size", "overlap"],
                              ascending=[True, True, False, True], kind="stable")
    return order.iloc[0]


def sweep(
    transcript: Transcript | str,
    chunk_size: Iterable[int] | int = (100, 150, 200, 300),
    overlap: Iterable[int] | int = (0, 25, 50),
    method: Iterable[str] | str = ("embedding",),
    gold_boundaries: Sequence[int] | None = None,
    embedder: Embedder | str | None = None,
    progress: Progress | None = None,
    tolerance: int = 0,
    **options: Any,
):  # -> pandas.DataFrame
    """Chunk with every combination of the given values; one row of metrics per setting.

    Settings with ``overlap >= chunk_size`` are skipped. ``gold_boundaries``: word
    indices where reference segments start; adds precision/recall/F1 (within
    ``tolerance`` words), Pk and WindowDiff (nltk). ``options`` as for
    :func:`~.chunking.create_semantic_chunks` (fixed for the whole sweep).
    """
    import pandas as pd

    sizes = _as_list("chunk_size", chunk_size)
    overlaps = _as_list("overlap", overlap)
    methods = _as_list("method", method)
    for cs in sizes:
        validate_sizes(cs, 0)
    for ov in overlaps:
        validate_sizes(max(sizes) + 1, ov)
    unknown = sorted(set(options) - set(PREPARE_OPTIONS) - set(CHUNK_OPTIONS))
    if unknown:
        raise TypeError(f"unknown chunking option(s): {', '.join(unknown)}")
    prep_opts = {k: v for k, v in options.items() if k in PREPARE_OPTIONS}
    chunk_opts = {"with_temporal": False,
                  **{k: v for k, v in options.items() if k in CHUNK_OPTIONS}}
    prog = ensure_progress(progress)
    grid = [(m, cs, ov) for m in methods for cs in sizes for ov in overlaps if ov < cs]
    total = len(methods) + len(grid)
    prepared: dict[str, Prepared] = {}
    prep_seconds: dict[str, float] = {}
    for i, m in enumerate(methods):
        prog.check_cancelled()
        prog.update(i, total, step=f"Embedding ({m})")
        t0 = time.perf_counter()
        prepared[m] = prepare(transcript, m, embedder, **prep_opts)
        prep_seconds[m] = time.perf_counter() - t0
    reference = next((prepared[m] for m in methods if prepared[m].embeddings is not None), None)
    topics = _topic_reference(prepared, transcript, embedder, prep_opts)
    any_prep = prepared[methods[0]]
    n = any_prep.n_words
    sentence_starts = {int(g) for g in any_prep.gap_words}
    rows = []
    for j, (m, cs, ov) in enumerate(grid):
        prog.check_cancelled()
        prog.update(len(methods) + j, total, step=f"Chunking {m} {cs}/{ov}")
        t0 = time.perf_counter()
        chunks = chunk_prepared(prepared[m], cs, ov, **chunk_opts)
        row: dict[str, Any] = {"method": m, "chunk_size": cs, "overlap": ov,
                               "seconds": time.perf_counter() - t0,
                               "prepare_seconds": prep_seconds[m]}
        row.update(chunk_metrics(chunks, reference, sentence_starts))
        row.update(topic_agreement(chunks, topics.topic_starts, n))
        if gold_boundaries is not None and n:
            row.update(segmentation_scores(list(gold_boundaries), chunk_boundaries(chunks), n,
                                           tolerance=tolerance))
        row["metric_embedder"] = None if reference is None else reference.embedder_name
        rows.append(row)
    prog.update(total, total, step="Sweep done")
    columns = ["method", "chunk_size", "overlap", *METRIC_COLUMNS]
    if gold_boundaries is not None:
        columns += list(GOLD_COLUMNS)
    columns += ["seconds", "prepare_seconds", "metric_embedder"]
    return pd.DataFrame(rows, columns=columns)


def plot_sweep(df, metric: str, x: str = "chunk_size", hue: str = "overlap", ax=None):
    """Line plot of ``metric`` against ``x``, one line per ``hue`` value (and method);
    the legend sits below the axes so it covers no line."""
    import matplotlib.pyplot as plt

    for col in (metric, x, hue):
        if col not in df.columns:
            raise ValueError(f"column {col!r} not in the sweep table ({', '.join(df.columns)})")
    if ax is None:  # constrained layout makes room for the legend outside the axes
        _, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
    group_cols = [hue] + (["method"] if "method" in df.columns and df["method"].nunique() > 1
                          and hue != "method" else [])
    for key, g in df.sort_values(x).groupby(group_cols, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{c}={k}" for c, k in zip(group_cols, key, strict=True))
        ax.plot(g[x], g[metric], marker="o", label=label)
    ax.set_xlabel(x)
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by {x}")
    # Below the axes, never over the lines it names.
    labels = [str(line.get_label()) for line in ax.get_lines()]
    widest = max((len(label) for label in labels), default=1)
    ncol = max(1, min(len(labels), 3, 60 // (widest + 6)))  # as many as fit the width
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol,
              frameon=False)
    return ax
