"""Semantic chunking: hard rules (property tests), validation, real-text quality on Choi."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from conftest import shared_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline_kit.stages._chunking import (
    chunk_boundaries,
    chunk_embeddings,
    chunk_prepared,
    chunk_sentence_spans,
    create_semantic_chunks,
    prepare,
    topic_boundaries,
)
from pipeline_kit.stages._segmetrics import load_choi, pk, sentence_to_word_boundaries
from pipeline_kit.stages._text import join_words
from pipeline_kit.stages._types import Chunk, ModelInfo, Segment, Transcript, Word

VOCAB = ("printing press type letter book page ink paper river boat water fish net "
         "market price trade bank money vote law court judge , and the of a").split()


def _timed_transcript(tokens: list[str], gaps: list[float]) -> Transcript:
    """A transcript with measured (non-uniform) word times, pauses included."""
    words, t = [], 0.0
    for tok, gap in zip(tokens, gaps, strict=True):
        t += gap
        words.append(Word(tok, t, t + 0.3))
        t += 0.3
    text = " ".join(tokens)
    seg = Segment(0, 0.0, t, text, 0, len(words))
    return Transcript(text, (seg,) if words else (), tuple(words), "en", 1.0,
                      ModelInfo("test"), "test")


@st.composite
def texts(draw):
    n = draw(st.integers(0, 400))
    rnd = draw(st.randoms(use_true_random=False))
    tokens = []
    for _ in range(n):
        w = rnd.choice(VOCAB)
        if rnd.random() < 0.08:
            w += "."
        tokens.append(w)
    gaps = [rnd.choice([0.0, 0.05, 0.1, 1.5]) for _ in tokens]
    return tokens, gaps


@st.composite
def sizes(draw):
    chunk_size = draw(st.integers(1, 80))
    overlap = draw(st.integers(0, chunk_size - 1))
    return chunk_size, overlap


def _sentence_starts(t: Transcript, method: str = "tfidf") -> list[int]:
    return [s.start_word for s in prepare(t, method).sentences]


def assert_hard_rules(chunks: list[Chunk], t: Transcript, chunk_size: int, overlap: int,
                      walls: tuple[int, ...] | None = None,
                      sentences: list[int] | None = None) -> None:
    """Size, text, times and overlap rules. ``walls``: the topic starts chunks must
    respect (no chunk straddles one; no overlap across one); ``None``: the overlap
    applies at every cut (``straddle_topics=True`` or the fixed method).
    ``sentences``: the sentence starts of the default ``"sentence"`` mode, where the
    overlap is the whole sentences within ``overlap`` words; ``None``: it is exact."""
    n = len(t.words)
    if n == 0:
        assert chunks == []
        return
    assert chunks[0].start_word_index == 0
    assert chunks[-1].end_word_index == n
    for i, c in enumerate(chunks):
        assert c.chunk_index == i
        assert 1 <= c.word_count <= chunk_size
        assert c.text == join_words(t.words[c.start_word_index:c.end_word_index])
        assert c.character_count == len(c.text)
        assert c.start_time == t.words[c.start_word_index].start
        assert c.end_time == t.words[c.end_word_index - 1].end
        assert c.start_time <= c.end_time
    if walls is not None:
        assert topic_boundaries(chunks) == list(walls)
        for c in chunks:  # no chunk straddles a topic boundary
            assert not any(c.start_word_index < w < c.end_word_index for w in walls)
    for a, b in pairwise(chunks):
        if walls is not None and b.topic_index != a.topic_index:
            assert b.topic_index == a.topic_index + 1
            assert b.start_word_index == a.end_word_index  # no overlap across topics
        elif sentences is None:
            assert b.start_word_index == a.end_word_index - overlap  # exact overlap
        else:  # the first sentence start within `overlap` words (after a's start), else none
            lo = max(a.end_word_index - overlap, a.start_word_index + 1)
            inside = [s for s in sentences if lo <= s <= a.end_word_index]
            assert b.start_word_index == (inside[0] if inside else a.end_word_index)
        assert b.end_word_index > a.end_word_index  # every chunk brings new words
        assert b.start_word_index > a.start_word_index
        assert b.start_time >= a.start_time and b.end_time >= a.end_time
        assert a.boundary_score is not None
    assert chunks[-1].boundary_score is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts(), sizes(), st.sampled_from(["tfidf", "fixed"]))
def test_hard_rules_hold_on_random_texts(text, size, method):
    tokens, gaps = text
    chunk_size, overlap = size
    t = _timed_transcript(tokens, gaps)
    chunks = create_semantic_chunks(t, chunk_size, overlap, method=method, with_temporal=False)
    walls = None if method == "fixed" else prepare(t, method).topic_starts
    starts = None if method == "fixed" else _sentence_starts(t, method)
    assert_hard_rules(chunks, t, chunk_size, overlap, walls, starts)
    exact = create_semantic_chunks(t, chunk_size, overlap, method=method, with_temporal=False,
                                   chunk_boundaries="word")
    assert_hard_rules(exact, t, chunk_size, overlap, walls)
    again = create_semantic_chunks(t, chunk_size, overlap, method=method, with_temporal=False)
    assert [c.to_dict() for c in chunks] == [c.to_dict() for c in again]  # deterministic


@settings(max_examples=30, deadline=None)
@given(texts(), sizes(), st.floats(-1.0, 3.0), st.integers(1, 5), st.integers(1, 4))
def test_hard_rules_hold_for_any_threshold_and_window(text, size, threshold, window, smoothing):
    tokens, gaps = text
    chunk_size, overlap = size
    t = _timed_transcript(tokens, gaps)
    prep = prepare(t, "tfidf", window=window, smoothing=smoothing)
    starts = [s.start_word for s in prep.sentences]
    chunks = chunk_prepared(prep, chunk_size, overlap, threshold=threshold, with_temporal=False,
                            straddle_topics=True)
    assert_hard_rules(chunks, t, chunk_size, overlap, None, starts)
    assert_hard_rules(chunk_prepared(prep, chunk_size, overlap, with_temporal=False), t,
                      chunk_size, overlap, prep.topic_starts, starts)
    assert_hard_rules(chunk_prepared(prep, chunk_size, overlap, with_temporal=False,
                                     straddle_topics=True, threshold=threshold,
                                     chunk_boundaries="word"), t, chunk_size, overlap)


def test_plain_text_accepted_and_short_text_is_one_chunk():
    chunks = create_semantic_chunks("One short sentence. Another one here.", 150, 25,
                                    method="tfidf")
    assert len(chunks) == 1
    assert chunks[0].text == "One short sentence. Another one here."
    assert chunks[0].boundary_score is None
    assert create_semantic_chunks("", method="tfidf") == []


def test_segment_shorter_than_overlap_is_merged():
    # Topic A (long), a 3-word topic B, then topic C: B has fewer words than the overlap,
    # so it never becomes a chunk of its own and overlap stays exact.
    a = "The printing press used movable metal type and ink on paper pages. " * 12
    b = "Fish swim fast. "
    c = "Voters elected the judge to the court under the new election law. " * 12
    t = Transcript.from_text(a + b + c)
    chunks = create_semantic_chunks(t, 120, 10, method="tfidf")
    walls = prepare(t, "tfidf").topic_starts
    assert len(walls) == 1 and walls[0] in (144, 147)  # B is too short to be a topic
    assert_hard_rules(chunks, t, 120, 10, walls, _sentence_starts(t))
    for x, y in pairwise(chunks):
        assert y.end_word_index - x.end_word_index >= 10 or y is chunks[-1]


def test_oversized_sentence_is_split_by_words():
    t = Transcript.from_text(" ".join(f"w{i}" for i in range(95)))  # no punctuation at all
    chunks = create_semantic_chunks(t, 20, 5, method="tfidf")
    assert_hard_rules(chunks, t, 20, 5, (), _sentence_starts(t))


def test_cuts_prefer_sentence_ends_when_forced():
    sents = [f"Sentence number {i} talks about the same plain topic here." for i in range(40)]
    t = Transcript.from_text(" ".join(sents))
    chunks = create_semantic_chunks(t, 50, 0, method="tfidf")
    assert_hard_rules(chunks, t, 50, 0, prepare(t, "tfidf").topic_starts, _sentence_starts(t))
    ends = [t.words[e - 1].text.endswith(".") for e in chunk_boundaries(chunks)]
    assert all(ends)


def test_chunk_records_carry_temporal_info():
    text = ("In fourteen sixty-five Sweynheim and Pannartz began printing near Rome. "
            "They used a beautiful type.")
    (chunk,) = create_semantic_chunks(text, method="tfidf")
    assert not chunk.temporal_info.requires_user_clarification
    assert chunk.temporal_info.temporal_marker == "1465"
    assert Chunk.from_dict(chunk.to_dict()) == chunk


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": 10.5}, "chunk_size"),
        ({"chunk_size": True}, "chunk_size"),
        ({"overlap": -1}, "overlap"),
        ({"chunk_size": 10, "overlap": 10}, "overlap"),
        ({"method": "magic"}, "method"),
        ({"window": 0}, "window"),
        ({"smoothing": 0}, "smoothing"),
        ({"threshold": float("nan")}, "threshold"),
        ({"min_words": 0}, "min_words"),
        ({"chunk_size": 10, "overlap": 5, "min_words": 6}, "min_words"),
        ({"pause_seconds": 0}, "pause_seconds"),
    ],
)
def test_bad_parameters_rejected_with_clear_errors(kwargs, name):
    kwargs = {"method": "tfidf", **kwargs}
    with pytest.raises(ValueError, match=name) as err:
        create_semantic_chunks("Some words here. And more words there.", **kwargs)
    bad = next(v for k, v in kwargs.items() if k == name)
    assert repr(bad) in str(err.value) or str(bad) in str(err.value)


def test_unknown_option_rejected():
    with pytest.raises(TypeError, match="windw"):
        create_semantic_chunks("Some words.", method="tfidf", windw=3)


def test_progress_reported_and_cancellable():
    from pipeline_kit.base._progress import TaskCancelled

    class Recorder:
        def __init__(self, cancel: bool = False) -> None:
            self.steps: list[str | None] = []
            self.values: list[float | None] = []
            self.cancel = cancel

        def update(self, value=None, total=None, *, step=None, within=None):
            self.steps.append(step)
            self.values.append(None if value is None else 100 * value / (total or 100))

        def check_cancelled(self):
            if self.cancel:
                raise TaskCancelled()

    rec = Recorder()
    create_semantic_chunks("A b c. D e f. " * 50, 20, 2, method="tfidf", progress=rec)
    assert "Embedding sentences" in rec.steps and "Building chunks" in rec.steps
    with pytest.raises(TaskCancelled):
        create_semantic_chunks("A b c. D e f. " * 50, 20, 2, method="tfidf",
                               progress=Recorder(cancel=True))


# ------------------------------------------------------------------ real text (Choi)


def _choi_docs(folder: str, count: int) -> list[tuple[str, list[int]]]:
    root = shared_path(f"textseg/choi_dev/{folder}")
    docs = []
    for i in range(count):
        sents, bounds = load_choi(root / f"{i}.ref")
        docs.append((" ".join(sents), sentence_to_word_boundaries(sents, bounds)))
    return docs


def _mean_pk(docs, method: str, chunk_size: int, overlap: int) -> float:
    scores = []
    for text, gold in docs:
        chunks = create_semantic_chunks(text, chunk_size, overlap, method=method,
                                        with_temporal=False)
        scores.append(pk(gold, chunk_boundaries(chunks), len(text.split())))
    return float(np.mean(scores))


@pytest.mark.parametrize(("method", "ceiling"), [("tfidf", 0.35), ("embedding", 0.2)])
def test_choi_boundaries_beat_fixed_size(method, ceiling):
    docs = _choi_docs("3-11", 10)
    fixed = _mean_pk(docs, "fixed", 400, 0)
    semantic = _mean_pk(docs, method, 400, 0)
    assert semantic < ceiling, semantic
    assert semantic < fixed - 0.1, (semantic, fixed)


def test_choi_with_overlap_and_small_chunks_still_beats_fixed():
    docs = _choi_docs("6-8", 6)
    assert _mean_pk(docs, "tfidf", 200, 25) < _mean_pk(docs, "fixed", 200, 25)


def test_lj_speech_text_chunks_carry_spelled_out_years():
    text = shared_path("speech_long/ljspeech_LJ001-0001-0032_concat_16k.ref.txt").read_text()
    t = Transcript.from_text(text)
    chunks = create_semantic_chunks(t, 80, 10, method="tfidf")
    assert_hard_rules(chunks, t, 80, 10, prepare(t, "tfidf").topic_starts, _sentence_starts(t))
    values = {m.normalized for c in chunks for m in c.temporal_info.markers}
    assert {"1455", "1462", "1465", "15th century"} <= values


# ------------------------------------------------------------------ topic-aware chunking


def test_chunks_never_straddle_the_segmentation_topics_unless_asked():
    # Three Choi documents (real text): the MiniLM + lexical segmentation finds topics,
    # every topic boundary is a cut without overlap, size splits stay inside a topic.
    for text, _ in _choi_docs("3-5", 3):
        t = Transcript.from_text(text)
        prep = prepare(t, "embedding")
        assert len(prep.topic_starts) >= 2
        chunks = chunk_prepared(prep, 60, 15, with_temporal=False)
        starts = [s.start_word for s in prep.sentences]
        assert_hard_rules(chunks, t, 60, 15, prep.topic_starts, starts)
        assert len(chunks) > len(prep.topic_starts) + 1  # the size limit split some topics
        straddled = chunk_prepared(prep, 60, 15, with_temporal=False, straddle_topics=True)
        assert_hard_rules(straddled, t, 60, 15, None, starts)
        assert any(c.start_word_index < w < c.end_word_index
                   for c in straddled for w in prep.topic_starts)


def test_topic_chunking_is_deterministic_and_empty_input_gives_nothing():
    text = _choi_docs("3-5", 1)[0][0]
    runs = [[c.to_dict() for c in create_semantic_chunks(text, 80, 20)] for _ in range(2)]
    assert runs[0] == runs[1]
    assert create_semantic_chunks("", 80, 20) == []
    empty = Transcript("", (), (), "en", 1.0, ModelInfo("test"), "test")
    assert create_semantic_chunks(empty, 80, 20) == []
    assert prepare(empty).topic_starts == ()


def test_topic_chunks_keep_measured_word_times():
    tokens = _choi_docs("3-5", 1)[0][0].split()
    gaps = [0.05 + (i % 7) * 0.11 for i in range(len(tokens))]  # uneven, never evenly spread
    t = _timed_transcript(tokens, gaps)
    chunks = create_semantic_chunks(t, 70, 10, method="tfidf", with_temporal=False)
    assert_hard_rules(chunks, t, 70, 10, prepare(t, "tfidf").topic_starts, _sentence_starts(t))


def test_bundled_sample_text_chunks_follow_rules(sample_dir):
    text = (sample_dir / "austen_sample.txt").read_text(encoding="utf-8")
    t = Transcript.from_text(text)
    prep = prepare(t, "embedding")
    chunks = chunk_prepared(prep, 40, 8)
    assert_hard_rules(chunks, t, 40, 8, prep.topic_starts, [s.start_word for s in prep.sentences])


def test_chunk_sentence_spans_are_the_sentences_each_chunk_overlaps():
    """The spans the collection scores chunks by: exactly the sentences a chunk's word range
    overlaps (overlapping chunks share sentences), and the chunk vector is their mean."""
    t = Transcript.from_text(_choi_docs("3-11", 1)[0][0])
    prep = prepare(t, "embedding")
    assert prep.embeddings is not None and len(prep.sentences) > 20
    for size, overlap in ((40, 8), (25, 0)):
        chunks = chunk_prepared(prep, size, overlap)
        spans = chunk_sentence_spans(prep, chunks)
        vectors = chunk_embeddings(prep, chunks)
        assert vectors is not None and spans.shape == (len(chunks), 2)
        for c, (lo, hi), v in zip(chunks, spans.tolist(), vectors, strict=True):
            want = [i for i, s in enumerate(prep.sentences)
                    if s.start_word < c.end_word_index and s.end_word > c.start_word_index]
            assert want and list(range(lo, hi)) == want, (c.chunk_index, lo, hi, want)
            mean = prep.embeddings[lo:hi].mean(axis=0)
            assert np.allclose(v, mean / np.linalg.norm(mean), atol=1e-6)


def test_choi_topic_boundaries_of_chunks_match_gold_with_the_hard_max_kept():
    # Chunks of at most 150 words (overlap 25): the chunks' topic boundaries score Pk
    # below 0.1 against the gold segments; with a size that never binds, all chunk
    # boundaries do, far better than the old threshold rule (straddle_topics=True).
    docs = _choi_docs("3-11", 4)
    topic, loose, old = [], [], []
    for text, gold in docs:
        n = len(text.split())
        prep = prepare(text, "embedding")
        chunks = chunk_prepared(prep, 150, 25, with_temporal=False)
        assert max(c.word_count for c in chunks) <= 150
        topic.append(pk(gold, topic_boundaries(chunks), n))
        loose.append(pk(gold, chunk_boundaries(chunk_prepared(prep, 5000, 0)), n))
        old.append(pk(gold, chunk_boundaries(
            chunk_prepared(prep, 5000, 0, straddle_topics=True)), n))
    assert np.mean(topic) < 0.1, topic
    assert np.mean(loose) < 0.1, loose
    assert np.mean(loose) < np.mean(old), (loose, old)


def test_small_cpu_batches_give_the_same_embeddings():
    # The CPU default batches 8 sentences (faster: less padding); padding must not
    # change a vector, so results equal those of one big batch.
    from pipeline_kit.stages._embeddings import CPU_BATCH_SIZE, get_embedder

    sents, _ = load_choi(shared_path("textseg/choi_dev/3-11/0.ref"))
    emb = get_embedder(None)
    assert emb.batch_size == CPU_BATCH_SIZE
    small = emb.encode(sents[:40])
    big = emb._model.encode(sents[:40], batch_size=64, normalize_embeddings=True)
    assert np.allclose(small, big, atol=1e-5)
