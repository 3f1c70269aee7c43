"""Parameter sweep of the chunker: one table row per (method, chunk_size, overlap).

Sentences are embedded once per method (:func:`~.chunking.prepare`); every setting
only re-runs boundary placement, so a sweep of many settings costs little more
than one chunking run. The purpose columns (:mod:`._chunk_eval`: sizes, topic
straddle, mid-sentence starts, leave-one-out retrieval, context precision) reuse the
sentence embeddings of the topic reference (MiniLM when the sweep embeds with it) for
every row, so rows are comparable and nothing is embedded twice.

Choosing without gold (:func:`choose_setting`): a setting on the Pareto front of
retrieval against context precision and chunk size, the best by the purpose's score
(search: MRR x context precision). The older choice, lowest ``topic_pk`` (Pk of the
cuts against the toolkit's own topics), mostly restated the chunk count and always
took the largest size. Measured with ``tests/benchmarks/bench_chunk_purpose.py``
(method embedding, sizes 40-1000 x overlap 0/25/50, 23 settings; the relevance rule was
chosen on Choi 3-5 and 9-11 docs 0-4; scored on Choi 6-8 and 3-11 docs 10-19, unseen),
rank of the chosen setting by gold MRR x gold context precision:

================================ ======== ====== =========
choice (20 scoring documents)    in top 3 rank 1 mean rank
================================ ======== ====== =========
choose_setting(purpose="search")   70%     50%     4.1
lowest topic_pk (old)              30%     15%     8.6
================================ ======== ====== =========

It never chose the largest size (the largest was truly best in 3 of the 20). The
self-supervised MRR does not rank settings as the Choi-style gold MRR does (Spearman
mean 0.25 over the documents); nor does the gold MRR agree with itself when each
segment's second sentence asks instead of its first (mean 0.05 on the tuning documents):
ten queries a document are too few to order 23 close settings.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from pipeline_kit.base._progress import Progress, ensure_progress
from pipeline_kit.stages import _chunk_eval as ev
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

PURPOSE_COLUMNS = ("n_chunks", "words_median", "words_p10", "words_p90", "straddle_share",
                   "mid_sentence_share", "recall_at_1", "recall_at_5", "mrr",
                   "context_precision")
METRIC_COLUMNS = (*PURPOSE_COLUMNS, "words_mean", "words_min", "words_max", "words_std",
                  "topic_pk", "topic_windowdiff",
                  "coherence", "boundary_similarity", "sentence_end_share")
GOLD_COLUMNS = ("gold_pk", "gold_windowdiff", "gold_precision", "gold_recall", "gold_f1",
                "gold_straddle", "gold_recall_at_1", "gold_recall_at_5", "gold_mrr",
                "gold_context_precision")
PURPOSES = ("search", "reading", "llm-context")


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


def sentence_index(prepared: Prepared) -> ev.SentenceIndex:
    """The sentences and embeddings of a prepared text, as the purpose metrics use them."""
    assert prepared.embeddings is not None
    return ev.SentenceIndex.of([s.start_word for s in prepared.sentences],
                               [s.end_word for s in prepared.sentences],
                               prepared.embeddings, prepared.n_words)


def purpose_metrics(chunks: Sequence[Chunk], index: ev.SentenceIndex,
                    topic_starts: Sequence[int],
                    gold: Sequence[int] | None = None) -> dict[str, float]:
    """The columns that say what a setting's chunks are good for (see :mod:`._chunk_eval`):
    sizes, straddled topics, mid-sentence starts, self-supervised retrieval and context
    precision; with ``gold`` also gold straddle, retrieval and context precision."""
    out: dict[str, float] = {**ev.size_stats(chunks),
                             "straddle_share": ev.straddle_share(chunks, topic_starts),
                             "mid_sentence_share": ev.mid_sentence_share(chunks, index)}
    w = ev.sentence_chunk_words(index, chunks)
    every = ev.every_sentence(index, w)
    out.update(ev.self_supervised(index, chunks, w, topic_starts, every))
    if gold is not None:
        out["gold_straddle"] = ev.straddle_share(chunks, gold)
        out.update(ev.gold_retrieval(index, chunks, w, gold, every))
    return out


def _check_gold(gold: Sequence[int] | None, n_words: int) -> list[int] | None:
    """Gold topic starts as sorted ints inside the text, or a clear error."""
    if gold is None:
        return None
    try:
        starts = sorted({int(b) for b in gold})
    except (TypeError, ValueError) as e:
        raise ValueError(f"gold must be word indices where a new topic starts: {e}") from None
    if starts and (starts[0] < 0 or starts[-1] > n_words):
        raise ValueError(f"gold word indices must lie within [0, {n_words}] (the text has "
                         f"{n_words} words), got {starts[0]}..{starts[-1]}")
    return [b for b in starts if 0 < b < n_words]


# ---------------------------------------------------------------- choosing a setting

_PURPOSE_SCORE = {  # (retrieval and precision columns, retrieval's name, longer is better)
    "search": (("mrr", "context_precision"), "retrieval MRR", False),
    "reading": (("recall_at_1", "context_precision"), "recall@1", True),
    "llm-context": (("recall_at_5", "context_precision"), "recall@5", False),
}
_TIE = 1e-9  # scores closer than this are equal (settings with the same chunks)


def pareto_front(table, retrieval: str = "mrr", longer: bool = False
                 ):  # -> pandas.Series of bool
    """True for the settings no other setting beats on all of: ``retrieval`` (higher),
    ``context_precision`` (higher) and median chunk size (smaller, or larger with
    ``longer``), strictly on one."""
    cols = [retrieval, "context_precision", "words_median"]
    _require(table, cols)
    v = table[cols].to_numpy(dtype=float) * np.array([1.0, 1.0, 1.0 if longer else -1.0])
    v = np.nan_to_num(v, nan=-np.inf)
    ge = (v[None, :, :] >= v[:, None, :] - _TIE).all(axis=2)
    gt = (v[None, :, :] > v[:, None, :] + _TIE).any(axis=2)
    import pandas as pd

    return pd.Series(~(ge & gt).any(axis=1), index=table.index, name="on_front")


def _require(table, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"the sweep table has no column {', '.join(map(repr, missing))}: "
                         "make it with sweep() of this version (it needs embeddings: a "
                         "method other than 'fixed' alone, or the topic reference)")


def choose_setting(table, purpose: str = "search", max_words: int | None = None):
    """The sweep row to use for ``purpose``, chosen without gold, with a ``reason``.

    Only settings on the Pareto front of retrieval against context precision and chunk
    size (:func:`pareto_front`) are candidates; ``max_words`` drops settings with a chunk
    longer than that. Among them the highest score wins:

    * ``"search"``: MRR x context precision (find the passage, little noise in it);
    * ``"reading"``: recall@1 x context precision x median words, the on-topic words
      a reader gets from the top hit (here the front favours longer chunks);
    * ``"llm-context"``: recall@5 x context precision (the model gets the top hits,
      ``max_words`` is then the room each may take);

    equal scores (settings giving the same chunks) go to the smaller median chunk
    (the longer one for reading), then the smaller overlap. The returned row (a
    ``pandas.Series`` named by its table index) also holds ``purpose``, ``score`` and
    ``reason``: one sentence with the numbers behind the choice.
    """
    if purpose not in _PURPOSE_SCORE:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}")
    if table.empty:
        raise ValueError("the sweep table is empty: no setting to choose from")
    (ret, prec), ret_name, longer = _PURPOSE_SCORE[purpose]
    _require(table, (ret, prec, "words_median", "words_max"))
    pool = table
    if max_words is not None:
        if not isinstance(max_words, int) or isinstance(max_words, bool) or max_words < 1:
            raise ValueError(f"max_words must be a positive int or None, got {max_words!r}")
        pool = table[table["words_max"] <= max_words]
        if pool.empty:
            raise ValueError(f"no setting keeps every chunk within max_words={max_words} "
                             f"(shortest longest chunk: {int(table['words_max'].min())})")
    front = pool[pareto_front(pool, ret, longer)]
    if front.empty or front[[ret, prec]].isna().all().any():
        raise ValueError(f"no setting has {ret} and {prec} to choose by: retrieval needs a "
                         "text of at least 2 sentences")
    score = front[ret] * front[prec] * (front["words_median"] if longer else 1.0)
    score = score.fillna(-np.inf)
    ranked = front.assign(_score=score.round(9), _size=front["words_median"] *
                          (-1 if longer else 1))
    ranked = ranked.sort_values(["_score", "_size", "overlap"], ascending=[False, True, True],
                                kind="stable")
    best = ranked.iloc[0].drop(["_score", "_size"]).copy()
    best["purpose"] = purpose
    best["score"] = float(score[best.name])
    best["reason"] = _reason(best, purpose, ret, ret_name, prec, len(front), len(pool),
                             table, max_words)
    return best


def _reason(best, purpose: str, ret: str, ret_name: str, prec: str, n_front: int,
            n_pool: int, table, max_words: int | None) -> str:
    """One sentence naming the numbers behind a choice."""
    same = table[(table[ret] - best[ret]).abs().le(_TIE)
                 & (table[prec] - best[prec]).abs().le(_TIE)
                 & (table["words_median"] - best["words_median"]).abs().le(_TIE)]
    ties = (f"; {len(same) - 1} other setting(s) give the same chunks"
            if len(same) > 1 else "")
    limit = f" with no chunk over {max_words} words" if max_words is not None else ""
    method = f"{best['method']} " if "method" in best.index else ""
    product = f"{ret_name} {best[ret]:.3f} x context precision {best[prec]:.3f}"
    if purpose == "reading":
        product += f" x {best['words_median']:.0f} median words = {best['score']:.0f} " \
                   "on-topic words in the top hit"
        size = ""
    else:
        product += f" = {best['score']:.3f}"
        size = f", at a median of {best['words_median']:.0f} words per chunk"
    return (f"For {purpose}, {method}chunk_size {int(best['chunk_size'])} / overlap "
            f"{int(best['overlap'])}: {product}, the best of the {n_front} settings on the "
            f"Pareto front (of {n_pool}{limit}){size}{ties}.")


def sweep(
    transcript: Transcript | str,
    chunk_size: Iterable[int] | int = (100, 150, 200, 300),
    overlap: Iterable[int] | int = (0, 25, 50),
    method: Iterable[str] | str = ("embedding",),
    gold_boundaries: Sequence[int] | None = None,
    embedder: Embedder | str | None = None,
    progress: Progress | None = None,
    tolerance: int = 0,
    *,
    gold: Sequence[int] | None = None,
    **options: Any,
):  # -> pandas.DataFrame
    """Chunk with every combination of the given values; one row of metrics per setting.

    Settings with ``overlap >= chunk_size`` are skipped. Columns (see
    :mod:`._chunk_eval`): ``n_chunks``, ``words_median/p10/p90``, ``straddle_share``
    (chunks across one of the text's own topic boundaries), ``mid_sentence_share``,
    self-supervised ``recall_at_1/recall_at_5/mrr``, ``context_precision``,
    ``seconds``; all from the sentence embeddings computed once per method (those of
    the topic reference, MiniLM when ``"embedding"`` is swept, for every row, so rows
    are comparable).
    ``gold`` (or its old name ``gold_boundaries``): word indices where a new topic
    starts; adds ``gold_pk``, ``gold_windowdiff``, boundary ``gold_precision/recall/f1``
    (within ``tolerance`` words), ``gold_straddle`` and the Choi-style
    ``gold_recall_at_1/recall_at_5/mrr`` and ``gold_context_precision``.
    ``options`` as for :func:`~.chunking.create_semantic_chunks` (fixed for the sweep).
    """
    import pandas as pd

    if gold is not None and gold_boundaries is not None:
        raise TypeError("give gold or gold_boundaries (its old name), not both")
    gold = gold if gold is not None else gold_boundaries
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
    gold_starts: list[int] | None = None
    if gold is not None:
        from pipeline_kit.stages._sentences import as_transcript

        gold_starts = _check_gold(gold, len(as_transcript(transcript).words))
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
    embedded = topics  # MiniLM when the sweep embeds with it: the better judge of retrieval
    index = sentence_index(embedded) if embedded.embeddings is not None else None
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
        if index is not None:
            row.update(purpose_metrics(chunks, index, topics.topic_starts, gold_starts))
        if gold_starts is not None and n:
            scores = segmentation_scores(gold_starts, chunk_boundaries(chunks), n,
                                         tolerance=tolerance)
            row.update({f"gold_{k}": v for k, v in scores.items()})
        row["metric_embedder"] = embedded.embedder_name
        rows.append(row)
    prog.update(total, total, step="Sweep done")
    columns = ["method", "chunk_size", "overlap", *METRIC_COLUMNS]
    if gold is not None:
        columns += list(GOLD_COLUMNS)
    columns += ["seconds", "prepare_seconds", "metric_embedder"]
    return pd.DataFrame(rows, columns=columns)


def plot_sweep(df, metric: str | None = None, x: str = "chunk_size", hue: str = "overlap",
               ax=None, *, purpose: str = "search", chosen=None):
    """Without ``metric``: the trade-off plot (:func:`plot_tradeoff`). With one: a line
    plot of ``metric`` against ``x``, one line per ``hue`` value (and method); the
    legend sits below the axes so it covers no line."""
    if metric is None:
        return plot_tradeoff(df, purpose=purpose, chosen=chosen, ax=ax)
    return _plot_lines(df, metric, x, hue, ax)


def plot_tradeoff(df, purpose: str = "search", chosen=None, ax=None):
    """Retrieval (the ``purpose``'s column) against context precision, one point per
    setting sized by its median chunk length; the Pareto front is outlined and joined,
    the chosen setting (``chosen`` or :func:`choose_setting`) starred and labelled."""
    import matplotlib.pyplot as plt

    if purpose not in _PURPOSE_SCORE:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}")
    (ret, prec), ret_name, longer = _PURPOSE_SCORE[purpose]
    _require(df, (ret, prec, "words_median"))
    chosen = choose_setting(df, purpose) if chosen is None else chosen
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.8), layout="constrained")
    front = pareto_front(df, ret, longer)
    size = 20 + 280 * np.sqrt(df["words_median"] / max(1.0, float(df["words_median"].max())))
    overlaps = sorted(df["overlap"].unique()) if "overlap" in df.columns else [None]
    for ov in overlaps:
        sel = df["overlap"] == ov if ov is not None else np.ones(len(df), dtype=bool)
        ax.scatter(df.loc[sel, prec], df.loc[sel, ret], s=size[sel], alpha=0.55,
                   label=f"overlap {ov}" if ov is not None else "settings")
    f = df[front].sort_values(prec)
    ax.scatter(f[prec], f[ret], s=size[front], facecolors="none", edgecolors="black",
               linewidths=1.2, label="Pareto front")
    ax.plot(f[prec], f[ret], color="black", linewidth=0.8, linestyle="--")
    ax.scatter([chosen[prec]], [chosen[ret]], marker="*", s=320, color="crimson",
               edgecolors="black", zorder=5, label=f"chosen for {purpose}")
    ax.annotate(f"{int(chosen['chunk_size'])}/{int(chosen['overlap'])}\n"
                f"{chosen['words_median']:.0f} words", (chosen[prec], chosen[ret]),
                textcoords="offset points", xytext=(10, -18), fontsize="small")
    ax.set_xlabel("context precision (share of the top hit in the query's topic)")
    ax.set_ylabel(f"self-supervised {ret_name}")
    ax.set_title("Retrieval vs context precision (point size: median chunk words)")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.14),
              ncol=min(4, len(overlaps) + 2), frameon=False, markerscale=0.5)
    return ax


def _plot_lines(df, metric: str, x: str, hue: str, ax):
    """Line plot of ``metric`` against ``x``, one line per ``hue`` value (and method)."""
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
