"""Question flaws found by reading generated items (issues 18 and 28), on written text.

Answers and blanks are the parser's noun chunks, so a blank never covers a verb phrase
("slash farm output") or half a name; a copula question needs a noun or adjective after
the copula; an opening adverb stays out of the question.
"""

from __future__ import annotations

import re

import pytest

from pipeline_kit.stages._chunking import create_semantic_chunks
from pipeline_kit.stages._nlp import parse
from pipeline_kit.stages._question_parse import answer_phrases, ask_sentence, clean_spoken
from pipeline_kit.stages._questions import BLANK, generate_questions

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


def _sentence(text: str):
    return next(iter(parse(text).sents))


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
    ("This torque causes the entire system to rotate about its axis.", "rotate"),
    ("Despite extensive attempts to dry them, the readings drifted.",
     "Despite extensive attempts"),
    ("The climate ranges from the steamily equatorial to the temperate.", "climate ranges"),
    ("The tub fills slowly until overflow from the main drain begins.", "main drain begins"),
    ("Price Daniel 's act seemed certain.", "Daniel"),  # a name cut at its start
])
def test_a_blank_is_never_a_verb_phrase_or_part_of_a_name(sentence, phrase):
    assert phrase not in answer_phrases(_sentence(sentence))


@pytest.mark.parametrize(("sentence", "phrase"), [
    ("Despite extensive attempts to dry them, the readings drifted.", "extensive attempts"),
    ("It was not an easy position to defend.", "easy position"),
    ("The chronicles give an authentic account of the siege.", "authentic account"),
    ("The farmers sent their grain to local markets.", "local markets"),
    ("Then Dick Hyde, a submarine-ball hurler, entered the contest.", "Dick Hyde"),
    ("The Middle Ages brought calligraphy to perfection.", "Middle Ages"),
])
def test_noun_phrases_still_make_blanks(sentence, phrase):
    assert phrase in answer_phrases(_sentence(sentence))


@pytest.mark.parametrize("sentence", [
    "The tendency is toward putting dominant stress at the end.",
    "Dominant stress is of course more than extended duration.",
    "The answer was in the second letter of the bishop.",
])
def test_what_stem_needs_a_noun_phrase_after_the_copula(sentence):
    for q in ask_sentence(_sentence(sentence)):
        assert not re.match(r"What (?:is|was) (?:of|toward|in)\b", q.text), q


def test_copula_with_a_noun_phrase_asks_both_ways():
    asked = {q.text: q.answer for q in ask_sentence(_sentence(
        "The tendency is a habit of putting dominant stress at the end."))}
    assert asked["What is a habit of putting dominant stress at the end?"] == "The tendency"
    assert asked["What is the tendency?"] == "a habit of putting dominant stress at the end"


def test_an_opening_adverb_stays_out_of_the_question():
    """Read in session 3: "What did later they move to Rome itself?"."""
    asked = {q.text: q.answer for q in ask_sentence(_sentence(
        "Later the printers moved the press to Rome."))}
    assert asked["Where did the printers move the press?"] == "Rome"
    assert asked["What did the printers move to Rome?"] == "the press"
    asked = {q.text: q.answer for q in ask_sentence(_sentence(
        "Afterwards the book was printed in Venice."))}
    assert asked["Where was the book printed?"] == "Venice"


def test_spoken_fillers_are_removed_or_nothing_is_asked():
    cleaned = clean_spoken("Um, so the the remote control should have, uh, three buttons.")
    assert cleaned == "So the remote control should have three buttons."
    asked = {q.text: q.answer for q in ask_sentence(_sentence(cleaned))}
    assert asked["How many buttons should the remote control have?"] == "three"
    assert not ask_sentence(_sentence(clean_spoken("Um, I mean, you know, I think we should.")))


def test_a_false_start_gives_no_cloze_item():
    """The demo recording's free speech gave "We're just there's some _____, but cares."
    from "We're just, you know, there's some speech errors, but cares.": a cloze item
    shows its sentence whole, so a sentence that needed cleaning gives none; the same
    words said fluently still give one."""
    said = "We're just, you know, there's some speech errors in the recording, but cares."
    chunks = create_semantic_chunks(said, 40, 0, method="fixed", with_temporal=False)
    assert not [q for q in generate_questions(chunks) if q.type == "cloze"]
    fluent = "There are some speech errors in the recording, but nobody cares."
    chunks = create_semantic_chunks(fluent, 40, 0, method="fixed", with_temporal=False)
    assert [q.text for q in generate_questions(chunks) if q.type == "cloze"]


