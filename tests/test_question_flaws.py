"""Question flaws found by reading generated items (issue 18), reproduced on written text.

Each bad item came from one rule: a "What is …?" stem whose rest is a prepositional
phrase, and cloze blanks over a span that is no whole noun phrase where it stands.
"""

from __future__ import annotations

import re

import pytest

from pipeline_kit.stages._chunking import create_semantic_chunks
from pipeline_kit.stages._questions import (
    BLANK,
    generate_questions,
    object_question,
    subject_question,
    where_question,
    whole_noun_phrase,
)

# Before the fix, generation over these sentences gave six flawed items (the blanks
# below, and "What is of course more than extended duration?").
TEXT = (
    "In spoken English the tendency is toward putting dominant stress at the end. "
    "Dominant stress is of course more than extended duration. "
    "Stress in English words falls on a syllable that the listener hears as louder. "
    "Farmers in the valley asked the government to slash farm output. "
    "The minister said the tax would slash farm output within a year. "
    "Despite extensive attempts to dry the samples, the readings of the gauge drifted. "
    "It was not a pleasant or easy position for the committee to defend. "
    "The old chronicles give a seemingly authentic account of the siege. "
    "The climate ranges from the steamily equatorial to the temperate. "
    "The tub fills slowly until overflow from the main drain begins. "
    "This torque causes the entire gyro system to rotate about its axis. "
)
NOT_NOUN_PHRASES = {"slash farm output", "Despite extensive attempts", "easy position",
                    "authentic account", "climate ranges", "main drain begins", "rotate"}


def span(sentence: str, phrase: str) -> tuple[str, int, int]:
    start = sentence.index(phrase)
    return sentence, start, start + len(phrase)


def test_generated_items_on_the_written_text_have_none_of_the_flaws():
    chunks = create_semantic_chunks(TEXT, 24, 0, method="fixed", with_temporal=False)
    questions = generate_questions(chunks)
    assert len(questions) >= 2  # the text still gives sound items
    for q in questions:
        assert q.answer not in NOT_NOUN_PHRASES, q
        assert not re.match(r"What (?:is|are|was|were) (?:of|toward|in|at)\b", q.text), q
        assert q.text.count(BLANK) <= 1


@pytest.mark.parametrize(("sentence", "phrase"), [
    ("Farmers asked the government to slash farm output.", "slash farm output"),
    ("The tax would slash farm output within a year.", "slash farm output"),
    ("This torque causes the entire system to rotate about its axis.", "rotate"),
    ("Despite extensive attempts to dry them, the readings drifted.",
     "Despite extensive attempts"),
    ("It was not a pleasant or easy position to defend.", "easy position"),
    ("The chronicles give a seemingly authentic account of the siege.", "authentic account"),
    ("The climate ranges from the steamily equatorial to the temperate.", "climate ranges"),
    ("The tub fills slowly until overflow from the main drain begins.", "main drain begins"),
])
def test_cloze_blank_must_be_a_whole_noun_phrase(sentence, phrase):
    assert not whole_noun_phrase(*span(sentence, phrase))


@pytest.mark.parametrize(("sentence", "phrase"), [
    ("Despite extensive attempts to dry them, the readings drifted.", "extensive attempts"),
    ("It was not an easy position to defend.", "easy position"),
    ("The chronicles give an authentic account of the siege.", "authentic account"),
    ("The farmers sent their grain to local markets.", "local markets"),
    ("Most library budgets are hopelessly inadequate.", "library budgets"),
    ("In 1 we investigate a new series of line involutions in a projective space.",
     "line involutions"),
    ("Then Dick Hyde, a submarine-ball hurler, entered the contest.", "Dick Hyde"),
])
def test_noun_phrases_still_make_blanks(sentence, phrase):
    assert whole_noun_phrase(*span(sentence, phrase))


@pytest.mark.parametrize("sentence", [
    "The tendency is toward putting dominant stress at the end.",
    "Dominant stress is of course more than extended duration.",
    "The answer was in the second letter of the bishop.",
])
def test_what_stem_needs_a_noun_phrase_after_the_copula(sentence):
    subject = sentence.split(" is ")[0].split(" was ")[0]
    assert subject_question(*span(sentence, subject), "What") is None


def test_what_stem_from_a_subject_with_a_noun_phrase_complement():
    sentence = "The tendency is a habit of putting dominant stress at the end."
    assert subject_question(*span(sentence, "The tendency"), "What") == (
        "What is a habit of putting dominant stress at the end?")


def test_an_opening_time_adverb_follows_the_subject_in_the_question():
    """Read in session 3: "What did later they move to Rome itself?"."""
    s = "Later they moved the press to Rome itself."
    found = object_question(s, *span(s, "the press")[1:], "What")
    assert found is not None and found[0] == "What did they later move to Rome itself?"
    assert where_question(s, *span(s, "Rome itself")[1:]) == \
        "Where did they later move the press?"
    s = "Afterwards the book was printed in Venice."
    assert where_question(s, *span(s, "Venice")[1:]) == "Where was the book afterwards printed?"
