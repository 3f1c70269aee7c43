"""Text rebuilt from words in one place (issue 28): every derived view of a word range
reads as the transcript's own text over those words, on real transcripts; sentences
come from the parser without breaks after abbreviations; the parse is made once."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from conftest import shared_path

from pipeline_kit.stages._chunking import create_semantic_chunks
from pipeline_kit.stages._parse import from_dict, parsed
from pipeline_kit.stages._sentences import split_sentences
from pipeline_kit.stages._subtitles import MIN_TURN_SECONDS, _cues
from pipeline_kit.stages._text import join_words, joins_previous, split_text, word_offsets
from pipeline_kit.stages._transcription import transcribe
from pipeline_kit.stages._types import Transcript

ABBREVIATIONS = ("Mr.", "Mrs.", "Dr.", "Sen.", "Rep.", "St.", "B.C.", "e.g.", "i.e.", "figs.")


@pytest.fixture(scope="module")
def transcripts(sample_dir) -> list[Transcript]:
    """Whisper tiny.en transcripts of the bundled recordings (they hold Whisper's
    hyphenated parts: "ill", "-disposed", "self-substantial") and of the JFK excerpt when
    shared data is there; the Austen clips once each (not again in their join)."""
    wavs = sorted(p for p in sample_dir.glob("*.wav") if p.name != "austen_sample.wav")
    out = [transcribe(str(p)) for p in wavs]
    try:
        out.append(transcribe(str(shared_path("speech/jfk/jfk.flac"))))
    except pytest.skip.Exception:
        pass
    return out


def _span_text(t: Transcript, a: int, b: int) -> str:
    """The transcript's own text over words ``[a, b)``."""
    offsets = word_offsets(t.words)
    return " ".join(t.text.split())[offsets[a][0]:offsets[b - 1][1]]


@pytest.mark.parametrize(("words", "text"), [
    (["self", "-substantial", "and", "ill", "-disposed."], "self-substantial and ill-disposed."),
    (["the", "42", "-line", "Bible"], "the 42-line Bible"),
    (["you", "--ask", "-", "what"], "you--ask - what"),
    (["do", "n't", "Tom", "'s", "dog"], "don't Tom's dog"),
    (["January", ",", "1946", "(", "see", "below", ")", "."], "January, 1946 (see below)."),
    (["", "a", "", "b"], "a b"),
    ([], ""),
])
def test_join_words_glues_hyphen_parts_contractions_and_punctuation(words, text):
    assert join_words(words) == text
    assert [text[a:b] for a, b in word_offsets(words)] == [w for w in words]
    kept = [w for w in words if w]
    assert split_text(text, len(kept)) == kept


def test_split_text_refuses_a_word_count_the_text_cannot_hold():
    with pytest.raises(ValueError, match="3 words"):
        split_text("plain words", 3)


def test_transcript_text_is_the_join_of_its_words(transcripts):
    hyphen_parts = 0
    for t in transcripts:
        assert join_words(t.words) == " ".join(t.text.split())
        for seg in t.segments:
            assert join_words(t.words[seg.word_start:seg.word_end]) == " ".join(seg.text.split())
        hyphen_parts += sum(w.text.startswith("-") for w in t.words)
    assert hyphen_parts >= 3  # "ill -disposed", "cold -hearted": the case of the issue


@pytest.mark.parametrize("boundaries", ["sentence", "word"])
def test_chunk_and_sentence_texts_equal_the_transcript_over_their_words(transcripts,
                                                                        boundaries):
    for t in transcripts:
        for s in split_sentences(t):
            assert s.text == _span_text(t, s.start_word, s.end_word)
        for c in create_semantic_chunks(t, 12, 4, method="tfidf", chunk_boundaries=boundaries):
            assert c.text == _span_text(t, c.start_word_index, c.end_word_index)
            assert " -" not in c.text.replace(" - ", "")  # never "self -substantial"


def test_subtitle_cues_are_the_transcript_text_and_never_split_a_word(transcripts):
    for t in transcripts:
        i = 0
        for start, end, text in _cues(t.words, max_chars=30):
            n = len(split_text(text))
            j = next(j for j in range(i + 1, len(t.words) + 1)
                     if join_words(t.words[i:j]) == text)  # the cue's words, in order
            assert j - i >= n and start == t.words[i].start and end == t.words[j - 1].end
            assert text == _span_text(t, i, j)
            assert not joins_previous(t.words[i].text)  # no cue opens with "-disposed"
            i = j
        assert i == len(t.words)
        assert "-disposed" not in t.to_srt().replace("ill-disposed", "")