def _asked(text: str) -> dict[str, str]:
    return {a.text: a.answer for a in ask_sentence(_sentence(text))}


@pytest.mark.parametrize("sentence, question", [
    ("A respondent may want to make alternative answers.",
     "Who may want to make alternative answers?"),
    ("Experts point to the thinning of pitching talent in the league.",
     "Who points to the thinning of pitching talent in the league?"),
    ("Swadesh in short was trying to develop a basic list of words.",
     "Who was trying to develop a basic list of words?"),
])
def test_a_person_is_asked_with_who(sentence, question):
    """People nouns, and an untyped name acting with a verb of saying, wanting or trying
    ("in short" is an aside, not part of the answer)."""
    asked = _asked(sentence)
    assert question in asked, asked
    assert "in short" not in asked[question]


def test_a_name_known_from_another_sentence_is_a_person_and_keeps_its_capital():
    docs = [parse("Defense Attorney Charles Bellows made the request in court."),
            parse("Bellows made the disclosure yesterday.")]
    from pipeline_kit.stages._question_parse import person_names

    people = person_names(docs)
    assert "bellows" in people
    asked = {a.text for a in ask_sentence(next(iter(docs[1].sents)), people)}
    assert "Who made the disclosure yesterday?" in asked
    assert "What did Bellows make yesterday?" in asked
    # without the other sentence, the parser reads "Bellows" as a noun
    alone = {a.text for a in ask_sentence(next(iter(docs[1].sents)))}
    assert "Who made the disclosure yesterday?" not in alone


@pytest.mark.parametrize("sentence", [
    "This letter might not have been necessary had our efforts been more successful.",
    "A full trial was ordered for the two clerks who were arrested in January.",
    "The Providence Daily Journal answered the Daily Post by stating that it had lied.",
    "Its boundaries had nothing in common with the old tribal lands.",
    "No single explanation is adequate to account for this rise.",
    "Development is a term that critics use loosely about the later poems.",
])
def test_no_question_is_broken_negated_or_uninformative(sentence):
    """A participle taken for a verb ("What beens ...?"), a stranded preposition or lost
    complement ("What was ordered for?"), a negation, and "What is a term?"."""
    for text in _asked(sentence):
        assert not re.search(r"\bbeens\b|\b(?:for|by|stating)\?$|\bnothing\b", text), text
        assert not text.startswith(("What is a term", "What is adequate")), text


def test_an_era_in_a_prepositional_phrase_asks_when():
    asked = _asked("And it was a matter of course that in the Middle Ages, when the craftsmen "
                   "took care that beautiful form should always be a part of their productions "
                   "whatever they were, the forms of printed letters should be beautiful.")
    assert any(q.startswith("When ") and a.endswith("Middle Ages") for q, a in asked.items()), asked


def test_do_support_agrees_with_the_subject_not_the_verb_tag():
    """The tagger reads "possess" after "the two endpoints" as singular now and then;
    the question's "do" follows the subject."""
    asked = _asked("Among such curves, the two endpoints possess only one inscribed square.")
    assert "What do the two endpoints possess?" in asked, asked
    assert not any(q.startswith("What does the two") for q in asked)


@pytest.mark.parametrize("sentence", [
    "My biologist friends tell me mechanisms of adaptation and defense.",
    "Two ruined the Titans in the second game of the season.",
])
def test_no_question_about_the_speaker_or_a_bare_number(sentence):
    assert _asked(sentence) == {}


