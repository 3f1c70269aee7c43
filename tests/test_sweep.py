"""Chunking sweep: embeddings computed once per method, one correct row per setting."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_path
from matplotlib.figure import Figure

from pipeline_kit.stages._chunking import chunk_boundaries, create_semantic_chunks
from pipeline_kit.stages._embeddings import TfidfEmbedder
from pipeline_kit.stages._segmetrics import (
    load_choi,
    pk,
    sentence_to_word_boundaries,
)
from pipeline_kit.stages._sweep import choose_setting, plot_sweep, sweep
from pipeline_kit.stages._types import Transcript

TOPICS = [
    "The printing press used movable metal type and black ink on paper pages. ",
    "Fishermen cast their nets from small boats on the cold river water. ",
    "The judge and the court ruled on the new election law for voters. ",
]
TEXT = "".join(t * 8 for t in TOPICS)


class CountingEmbedder:
    """A real (TF-IDF) embedder that counts encode calls and texts encoded."""

    name = "counting-tfidf"

    def __init__(self) -> None:
        self.calls = 0
        self.texts = 0
        self._inner = TfidfEmbedder()

    def encode(self, texts):
        self.calls += 1
        self.texts += len(texts)
        return self._inner.encode(texts)


def test_sweep_embeds_once_per_method_and_has_one_row_per_setting():
    emb = CountingEmbedder()
    gold = [len(TOPICS[0].split()) * 8, len(TOPICS[0].split()) * 16]
    df = sweep(TEXT, chunk_size=[40, 80, 120], overlap=[0, 10], method=["embedding", "tfidf"],
               gold_boundaries=gold, embedder=emb)
    assert emb.calls == 1 and emb.texts == 24  # 24 sentences, encoded once for 6 settings
    assert len(df) == 12
    assert set(df["method"]) == {"embedding", "tfidf"}
    for col in ("n_chunks", "words_mean", "words_max", "words_std", "coherence", "topic_pk",
                "boundary_similarity", "sentence_end_share", "precision", "recall", "f1",
                "pk", "windowdiff"):
        assert col in df.columns and df[col].notna().all(), col
    assert (df["words_max"] <= df["chunk_size"]).all()
    assert df["metric_embedder"].eq("counting-tfidf").all()
    # Each row equals what a direct chunking run gives for that setting.
    row = df[(df.method == "embedding") & (df.chunk_size == 80) & (df.overlap == 10)].iloc[0]
    chunks = create_semantic_chunks(TEXT, 80, 10, embedder=TfidfEmbedder(), with_temporal=False)
    sizes = [c.word_count for c in chunks]
    assert row.n_chunks == len(chunks)
    assert row.words_mean == pytest.approx(np.mean(sizes))
    assert row.pk == pytest.approx(pk(gold, chunk_boundaries(chunks), len(TEXT.split())))
    assert row.sentence_end_share == 1.0
    # Topic-aware chunks are more coherent than the topics are similar to each other.
    assert (df["coherence"] > df["boundary_similarity"]).all()


def test_sweep_skips_invalid_combinations_and_validates():
    df = sweep(TEXT, chunk_size=[20, 40], overlap=[0, 30], method="tfidf")
    assert list(zip(df.chunk_size, df.overlap, strict=True)) == [(20, 0), (40, 0), (40, 30)]
    assert "pk" not in df.columns
    with pytest.raises(ValueError, match="chunk_size"):
        sweep(TEXT, chunk_size=[0], overlap=[0], method="tfidf")
    with pytest.raises(ValueError, match="method"):
        sweep(TEXT, chunk_size=[20], overlap=[0], method=["nope"])
    with pytest.raises(ValueError, match="overlap"):
        sweep(TEXT, chunk_size=[20], overlap=[-2], method="tfidf")


def test_plot_sweep_returns_axes():
    df = sweep(TEXT, chunk_size=[30, 60], overlap=[0, 5], method=["tfidf", "fixed"])
    ax = plot_sweep(df, "words_mean", ax=Figure().subplots())
    assert ax.get_ylabel() == "words_mean"
    assert len(ax.get_lines()) == 4  # 2 overlaps x 2 methods
    with pytest.raises(ValueError, match="nope"):
        plot_sweep(df, "nope")


def test_sweep_on_choi_prefers_semantic_over_fixed():
    sents, bounds = load_choi(shared_path("textseg/choi_dev/3-11/1.ref"))
    text = " ".join(sents)
    gold = sentence_to_word_boundaries(sents, bounds)
    df = sweep(text, chunk_size=[300, 400], overlap=[0, 20], method=["tfidf", "fixed"],
               gold_boundaries=gold)
    best = df.groupby("method")["pk"].min()
    assert best["tfidf"] < best["fixed"]


def test_label_free_choice_tracks_gold_pk_on_choi():
    # topic_pk needs no reference; across settings it ranks them as gold Pk does, and
    # the setting it chooses is better than most by gold Pk. Gold columns appear only
    # when a reference is given and change nothing else.
    from scipy.stats import spearmanr

    grid = {"chunk_size": [100, 200, 400, 1000], "overlap": [0, 25],
            "method": ["embedding", "tfidf", "fixed"]}
    rhos = []
    for doc in ("3-11/0.ref", "3-11/1.ref", "3-11/2.ref"):
        sents, bounds = load_choi(shared_path(f"textseg/choi_dev/{doc}"))
        text = " ".join(sents)
        gold = sentence_to_word_boundaries(sents, bounds)
        blind = sweep(text, **grid)
        scored = sweep(text, gold_boundaries=gold, **grid)
        assert "pk" not in blind.columns and "pk" in scored.columns
        assert blind["topic_pk"].tolist() == scored["topic_pk"].tolist()
        rhos.append(spearmanr(scored["topic_pk"], scored["pk"]).statistic)
        chosen = choose_setting(blind)
        chosen_pk = scored.loc[chosen.name, "pk"]
        assert chosen_pk <= scored["pk"].median(), (chosen_pk, scored["pk"].tolist())
    assert np.mean(rhos) >= 0.7, rhos


def test_choose_setting_refuses_an_empty_table():
    df = sweep(TEXT, chunk_size=[30], overlap=[0], method="tfidf")
    assert choose_setting(df)["chunk_size"] == 30
    with pytest.raises(ValueError, match="empty"):
        choose_setting(df.iloc[0:0])


def test_plot_legend_covers_no_line():
    """The legend sits outside the axes (below), inside the figure, so it hides no data."""
    t = Transcript.from_text(TEXT)
    df = sweep(t, chunk_size=[20, 30, 40], overlap=[0, 5, 10], method=["tfidf", "fixed"])
    ax = plot_sweep(df, "topic_pk")
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    axes = ax.get_window_extent()
    figure = fig.bbox
    assert len(ax.get_legend().get_texts()) == len(ax.get_lines()) == 6
    assert legend.y1 <= axes.y0  # wholly below the plotting area
    assert legend.y0 >= figure.y0 and legend.x0 >= figure.x0 and legend.x1 <= figure.x1
