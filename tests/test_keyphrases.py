"""Key phrases: noun chunks and entities, never function or archaic words."""

from __future__ import annotations

from pipeline_kit.stages._keyphrases import (
    ARCHAIC,
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
    assert {"Peter Schoeffer", "Middle Ages"} <= set(phrases)  # names keep their capitals
    doc = [p for p, _ in document_key_phrases(chunks, top_n=25)]
    assert {"printing", "movable types", "Middle Ages"} <= set(doc)
    st = phrase_stats(chunks)
    assert "peter schoeffer" in st.proper and "printing" not in st.proper
    assert st.entity_type["peter schoeffer"] == "PERSON" and "printing" not in st.entity_type
    assert set(st.variants["letter"]) >= {"letter", "letters"}


# Shakespeare, Sonnet 18 (1609, public domain): the verse the issue found "thou art" in.
SONNET_18 = (
    "Shall I compare thee to a summer's day? Thou art more lovely and more temperate: "
    "Rough winds do shake the darling buds of May, And summer's lease hath all too short a "
    "date; Sometime too hot the eye of heaven shines, And often is his gold complexion "
    "dimm'd; And every fair from fair sometime declines, By chance or nature's changing "
    "course untrimm'd; But thy eternal summer shall not fade, Nor lose possession of that "
    "fair thou ow'st; Nor shall Death brag thou wander'st in his shade, When in eternal "
    "lines to time thou grow'st: So long as men can breathe or eyes can see, So long lives "
    "this, and this gives life to thee.")


def test_verse_gives_no_archaic_or_function_word_concepts():
    found = candidates(SONNET_18)
    words = {w for key, _, _ in found for w in key.split()}
    assert not words & (ARCHAIC | {"i", "his", "this", "that", "every", "all"})
    keys = {k for k, _, _ in found}
    assert {"darling bud", "eternal summer", "gold complexion"} <= keys
    assert not {"art", "thou art", "face thou"} & keys


def test_arts_the_noun_is_a_concept_art_the_verb_is_not():
    keys = {k for k, _, _ in candidates("All the arts and crafts were shown. Thou art fair.")}
    assert "art" in keys  # "arts" (noun) lemmatised
    surfaces = {s for _, s, _ in candidates("Thou art more lovely. Thou art thy mother's glass.")}
    assert not any("art" in s.split() for s in surfaces)


def test_scores_sorted_and_empty_inputs():
    rows = key_phrases(["the cat sat on the mat", "a dog barked at the cat"], top_n=3)
    for row in rows:
        assert [s for _, s in row] == sorted((s for _, s in row), reverse=True)
    assert key_phrases([]) == []
    assert key_phrases(["the and of"]) == [[]]
    assert document_key_phrases(["the and of"]) == []


def test_a_reply_on_its_own_is_no_concept():
    """Whisper's transcript of the demo recording's free speech ends "And that should be
    all. Thanks." and "Alright, thanks.": a formula, which titled a chapter "Thanks";
    thanks given to someone is still talked about."""
    said = ("And here are some more words, words, words, words. And that should be all. "
            "Thanks. So this is the sick purpose. Here's a long pause and I think this is "
            "probably good. Alright, thanks.")
    keys = {k for k, _, _ in candidates(said)}
    assert "sick purpose" in keys and "long pause" in keys
    assert "thanks" not in keys and "thank" not in keys, keys
    assert "thank" in {k for k, _, _ in candidates("The mayor sent his thanks to the crew.")}


def test_a_repeated_word_or_the_moment_is_no_concept():
    """Whisper's transcript of an AMI meeting excerpt (trn01): a speaker's repeat ("the
    view view") and "at the moment" were two of its top-15 concepts."""
    said = ("I'm not 100% sure but I'm not having crashes at the moment. So the view view and "
            "let's see myself and Mariko who's not here and occasionally Melissa will all be "
            "doing checking by with the transcriptions. Well at the moment our best guess is "
            "that it was some stupid Java thing.")
    keys = {k for k, _, _ in candidates(said)}
    assert {"crash", "transcription", "java"} <= keys, keys
    assert not {"view view", "moment"} & keys, keys


def test_no_piece_of_a_name_and_no_unit_is_a_concept():
    """Lee corpus news (issue 28, round 5): a three-word cap cut "New South Wales health
    authorities" to "Wales health authorities", the recognizer's "Guides Simon" stopped
    before "Wiget", and "per cent" gave the concept "cent" (WordNet: a unit)."""
    said = ("New South Wales health authorities maintain the transfer was handled properly. "
            "Guides Simon Wiget and Stefan Abegglen were fined by the court. "
            "Unemployment rose 2 per cent and the river rose three metres.")
    keys = {k for k, _, _ in candidates(said)}
    assert {"health authority", "unemployment"} <= keys, keys
    assert any(k.endswith("simon wiget") for k in keys), keys
    assert not {"wales health authority", "guides simon", "cent", "metre"} & keys, keys


def test_a_name_seen_only_at_a_sentence_start_keeps_its_capital():
    """ "Hayden" opens its sentences only: a dictionary word there is lower-cased
    ("Trees fell" -> "trees"), a word no dictionary knows is a name."""
    st = phrase_stats(["Hayden scored 131 before lunch. Trees fell in the storm.",
                       "Hayden was bowled. Trees were planted."])
    assert st.surface["hayden"] == "Hayden" and st.surface["tree"] == "trees", st.surface