# Flaws read on Choi documents 3-5/40, 9-11/41, 6-8/25, 3-11/38, 9-11/36 and 3-5/22
# (issue 28, round 3): each sentence below gave the flawed item before.
@pytest.mark.parametrize("sentence, flawed", [
    ("The garages they require are not prime buildings by a long shot.", "prime buildings"),
    ("The grand jury commented on a number of other topics, among them the purchasing "
     "departments.", "among them"),
    ("The club gave Norm Van Brocklin permission to seek the head coaching job.",
     "|| Norm Van Brocklin permission"),
    ("One such disagreement concerns the question whether rates must be made "
     "proportional to marginal costs.", "the question"),
    ("The man was King Leopold II of the Belgians.", "The man"),
    ("Psychical blindness is a condition in which there is a total absence of visual "
     "memory-images, a condition in which, for example, one is unable to remember something "
     "just seen.", "a condition a condition"),
    ("Religion does perform certain individual and social functions.", "does perform"),
    ("The very attempt to know the world is itself a conditioned response to a world.",
     "the very attempt"),
    ("This push to confine the study of mass behaviour to the measurements of parameters "
     "has led sociology perilously close to the reduction of the word \"mass\".", "push"),
    ("Then they all hastened to add that certainly less time was needed on it.", "certainly"),
    ("Player was the first to feel its teeth.", "Who was the first?"),
    ("Recent criticism of Great Expectations has tended to emphasize its symbolic and "
     "mythic content, to show, as M.D. Zabel has said of Dickens generally, that much of the "
     "novel's impact resides in its allegoric insight.", "said of Dickens"),
])
def test_no_question_asks_what_a_reader_cannot_check(sentence, flawed):
    """No answer that a negation denies, no unresolved "them" or "this push", no
    person read into a thing ("Norm Van Brocklin permission"), no answer that names
    nothing ("the question", "The man" for King Leopold), no appositive read as a second
    complement, no emphatic "does", no answer cut from its infinitive."""
    asked = _asked(sentence)
    assert all(flawed not in f"{q} || {a}" for q, a in asked.items()), asked


def test_an_untyped_name_is_not_asked_with_what():
    """The small recognizer gives "Whipple" no type: "What extends ...?" would call a
    person a thing, so the name is not the answer; its object still is, and do-support
    keeps the hyphenated word whole."""
    asked = _asked("Whipple (1955) extends the effects to include the solar-corpuscular-radiation "
                   "pressure, which increases both the minimum particle size and the drag.")
    assert "Whipple" not in asked.values(), asked
    assert "What does Whipple extend to include the solar-corpuscular-radiation pressure?" \
        in asked, asked


def test_a_role_after_a_copula_is_asked_with_what_and_from_keeps_its_place():
    asked = _asked("Mr. Hawksley, the state's general treasurer, has been a part-time CD "
                   "director in the city for the last nine years.")
    assert any(q.startswith("What has Mr. Hawksley been") for q in asked), asked
    assert not any(q.startswith("Who has Mr. Hawksley been") for q in asked), asked
    asked = _asked("The singer Ella Fitzgerald is coming from Australia next month.")
    assert any(q.startswith("Where is") and q.endswith(" from?") for q in asked), asked


def test_an_article_inside_a_question_is_lower_case():
    asked = _asked("The Congress of Vienna is a convenient starting point for this history.")
    assert any(q.startswith("What is the Congress of Vienna") for q in asked), asked
    assert not any(" The " in q for q in asked), asked


@pytest.mark.parametrize("sentence", [
    "Los Angeles in 1957 finally bowed to the skyscraper and the freeway.)",
    "Choice was expected The selection had been expected by the whole club.",
])
def test_no_cloze_item_from_a_piece_of_a_sentence(sentence):
    """Unbalanced brackets or two sentences run together: a blank in a piece reads broken."""
    from pipeline_kit.stages._question_parse import cloze_sentence

    sent = _sentence(sentence)
    keys = {p.lower() for p in answer_phrases(sent)}
    assert keys, sentence
    assert cloze_sentence(sent, keys, {k: k for k in keys}) is None