def test_speaker_flips_split_cues_only_between_words_and_at_one_second(transcripts):
    t = max(transcripts, key=lambda x: len(x.words))
    # Two speakers taking turns every 12 words, and a one-word label flip mid-turn.
    labels = ["A" if (i // 12) % 2 == 0 else "B" for i in range(len(t.words))]
    labels[5] = "B"
    words = [dataclasses.replace(w, speaker=s) for w, s in zip(t.words, labels, strict=True)]
    cues = _cues(words)
    assert all(re.match(r"\[[AB]\] ", text) for _, _, text in cues)
    assert not any(join_words([words[5]]) == text[4:] for _, _, text in cues)
    for (a0, a1, a), (b0, b1, b) in zip(cues, cues[1:], strict=False):
        if a[:3] != b[:3] and b0 - a1 < 0.8 and not a.endswith((".", "?", "!")):
            assert a1 - a0 >= MIN_TURN_SECONDS and b1 - b0 >= MIN_TURN_SECONDS


def _hyphenated(transcripts: list[Transcript]) -> Transcript:
    """The first transcript holding a word Whisper split at a hyphen ("ill", "-disposed")."""
    return next(t for t in transcripts if any(w.text.startswith("-") for w in t.words))


def test_notebook_views_read_like_the_transcript(transcripts, sample_dir):
    from pipeline_kit.notebook._listen import transcript_view, words_html

    t = _hyphenated(transcripts)
    view = transcript_view(t, sample_dir / "austen_sample.wav")
    assert view.plain.split("] ", 1)[1] == " ".join(t.text.split())
    html = words_html(t.words)
    shown = re.sub(r"<[^>]+>", "", html)
    assert shown == " ".join(t.text.split())


def test_collection_snippets_are_transcript_text(transcripts):
    from pipeline_kit.collection._search import highlight

    t = _hyphenated(transcripts)
    text = " ".join(t.text.split())
    for c in create_semantic_chunks(t, 20, 5, method="tfidf"):
        snippet = highlight(c.text, "disposed hearted", width=8)
        plain = snippet.replace("**", "").removeprefix("… ").removesuffix(" …")
        assert plain in text


def test_no_sentence_break_after_abbreviations_on_real_text():
    """Every Choi (Brown corpus) sentence holding one of the issue's abbreviations, in a
    row: the parser alone breaks after some ("figs."); the splitter never does."""
    lines = []
    for f in sorted(shared_path("textseg/choi_dev").glob("*/*.ref")):
        lines += [ln.strip() for ln in f.read_text(errors="replace").splitlines()
                  if any(f" {a} " in f" {ln} " for a in ABBREVIATIONS)]
    lines = sorted(set(lines))[:150]
    assert len(lines) >= 60
    t = Transcript.from_text(" ".join(lines))
    ends = [t.words[s.end_word - 1].text for s in split_sentences(t)[:-1]]
    assert not [e for e in ends if e in ABBREVIATIONS]
    assert len(ends) >= len(lines) * 0.8  # still splits the real sentence ends


@pytest.mark.parametrize("text", [
    "Sen. John L. McClellan of Arkansas and Rep. David Martin of Nebraska are here.",
    "The town was built in 300 B.C. by the river.",
    "See figs. 3 and 4, e.g. the map, i.e. the plan of St. Paul by Dr. Jones and Mr. Smith.",
])
def test_abbreviations_do_not_end_sentences(text):
    assert len(split_sentences(text)) == 1


def test_long_written_sentences_stay_whole_and_unpunctuated_runs_are_cut():
    """Choi's (Brown corpus) sentences of 61-150 words each end where the corpus ends
    them: punctuation is trusted there. The same words without punctuation are a
    run-on, cut every 60 words."""
    long, short = [], []
    for f in sorted(shared_path("textseg/choi_dev").glob("*/*.ref")):
        for ln in f.read_text(errors="replace").splitlines():
            n = len(ln.split())
            inner = ln.split()[:-1]  # Choi writes a final mark as a token of its own
            if ln.rstrip().endswith((".", "?", "!")) and not {".", "?", "!", ".."} & set(inner):
                (long if 60 < n <= 150 else short if 8 <= n <= 15 else []).append(ln.strip())
    long = sorted(set(long))[:20]
    assert len(long) >= 10
    # text of ordinary density (a final mark per ~20 words) holding the long sentences
    lines = [x for pair in zip(long, sorted(set(short))[:3 * len(long):3], strict=True)
             for x in pair]
    starts = {0}
    for ln in lines[:-1]:
        starts.add(max(starts) + len(ln.split()))
    t = Transcript.from_text(" ".join(lines))
    cuts = {s.start_word for s in split_sentences(t)}
    assert cuts <= starts, sorted(cuts - starts)[:5]  # no cut inside a written sentence
    bare = Transcript.from_text(" ".join(w.strip(".,;:?!") or "x" for ln in lines
                                         for w in ln.split()))
    assert max(s.end_word - s.start_word for s in split_sentences(bare)) <= 60


def test_the_parse_is_made_once_and_maps_tokens_to_words(transcripts):
    t = _hyphenated(transcripts)
    p = parsed(t)
    assert parsed(dataclasses.replace(t)) is p  # same words and model: the cached parse
    offsets = word_offsets(t.words)
    for tok in p.doc:
        a, b = offsets[p.word_index(tok.i)]
        assert a <= tok.idx < b  # every token lies inside the word it maps to
    hyphen = next(i for i, w in enumerate(t.words) if w.text.startswith("-"))
    inside = [tok for tok in p.doc if p.word_index(tok.i) == hyphen]
    assert inside and not all(p.starts_word(tok.i) for tok in p.doc
                              if p.word_index(tok.i) in (hyphen - 1, hyphen))
    again = from_dict(json.loads(json.dumps(p.to_dict())))
    assert [s.text for s in again.doc.sents] == [s.text for s in p.doc.sents]
    assert [(e.text, e.label_) for e in again.doc.ents] == [(e.text, e.label_)
                                                            for e in p.doc.ents]
    assert [tok.lemma_ for tok in again.doc] == [tok.lemma_ for tok in p.doc]
    assert [np.text for np in again.doc.noun_chunks] == [np.text for np in p.doc.noun_chunks]
    assert again.word_of_token == p.word_of_token
