"""Key phrases: concepts rather than stop words, multiword phrases and proper names."""

from __future__ import annotations

from pipeline_kit.stages._keyphrases import (
    candidates,
    document_key_phrases,
    key_phrases,
    phrase_key,
    phrase_stats,
)
from tests.conftest import shared_path

LJ = "speech_long/ljspeech_LJ001-0001-0032_concat_16k.ref.txt"
WEAK = {"had", "the", "which", "were", "was", "said", "made", "very", "fourteen", "sixty-five",
        "closely", "then", "now"}


def _windows(text: str, size: int = 110, step: int = 95) -> list[str]:
    w = text.split()
    return [" ".join(w[i:i + size]) for i in range(0, len(w), step)]


def test_candidates_skip_stop_words_and_punctuation():
    keys = {k for k, _, _ in candidates("He had printed the art of printing, in fourteen "
                                        "fifty-five, with movable types near Rome.")}
    assert {"art of printing", "movable type", "rome"} <= keys
    assert not keys & {"had", "fourteen", "fifty-five", "printed", "near rome"}
    assert not any("printing in" in k for k in keys)


def test_phrase_key_merges_plurals():
    assert phrase_key("Movable Types") == phrase_key("movable type") == "movable type"


def test_lj_key_phrases_are_concepts():
    chunks = _windows(shared_path(LJ).read_text(encoding="utf-8"))
    per_chunk = key_phrases(chunks, top_n=6)
    assert len(per_chunk) == len(chunks)
    phrases = [p for row in per_chunk for p, _ in row]
    assert not {p.lower() for p in phrases} & WEAK
    assert sum(len(p.split()) > 1 for p in phrases) >= len(phrases) // 2
    assert "Gutenberg Bible" in phrases  # proper names keep their capitals
    doc = [p for p, _ in document_key_phrases(chunks, top_n=25)]
    assert {"printing", "movable types", "Middle Ages"} <= set(doc)
    st = phrase_stats(chunks)
    assert "gutenberg bible" in st.proper and "printing" not in st.proper
    assert set(st.variants["letter"]) >= {"letter", "letters"}


def test_scores_sorted_and_empty_inputs():
    rows = key_phrases(["the cat sat on the mat", "a dog barked at the cat"], top_n=3)
    for row in rows:
        assert [s for _, s in row] == sorted((s for _, s in row), reverse=True)
    assert key_phrases([]) == []
    assert key_phrases(["the and of"]) == [[]]
    assert document_key_phrases(["the and of"]) == []