# Flaws read on Choi documents (rounds 3-4 scoring sets, read afterwards) and on 40 ABC
# news articles of the Lee corpus (issue 28, round 5): each sentence gave the flawed item.
@pytest.mark.parametrize("sentence, flawed", [
    ("If that happens, sea levels would rise by one metre in the next 100 years.", "sea levels"),
    ("The council hopes the court's decision will help protect Queensland's world heritage "
     "rainforests.", "the court's decision"),
    ("The engineer believes the fire from the gas in the plane melted the iron structure of "
     "the tower.", "melt"),
    ("Let the two countries move towards peace and harmony.", "the two countries"),
    ("Police in Karachi say it is likely more raids will be launched against the two groups.",
     "more raids"),
    ("India accuses Pakistan's military intelligence of masterminding the assault.",
     "What does India accuse?"),
    ("Geoff Huegill won the 50 metres butterfly in 24.21 seconds.", "What did Geoff Huegill"),
    ("To effect these operations, five elements exist (1) surface, (2) air, (3) mines, "
     "(4) submarine, and (5) fixed installations.", "five elements"),
    ('Daniel termed "extremely conservative" his estimate that it would produce 17 million '
     "dollars.", "term"),
    ("If the polarities are correct, the platform rotates in such a direction as to reduce "
     "the accelerometer output to zero.", "such a direction"),
    ("Assonance seems nearly as severe a curb.", "What does Assonance seem?"),
    ("Milman Parry rigorously defended the observation that the extant Homeric poems are "
     "largely formulaic.", "|| the observation"),
    ("World champion Matt Welsh was the first swimmer eliminated from the 50 metres "
     "backstroke.", "the first swimmer?"),
    ("However, the Mayor insists his policing strategy has been highly effective.",
     "his policing strategy"),
    ("The Australian Bureau of Statistics has found gambling was the biggest money winner "
     "for casinos.", "What was gambling?"),
    ("Officials say they cannot say conclusively that Saddam Hussein has weapons of mass "
     "destruction.", "weapons of mass destruction"),
    ("She has faith the court system will overturn her sentence.", "her sentence"),
    ("The cuts will take effect this financial year, the minister said.", "|| effect"),
    ("Ms Almao told the radio station she had gone to Macapa to identify the body.",
     "the radio station"),
    ("Mr Aquilina has reminded householders that the SES is a volunteer organisation.",
     "householders"),
    ("A spokeswoman has rejected claims that 950 detainees at the Woomera centre are to be "
     "relocated next month.", "rejected claims?"),
])
def test_no_question_states_what_the_sentence_does_not(sentence, flawed):
    """Nothing asked from a clause under a condition, a hope, a belief, a likelihood or
    an imperative "let"; no object that took in its verb's complement ("of
    masterminding") or lost its other half ("the 50 metres | butterfly"); nothing across
    brackets, a shifted object, a lost "as", "seem" with an object, a bare noun without
    its defining clause, a ranked noun without its participle, a possessive whose owner
    is elsewhere, or a ranking turned into a definition."""
    asked = _asked(sentence)
    assert all(flawed not in f"{q} || {a}" for q, a in asked.items()), asked


@pytest.mark.parametrize("sentence, question", [
    ("Two Swiss guides who survived the 1999 Interlaken canyoning accident have denied any "
     "wrongdoing in leading the trip into the Saxet River.",
     "Who has denied any wrongdoing in leading the trip into the Saxet River?"),
    ("Pakistani police arrested more than two dozen militants from extremist groups.",
     "Who arrested more than two dozen militants from extremist groups?"),
    ("The group of Sri Lankan men was found aboard a fishing boat.",
     "Who was found aboard a fishing boat?"),
    ("Authorities are trying to track down the crew of a vessel.",
     "Who is trying to track down the crew of a vessel?"),
    ("Witnesses said two suicide bombers blew themselves up in a Gaza Strip settlement.",
     "Who blew themselves up in a Gaza Strip settlement?"),
])
def test_people_by_their_wordnet_sense_are_asked_with_who(sentence, question):
    """Nouns whose first WordNet sense is a person ("guides"), plurals of groups
    ("police") or of a role ("authorities"), a group "of" people, and a subject that a
    reflexive "themselves" shows to be people ("bombers", first a plane in WordNet)."""
    assert question in _asked(sentence), _asked(sentence)


def test_a_blank_needs_words_around_it():
    """Whisper's transcript of an AMI meeting (trn01-09) gave one item, "This is a bit of
    a _____." (KML goo): one content word outside the blank gives nothing to go on. None
    of the 319 cloze items judged on four unseen news sets had fewer than two (issue
    28, round 5)."""
    from pipeline_kit.stages._question_parse import cloze_sentence

    sent = _sentence("This is a bit of a KML goo.")
    assert cloze_sentence(sent, {"kml goo"}, {"kml goo": "kml goo"}) is None
    fuller = _sentence("They will now be entitled to make claims through the tribunal.")
    assert cloze_sentence(fuller, {"tribunal"}, {"tribunal": "tribunal"}) is not None
