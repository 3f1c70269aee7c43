"""Topic segmentation (Choi benchmark quality) and chapter analysis."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_path

from pipeline_kit.stages._chapters import analyze_chapters, transcript_from_chunks
from pipeline_kit.stages._embeddings import get_embedder
from pipeline_kit.stages._segmentation import segment_sentences
from pipeline_kit.stages._segmetrics import load_choi, pk
from pipeline_kit.stages._sentences import split_sentences
from pipeline_kit.stages._types import Chunk, ModelInfo, Segment, Transcript, Word

LJ = "speech_long/ljspeech_LJ001-0001-0032_concat_16k.ref.txt"
REPO_DATA = Path(__file__).resolve().parents[1] / "data"

TOPICS = [
    "The orchestra tuned violins before the symphony. The conductor raised the baton "
    "and the violins began the symphony. Cellos joined the violins in the slow movement. "
    "The symphony ended and the orchestra bowed.",
    "The farmer planted wheat in the spring field. Rain helped the wheat grow tall in the "
    "field. The farmer harvested the wheat with a tractor. The tractor carried the wheat "
    "to the barn.",
    "The rocket engine ignited on the launch pad. The rocket climbed toward orbit with "
    "its engine roaring. Astronauts inside the rocket watched the orbit approach. The "
    "engine shut down once the rocket reached orbit.",
]


class LookupEmbedder:
    """Serves precomputed MiniLM vectors: the benchmark encodes each sentence once."""

    name = "minilm-lookup"

    def __init__(self, texts: Sequence[str]) -> None:
        unique = sorted(set(texts))
        vectors = get_embedder(None).encode(unique)
        self._rows = dict(zip(unique, vectors, strict=True))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._rows[t] for t in texts])


class RecordingProgress:
    def __init__(self) -> None:
        self.values: list[float | None] = []

    def update(self, value=None, total=None, *, step=None, within=None) -> None:
        self.values.append(value)

    def check_cancelled(self) -> None:
        return None


@pytest.fixture(scope="module")
def choi_3_11() -> list[tuple[list[str], list[int]]]:
    folder = shared_path("textseg/choi_dev/3-11")
    docs = [load_choi(p) for p in sorted(folder.glob("*.ref"), key=lambda p: int(p.stem))]
    assert len(docs) == 50
    return docs


@pytest.fixture(scope="module")
def lj() -> Transcript:
    return Transcript.from_text(shared_path(LJ).read_text(encoding="utf-8"))


def make_chunks(t: Transcript, size: int = 60, overlap: int = 12) -> list[Chunk]:
    out, start = [], 0
    while True:
        end = min(start + size, len(t.words))
        words = t.words[start:end]
        out.append(Chunk(len(out), " ".join(w.text for w in words), start, end,
                         words[0].start, words[-1].end))
        if end == len(t.words):
            return out
        start = end - overlap


def pieces_of(summary: str, sentences: Sequence[str]) -> bool:
    """True when ``summary`` is some of ``sentences`` joined in order."""
    rest = summary
    for s in sentences:
        if rest.startswith(s):
            rest = rest[len(s):].lstrip()
    return rest == ""


# --- segmentation quality (real data) ---------------------------------------------------

@pytest.mark.slow
def test_choi_3_11_pk_without_segment_count(choi_3_11):
    emb = LookupEmbedder([s for doc, _ in choi_3_11 for s in doc])
    scores = [pk(ref, segment_sentences(doc, embedder=emb), len(doc)) for doc, ref in choi_3_11]
    assert float(np.mean(scores)) <= 0.07  # C99: 0.12, TextTiling: 0.32 (published)


def test_choi_3_11_lexical_only_is_decent(choi_3_11):
    """Quality only: its speed is measured by tests/benchmarks/bench_chapters.py."""
    scores = [pk(ref, segment_sentences(doc, method="lexical"), len(doc))
              for doc, ref in choi_3_11]
    assert float(np.mean(scores)) <= 0.11


def test_long_text_segments_into_chapters(choi_3_11):
    """A 9,000-word text of six documents gets several chapters that tile it in order
    (its speed, now mostly the spaCy parse's, is benchmarked by bench_parse.py)."""
    text = " ".join(s for doc, _ in choi_3_11[:6] for s in doc)
    assert len(text.split()) >= 9000
    chapters = analyze_chapters(text, method="lexical")
    assert len(chapters) > 1
    assert [c.chapter_index for c in chapters] == list(range(len(chapters)))
    assert chapters[-1].end_time > chapters[0].end_time


# --- segmentation API (no data needed) ---------------------------------------------------

def test_segment_sentences_finds_synthetic_topics():
    sents = [s.text for s in split_sentences(" ".join(TOPICS))]
    assert segment_sentences(sents, method="lexical") == [4, 8]
    assert segment_sentences(sents, method="lexical", target_count=2) in ([4], [8])
    assert segment_sentences(sents, method="lexical", target_count=1) == []


def test_segment_sentences_edge_cases():
    assert segment_sentences([], method="lexical") == []
    assert segment_sentences(["One.", "Two."], method="lexical") == []
    assert segment_sentences(["the and of"] * 8, method="lexical") == []
    bounds = segment_sentences([s for t in TOPICS for s in t.split(". ")], method="lexical",
                               min_length=4)
    assert all(b2 - b1 >= 4 for b1, b2 in zip([0, *bounds], [*bounds, 12], strict=True))


@pytest.mark.parametrize("kwargs", [
    {"method": "c99"}, {"min_length": 0}, {"min_length": 2.5}, {"target_count": 0},
    {"target_count": True}, {"resolution": 1.0}, {"lexical_weight": 1.5},
    {"lexical_resolution": -1}, {"target_count": 5},
])
def test_segment_sentences_rejects_bad_options(kwargs):
    with pytest.raises(ValueError):
        segment_sentences(["A b c."] * 9, **{"method": "lexical", **kwargs})


# --- chapters (LJ Speech text) ----------------------------------------------------------

def check_chapters(chapters, t: Transcript) -> None:
    sents = split_sentences(t)
    assert chapters and chapters[0].start_sentence == 0
    assert chapters[-1].end_sentence == len(sents)
    assert chapters[0].start_time == pytest.approx(sents[0].start_time)
    assert chapters[-1].end_time == pytest.approx(sents[-1].end_time)
    for i, c in enumerate(chapters):
        assert c.chapter_index == i and c.start_sentence < c.end_sentence
        assert c.title.strip() and c.key_phrases
        assert c.start_time < c.end_time
        assert pieces_of(c.summary, [s.text for s in sents[c.start_sentence:c.end_sentence]])
        assert c.summary
    for a, b in zip(chapters, chapters[1:], strict=False):
        assert a.end_sentence == b.start_sentence
        assert a.end_time == pytest.approx(b.start_time)


def test_lj_chapters_cover_text_in_order(lj):
    chapters = analyze_chapters(lj)
    check_chapters(chapters, lj)
    assert 2 <= len(chapters) <= 5
    assert all(c.end_sentence - c.start_sentence >= 4 for c in chapters)


def test_lj_chapters_from_chunks_match_transcript(lj):
    chunks = make_chunks(lj)
    from_chunks = analyze_chapters(chunks, method="lexical")
    from_transcript = analyze_chapters(lj, method="lexical", chunks=chunks)
    assert len(from_chunks) == len(from_transcript) > 1
    sents = split_sentences(lj)
    for a, b in zip(from_chunks, from_transcript, strict=True):
        assert (a.start_sentence, a.end_sentence) == (b.start_sentence, b.end_sentence)
        assert (a.title, a.summary, a.key_phrases) == (b.title, b.summary, b.key_phrases)
        assert a.start_time == pytest.approx(b.start_time)
        assert a.end_time == pytest.approx(b.end_time)
        assert a.chunk_ids == b.chunk_ids and a.chunk_ids
        lo, hi = sents[a.start_sentence].start_word, sents[a.end_sentence - 1].end_word
        expected = [c.chunk_id for c in chunks
                    if c.start_word_index < hi and c.end_word_index > lo]
        assert list(a.chunk_ids) == expected
    check_chapters(from_chunks, lj)


def test_transcript_from_chunks_removes_overlap(lj):
    rebuilt, offset = transcript_from_chunks(make_chunks(lj, 50, 20))
    assert offset == 0
    assert [w.text for w in rebuilt.words] == [w.text for w in lj.words]
    assert rebuilt.words[-1].end == pytest.approx(lj.words[-1].end)


@pytest.mark.parametrize("min_sentences", [1, 3, 5, 7])
def test_min_sentences_respected(lj, min_sentences):
    chapters = analyze_chapters(lj, method="lexical", min_sentences=min_sentences)
    assert all(c.end_sentence - c.start_sentence >= min_sentences for c in chapters)


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_target_count_respected(lj, count):
    chapters = analyze_chapters(lj, method="lexical", target_count=count, min_sentences=2)
    assert len(chapters) == count
    check_chapters(chapters, lj)


def test_min_seconds_respected(lj):
    chapters = analyze_chapters(lj, method="lexical", min_sentences=1, min_seconds=70.0)
    assert len(chapters) >= 1
    assert all(c.end_time - c.start_time >= 70.0 for c in chapters)


def test_hybrid_and_progress_and_determinism(lj):
    prog = RecordingProgress()
    first = analyze_chapters(lj, progress=prog)
    second = analyze_chapters(lj)
    assert [c.to_dict() for c in first] == [c.to_dict() for c in second]
    assert prog.values[-1] == 100


@pytest.mark.parametrize("kwargs, error", [
    ({"method": "bogus"}, ValueError), ({"min_sentences": 0}, ValueError),
    ({"min_seconds": -1}, ValueError), ({"target_count": 0}, ValueError),
    ({"target_count": 50}, ValueError), ({"summary_sentences": 0}, ValueError),
    ({"title_phrases": 0}, ValueError), ({"window": 3}, ValueError),
])
def test_analyze_chapters_rejects_bad_options(lj, kwargs, error):
    with pytest.raises(error):
        analyze_chapters(lj, **{"method": "lexical", **kwargs})


def test_analyze_chapters_rejects_bad_sources(lj):
    with pytest.raises(TypeError):
        analyze_chapters(42)
    with pytest.raises(TypeError):
        analyze_chapters([object()])
    assert analyze_chapters([]) == []  # audio without speech: no chunks, no chapters
    chunks = make_chunks(lj)
    with pytest.raises(ValueError, match="starts at word"):
        analyze_chapters([chunks[0], chunks[2]], method="lexical")
    bad = Chunk(0, "too few words", 0, 10, 0.0, 4.0)
    with pytest.raises(ValueError, match="words"):
        analyze_chapters([bad], method="lexical")


def test_plain_text_and_empty_input():
    chapters = analyze_chapters(" ".join(TOPICS), method="lexical", min_sentences=3)
    assert [(c.start_sentence, c.end_sentence) for c in chapters] == [(0, 4), (4, 8), (8, 12)]
    assert "violins" in chapters[0].title.lower() or "symphony" in chapters[0].title.lower()
    assert analyze_chapters("", method="lexical") == []


# --- spoken headings and short sections (texts of the shared recordings) -----------------

def _timed(pieces: Sequence[str], pause: float = 1.0, per_word: float = 0.35) -> Transcript:
    """A transcript with one segment per piece and ``pause`` s of silence between pieces,
    as the recogniser gives for sections read with spoken headings."""
    words, segments, t = [], [], 0.0
    for i, text in enumerate(pieces):
        first = len(words)
        for tok in text.split():
            words.append(Word(tok, t, t + per_word, 0.9, False))
            t += per_word
        segments.append(Segment(i, words[first].start, t, text, first, len(words)))
        t += pause
    text = " ".join(w.text for w in words)
    return Transcript(text=text, segments=tuple(segments), words=tuple(words), language="en",
                      confidence=1.0, model=ModelInfo(name="test"),
                      word_timing_method="test", audio_duration_seconds=t)


@pytest.fixture(scope="module")
def announced() -> tuple[Transcript, list[str]]:
    """Four sections read from the shared references, each after its spoken number:
    printing (LJ001-0001..0012), JFK's 11 s excerpt, Austen, type design (LJ 0020..0032)."""
    lj = [line.split("|", 1)[1] for line in shared_path(
        "speech/ljspeech_LJ001/transcripts_LJ001-0001-0032.psv").read_text().splitlines()
        if "|" in line]
    jfk = shared_path("speech/jfk/jfk.ref.txt").read_text().strip()
    austen = (REPO_DATA / "sample" / "austen_sample.txt").read_text().strip()
    sections = [" ".join(lj[:12]), jfk, austen, " ".join(lj[19:32])]
    pieces = [p for n, s in zip(["One.", "Two.", "Three.", "Four."], sections, strict=True)
              for p in (n, s)]
    return _timed(pieces), ["One.", "Two.", "Three.", "Four."]


def test_spoken_headings_open_chapters_even_short_ones(announced):
    t, headings = announced
    chapters = analyze_chapters(t)
    sents = split_sentences(t)
    assert [sents[c.start_sentence].text for c in chapters] == headings
    jfk = chapters[1]
    assert jfk.end_sentence - jfk.start_sentence < 4  # shorter than min_sentences
    assert all(" " not in c.title or len(c.title.split()) <= 3 for c in chapters)
    assert "country" in jfk.title.lower() or "americans" in jfk.title.lower()


def test_without_cues_the_short_section_is_merged(announced):
    t, _ = announced
    sents = split_sentences(t)
    starts = [sents[c.start_sentence].text for c in analyze_chapters(t, cues=False)]
    assert "Two." not in starts  # min_sentences=4 forbids the 2-sentence JFK section


def test_headings_are_sentences_of_their_own(announced):
    t, headings = announced
    texts = [s.text for s in split_sentences(t)]
    assert all(h in texts for h in headings)


def test_titles_are_one_central_phrase_from_the_chapter(announced):
    t, _ = announced
    for c in analyze_chapters(t):
        assert "," not in c.title and c.title.lower() in [p.lower() for p in c.key_phrases]
        assert c.title.lower() in c.summary.lower() or any(
            c.title.lower() in s.text.lower()
            for s in split_sentences(t)[c.start_sentence:c.end_sentence])


def test_short_replies_are_no_headings(announced):
    # The same sections after stand-alone "Yes." / "Okay." (a conversation, not
    # announced sections): no cue, so the chapters are those of the content alone.
    t, _ = announced
    texts = [seg.text for seg in t.segments]
    replies = ["Yes.", "Okay.", "Right.", "Sure."]
    pieces = [replies[i // 2] if i % 2 == 0 else x for i, x in enumerate(texts)]
    chat = _timed(pieces)
    spans = [(c.start_sentence, c.end_sentence) for c in analyze_chapters(chat)]
    assert spans == [(c.start_sentence, c.end_sentence)
                     for c in analyze_chapters(chat, cues=False)]


def test_titles_are_noun_phrases_never_pronouns_or_verb_phrases(lj):
    # Verse (Sonnet 18, public domain) then LJ's prose: the old n-gram titles read
    # "Thou art" and "Dost thou" on verse. A title is the chapter's most central noun
    # chunk or entity: it ends on a noun and holds no pronoun or archaic word.
    from test_keyphrases import SONNET_18

    from pipeline_kit.stages._keyphrases import ARCHAIC
    from pipeline_kit.stages._nlp import parse

    text = SONNET_18 + " " + shared_path(LJ).read_text(encoding="utf-8")
    chapters = analyze_chapters(Transcript.from_text(text), target_count=3)
    assert len(chapters) == 3
    sentences = split_sentences(Transcript.from_text(text))
    for c in chapters:
        body = parse(" ".join(s.text for s in sentences[c.start_sentence:c.end_sentence]))
        at = body.text.find(c.title) if c.title in body.text else body.text.lower().find(
            c.title.lower())
        assert at >= 0, c.title
        title = body.char_span(at, at + len(c.title), alignment_mode="expand")
        assert title is not None and not {t.lower_ for t in title} & ARCHAIC, c.title
        assert not any(t.pos_ in ("PRON", "DET", "AUX") for t in title), c.title
        assert title[-1].pos_ in ("NOUN", "PROPN"), c.title


def test_lexical_titles_on_parser_phrases_with_terms_no_sentence_has():
    # Choi 3-11 documents 10-14: a parser phrase there ("Afj ...") gave a stemmed term the
    # sentence-only TF-IDF fit had no column for, and titling crashed on the matmul.
    folder = shared_path("textseg/choi_dev/3-11")
    text = " ".join(line.strip() for i in range(10, 15)
                    for line in (folder / f"{i}.ref").read_text().splitlines()
                    if line.strip() and not line.startswith("=========="))
    chapters = analyze_chapters(Transcript.from_text(text), method="lexical")
    assert len(chapters) > 1 and all(c.title and c.key_phrases for c in chapters)
    assert all(c.title.lower() in [p.lower() for p in c.key_phrases] for c in chapters)
