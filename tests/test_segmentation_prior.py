"""The estimated segment-length prior of segment_sentences, on uneven real text (Choi)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from conftest import shared_path
from test_chapters import LookupEmbedder
from unevendocs import short_segments_found, uneven_documents

from pipeline_kit.stages._segmentation import (
    best_partition,
    gain_matrix,
    segment_sentences,
    stable_short_segments,
)
from pipeline_kit.stages._segmetrics import pk


@pytest.fixture(scope="module")
def uneven() -> list[tuple[list[str], list[int]]]:
    docs = uneven_documents(shared_path("textseg/choi_dev"), n_docs=8)
    assert all(len(starts) == 9 for _, starts in docs)
    return docs


@pytest.fixture(scope="module")
def embedder(uneven) -> LookupEmbedder:
    return LookupEmbedder([s for doc, _ in uneven for s in doc])


def test_uneven_documents_mix_short_and_long_gold_segments(uneven):
    for sentences, starts in uneven:
        lengths = np.diff([0, *starts, len(sentences)])
        assert sum(lengths <= 2) == 4 and sum(lengths >= 3) == 6, lengths


def test_estimated_prior_finds_short_segments_the_fixed_one_cannot(uneven, embedder):
    found = {"fixed": 0, "estimated": 0}
    scores: dict[str, list[float]] = {"fixed": [], "estimated": []}
    for sentences, starts in uneven:
        for prior in found:
            hyp = segment_sentences(sentences, embedder=embedder, prior=prior)
            found[prior] += short_segments_found(starts, hyp, len(sentences))[0]
            scores[prior].append(pk(starts, hyp, len(sentences)))
    total = sum(short_segments_found(s, [], len(d))[1] for d, s in uneven)
    assert total == 32
    assert found["fixed"] == 0  # min_length=3 forbids a 1-2 sentence segment
    assert found["estimated"] >= 8, found  # 14 of 32 when written
    assert np.mean(scores["estimated"]) < np.mean(scores["fixed"]), scores


def test_short_segments_allowed_are_those_stable_across_resolution(uneven):
    """On every uneven document, each short segment the estimated prior keeps is one the
    unconstrained DP finds at both resolutions (the default 1.5 and 0.85 of it), and
    somewhere a segment found at one resolution only is refused."""
    refused = 0
    for sentences, _ in uneven:
        gains = [gain_matrix(sentences, method="lexical", lexical_resolution=r)
                 for r in (1.5 * 0.85, 1.5)]
        short = stable_short_segments(gains, shorter_than=3)
        assert all(b - a < 3 for a, b in short)
        finest = [set(zip([0, *p], [*p, len(sentences)], strict=True))
                  for p in (best_partition(g, min_length=1) for g in gains)]
        assert all(seg in finest[0] and seg in finest[1] for seg in short)
        hyp = segment_sentences(sentences, method="lexical", prior="estimated")
        lengths = np.diff([0, *hyp, len(sentences)])
        edges = list(zip([0, *hyp], [*hyp, len(sentences)], strict=True))
        assert all(seg in short for seg, n in zip(edges, lengths, strict=True) if n < 3)
        unstable = {seg for seg in finest[1] - finest[0] if seg[1] - seg[0] < 3}
        refused += len(unstable - set(edges))
    assert refused > 0  # the check at 0.85 of the resolution did some work


class CountingEmbedder:
    """A real embedder (MiniLM lookup) that counts its encode calls."""

    name = "counting"

    def __init__(self, inner: LookupEmbedder) -> None:
        self.inner, self.calls = inner, 0

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return self.inner.encode(texts)


def test_min_short_bounds_the_short_segments_allowed(uneven, embedder):
    lengths = {m: [] for m in (1, 2)}
    for sentences, _ in uneven:
        for m in lengths:
            hyp = segment_sentences(sentences, embedder=embedder, prior="estimated", min_short=m)
            lengths[m] += list(np.diff([0, *hyp, len(sentences)]))
    assert min(lengths[1]) == 1  # one-sentence items are found ...
    assert min(lengths[2]) == 2  # ... and only they are ruled out by min_short=2


@pytest.mark.parametrize("kwargs", [{"min_short": 0}, {"min_short": 1.5}, {"min_short": True}])
def test_bad_min_short_is_rejected(uneven, kwargs):
    with pytest.raises(ValueError, match="min_short must be an integer"):
        segment_sentences(uneven[0][0], method="lexical", prior="estimated", **kwargs)


@pytest.mark.parametrize("prior", ["auto", None, "Estimated", 1])
def test_bad_prior_is_rejected_before_any_work(uneven, embedder, prior):
    counting = CountingEmbedder(embedder)
    with pytest.raises(ValueError, match="prior must be one of"):
        segment_sentences(uneven[0][0], embedder=counting, prior=prior)
    assert counting.calls == 0
    assert segment_sentences(uneven[0][0], embedder=counting, prior="estimated")
    assert counting.calls == 1  # one encode serves every resolution


def _word_starts(sentences: Sequence[str], starts: Sequence[int]) -> tuple[list[int], int]:
    """Gold segment starts as word indices, and the word count."""
    counts = np.cumsum([0, *(len(s.split()) for s in sentences)])
    return [int(counts[i]) for i in starts], int(counts[-1])


def test_chapters_with_the_estimated_prior_find_short_sections(uneven):
    """Through analyze_chapters (the chapters stage): a transcript of each uneven
    document, chapter starts mapped back to words; the estimated prior opens more of
    the short gold sections (both ends within 2 words) and scores a lower Pk."""
    from pipeline_kit import Transcript
    from pipeline_kit.stages._chapters import analyze_chapters
    from pipeline_kit.stages._embeddings import get_embedder

    embedder = _Remembering(get_embedder(None))  # the two priors' runs embed the same text
    found = {"fixed": 0, "estimated": 0}
    scores: dict[str, list[float]] = {"fixed": [], "estimated": []}
    for sentences, starts in uneven:
        t = Transcript.from_text(" ".join(sentences), seconds_per_word=0.5)
        gold, n = _word_starts(sentences, starts)
        assert n == len(t.words)
        lengths = np.diff([0, *starts, len(sentences)])
        edges = [0, *gold, n]
        short = [(edges[i], edges[i + 1]) for i, k in enumerate(lengths) if k <= 2]
        for prior in found:
            hyp = [round(c.start_time / 0.5)
                   for c in analyze_chapters(t, chapter_prior=prior, embedder=embedder)][1:]
            cuts = np.array([0, n, *hyp])
            found[prior] += sum(np.abs(cuts - a).min() <= 2 and np.abs(cuts - b).min() <= 2
                                for a, b in short)
            scores[prior].append(pk(gold, hyp, n))
    assert found["estimated"] >= found["fixed"] + 4, found  # 10 against 2 of 32 when written
    assert np.mean(scores["estimated"]) < np.mean(scores["fixed"]), scores


class _Remembering:
    """The real model, asked once per distinct text (rows are the model's own)."""

    def __init__(self, model) -> None:
        self.model, self.rows = model, {}
        self.name = model.name

    def encode(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.rows]
        if missing:
            self.rows.update(zip(missing, self.model.encode(missing), strict=True))
        return np.stack([self.rows[t] for t in texts])


def test_chapter_prior_is_checked_before_any_work():
    from pipeline_kit.stages._chapters import analyze_chapters

    class Refuses:
        def encode(self, texts):  # pragma: no cover - reaching it is the failure
            raise AssertionError("embedded before the prior was checked")

    with pytest.raises(ValueError, match="chapter_prior"):
        analyze_chapters("One sentence here. And another one there.", embedder=Refuses(),
                         chapter_prior="guess")
