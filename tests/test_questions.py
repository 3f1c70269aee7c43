"""Question generation on real text: answer rules, de-duplication, clarifying questions, hooks."""

from __future__ import annotations

import pytest
from conftest import shared_path
from textdata import LJ, choi_text, make_chunks

from pipeline_kit.stages._chunking import create_semantic_chunks
from pipeline_kit.stages._graph import build_graph
from pipeline_kit.stages._questions import (
    BLANK,
    QuestionGeneratorError,
    contains_answer,
    generate_questions,
    lemma,
    normalize,
    question_words,
)
from pipeline_kit.stages._types import Chunk, Question, TemporalInfo, TemporalMarker

COMPREHENSION = {"cloze", "when", "how_many", "who", "what", "where", "relation"}
WH_OF = {"when": ("When ", "Since when ", "Until when "), "how_many": ("How many ",),
         "who": ("Who ",), "what": ("What ",), "where": ("Where ",)}
KIND_OF = {"when": {"date"}, "how_many": {"number"}, "who": {"person"}, "where": {"place"},
           "what": {"thing", "phrase"}}


@pytest.fixture(scope="module")
def lj_chunks() -> list[Chunk]:
    return make_chunks(shared_path(LJ).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def choi_chunks() -> list[Chunk]:
    return make_chunks(choi_text(3), size=150, overlap=25)


def check_rules(questions: list[Question], chunks: list[Chunk]) -> None:
    by_id = {c.chunk_id: c for c in chunks}
    assert questions
    assert [q.score for q in questions] == sorted((q.score for q in questions), reverse=True)
    seen: dict[str, list[set[str]]] = {}
    for q in questions:
        chunk = by_id[q.chunk_id]
        # the source sentence's time range, inside its chunk's
        assert chunk.start_time <= q.start_time < q.end_time <= chunk.end_time + 1e-9, q
        assert q.text.strip().endswith("?") or q.type == "cloze"
        assert q.text.count(BLANK) <= 1, q.text
        if q.type in COMPREHENSION:
            assert q.answer and " ".join(q.answer.split()).lower() in " ".join(
                chunk.text.split()).lower(), q
            assert not contains_answer(q.text, q.answer), q
            assert q.context and q.answer in q.context and normalize(q.context) in normalize(
                chunk.text), q  # the answer comes from one sentence of the chunk
        if q.type in WH_OF:  # the wh-word fits the answer's kind
            assert q.text.startswith(WH_OF[q.type]) and q.answer_type in KIND_OF[q.type], q
        words = question_words(q.text)  # near-duplicates: same type, shared distinctive words
        same = seen.setdefault(q.type, [])
        assert all(len(words & s) / len(words | s) < 0.7 for s in same), q.text
        same.append(words)
    assert len({normalize(q.text) for q in questions}) == len(questions)


@pytest.mark.parametrize("which", ["lj", "choi"])
def test_rules_on_real_text(which, lj_chunks, choi_chunks):
    chunks = lj_chunks if which == "lj" else choi_chunks
    qs = generate_questions(chunks, graph=build_graph(chunks))
    check_rules(qs, chunks)
    types = {q.type for q in qs}
    assert "relation" not in types  # relations only when asked for
    assert all(q.source == "builtin" for q in qs)
    wh = [q for q in qs if q.type in WH_OF]
    assert sum(q.text.startswith("How are") for q in qs) == 0
    cloze = [q for q in qs if q.type == "cloze"]
    assert 3 * len(cloze) <= len(wh) + len(cloze)  # at most a third cloze
    assert all(len(q.text.split()) <= 25 for q in cloze)
    if which == "choi":  # LJ's long, subordinate-heavy sentences give only 2 (issue 28 notes)
        assert "cloze" in types
        assert len(types & {"when", "who", "what", "how_many", "where"}) >= 2, types
        assert len(wh) >= 5, [q.text for q in qs]


def test_relation_questions_on_request(lj_chunks):
    qs = generate_questions(lj_chunks, relation=True)
    rel = [q for q in qs if q.type == "relation"]
    assert rel and all(q.text.startswith("How are ") for q in rel)
    check_rules(qs, lj_chunks)


def test_lj_specific_questions(lj_chunks):
    qs = generate_questions(lj_chunks)
    texts = {q.text: q for q in qs}
    # From "The Middle Ages brought calligraphy to perfection, and it was natural ...":
    # the main clause only, asked for its subject and its object.
    what = texts["What did the Middle Ages bring to perfection?"]
    assert what.answer == "calligraphy" and what.type == "what"
    assert texts["What brought calligraphy to perfection?"].answer == "The Middle Ages"
    assert all(len(q.text.split()) < len(q.context.split()) for q in qs if q.type == "what")


def test_clarifying_names_a_specific_event(lj_chunks):
    qs = [q for q in generate_questions(lj_chunks) if q.type == "clarifying"]
    by_id = {c.chunk_id: c for c in lj_chunks}
    assert qs
    for q in qs:
        assert q.text.startswith("When did the ") and q.answer is None
        assert "events involving" not in q.text and "this happen" not in q.text.lower()
        event = q.text.removeprefix("When did ").removesuffix(" take place?")
        assert normalize(event) in normalize(by_id[q.chunk_id].text), q.text
    assert any("invention of movable metal letters" in q.text for q in qs)


def test_no_clarifying_when_time_is_known(lj_chunks):
    marker = TemporalMarker("fourteen fifty-five", "year", 0, 5, "1455", 0.9)
    dated = [Chunk(c.chunk_index, c.text, c.start_word_index, c.end_word_index, c.start_time,
                   c.end_time, temporal_info=TemporalInfo((marker,))) for c in lj_chunks]
    assert not [q for q in generate_questions(dated) if q.type == "clarifying"]


def test_deterministic_and_limits(lj_chunks):
    a = generate_questions(lj_chunks)
    assert a == generate_questions(lj_chunks)
    assert generate_questions(lj_chunks, max_questions=5) == a[:5]
    assert all(q.type != "cloze" for q in generate_questions(lj_chunks, cloze=False))
    with pytest.raises(TypeError, match="unknown option"):
        generate_questions(lj_chunks, clozes=False)
    assert generate_questions([]) == []


def test_user_generators(lj_chunks):
    first = lj_chunks[0]

    def my_gen(chunks, chapters, graph):
        return [
            {"text": "Who wrote this essay?", "type": "open", "chunk_id": first.chunk_id,
             "score": 2.0},
            Question("What is typography?", "open", None, None, None, None, 0.1),
            {"text": "Who wrote this essay ?", "score": 1.0},  # duplicate after normalising
        ]

    qs = generate_questions(lj_chunks, generators=[my_gen])
    top = qs[0]
    assert top.text == "Who wrote this essay?" and top.source == "my_gen"
    assert (top.start_time, top.end_time) == (first.start_time, first.end_time)
    assert sum(normalize(q.text) == "who wrote this essay" for q in qs) == 1
    assert any(q.text == "What is typography?" and q.source == "my_gen" for q in qs)
    only = generate_questions(lj_chunks, generators=[my_gen], builtin=False)
    assert {q.source for q in only} == {"my_gen"}

    for bad, msg in [
        (lambda c, ch, g: None, "iterable"),
        (lambda c, ch, g: [42], "Question or dict"),
        (lambda c, ch, g: [{"text": ""}], "non-empty"),
        (lambda c, ch, g: [{"text": "Q?", "chunk_id": "nope"}], "unknown chunk_id"),
        (lambda c, ch, g: [{"text": "Q?", "score": "high"}], "score"),
        (lambda c, ch, g: [{"text": "Q?", "colour": "red"}], "unknown field"),
    ]:
        with pytest.raises(QuestionGeneratorError, match=msg):
            generate_questions(lj_chunks, generators=[bad], builtin=False)
    with pytest.raises(TypeError, match="callable"):
        generate_questions(lj_chunks, generators=["not callable"])


def test_on_the_chunkers_output():
    text = shared_path(LJ).read_text(encoding="utf-8")
    chunks = create_semantic_chunks(text, chunk_size=120, overlap=20, method="tfidf")
    check_rules(generate_questions(chunks, graph=build_graph(chunks)), chunks)


@pytest.mark.parametrize("past,base", [("began", "begin"), ("printed", "print"),
                                        ("produced", "produce"), ("stopped", "stop"),
                                        ("carried", "carry"), ("concluded", "conclude"),
                                        ("indeed", None), ("letters", None)])
def test_lemma(past, base):
    assert lemma(past) == base


# Sentences written for these tests: each answer type, and the faults issue 18 found.
HISTORY = (
    "The Normans conquered England in 1066. William Caxton printed the first book in English "
    "at Bruges. The new press employed twelve workmen in its first year. Scholars, printers "
    "and binders are noted both for their culture and for their skill. The first books were "
    "printed in Black Letter. Aldus Manutius founded his press at Venice. Type founders cast "
    "the letters in moulds of brass, and the printers set the letters by hand. Johann "
    "Gutenberg perfected the adjustable mould, which cast letters of equal height. The "
    "printing of the Bible took three years. The Bible has fine letters and the letters are "
    "large, and the letters are black."
)


@pytest.fixture(scope="module")
def history_questions() -> list[Question]:
    chunks = create_semantic_chunks(HISTORY, 200, 0, method="fixed")
    return generate_questions(chunks)


@pytest.mark.parametrize(("question", "answer", "kind"), [
    ("When did the Normans conquer England?", "1066", "date"),
    ("Who printed the first book in English at Bruges?", "William Caxton", "person"),
    ("Where did William Caxton print the first book in English?", "Bruges", "place"),
    ("How many workmen did the new press employ in its first year?", "twelve", "number"),
    ("How many years did the printing of the Bible take?", "three", "number"),
    ("Who perfected the adjustable mould?", "Johann Gutenberg", "person"),
])
def test_answer_first_questions_use_the_wh_word_of_the_answer(history_questions, question,
                                                               answer, kind):
    by_text = {q.text: q for q in history_questions}
    assert question in by_text, sorted(by_text)
    q = by_text[question]
    assert (q.answer, q.answer_type) == (answer, kind)
    assert q.answer in q.context


def test_issue_faults_are_not_generated(history_questions):
    texts = [q.text for q in history_questions]
    # "Black Letter" is capitalised but no place; no stem cut before "and for their skill"
    assert not [q for q in history_questions if q.answer == "Black Letter" and
                q.type == "where"]
    assert not [t for t in texts if "noted both for their culture?" in t]
    assert not [t for t in texts if "and the letters are" in t]  # a second clause glued on
    assert all(t.count(BLANK) <= 1 for t in texts)
    # the sentence naming "letters" three times gives no cloze: the answer would show
    assert not [q for q in history_questions if q.type == "cloze" and "fine" in q.text]
    assert not [q for q in history_questions if q.type == "clarifying"]  # 1066 is known
    assert len({(q.context, q.answer) for q in history_questions}) == len(history_questions)


def test_a_sentence_asked_by_a_wh_question_gives_no_cloze(history_questions):
    wh = {q.context for q in history_questions if q.type in WH_OF}
    cloze = {q.context for q in history_questions if q.type == "cloze"}
    assert wh and not wh & cloze
    first = [q for q in history_questions if q.context == HISTORY.split(". ")[0] + "."]
    assert "when" in [q.type for q in first]


def test_question_records_round_trip_and_old_json_loads(history_questions):
    for q in history_questions:
        assert Question.from_dict(q.to_dict()) == q
    old = {"text": "Who?", "type": "who", "answer": "X", "chunk_id": None, "start_time": None,
           "end_time": None, "score": 0.5, "source": "builtin"}
    assert Question.from_dict(old).context is None


NORMANS = (
    "In 1066, Duke William of Normandy conquered England. In the 10th century the Normans "
    "adopted the Christian faith. Rollo swore fealty to King Charles of West Francia in 911. "
    "The Normans built more than forty castles in Wales."
)


@pytest.mark.parametrize(("question", "answer"), [
    ("When did Duke William of Normandy conquer England?", "1066"),  # after an opening phrase
    ("When did the Normans adopt the Christian faith?", "the 10th century"),
    ("How many castles did the Normans build in Wales?", "more than forty"),  # whole number
    ("Where did the Normans build more than forty castles?", "Wales"),
])
def test_squad_style_questions_on_written_history(question, answer):
    qs = generate_questions(create_semantic_chunks(NORMANS, 200, 0, method="fixed"))
    by_text = {q.text: q.answer for q in qs}
    assert by_text.get(question) == answer, sorted(by_text)


def test_rule_judged_targets_on_real_text(shared_data, sample_dir):
    """Issue 18 targets on LJ Speech, five Choi documents and the Austen sample (qeval.py)."""
    from qeval import evaluate, sources

    figures, rows = evaluate(sources(shared_data, sample_dir))
    assert figures["items"] >= 100, figures
    assert figures["grammatical"] >= 0.9, figures
    assert figures["answerable_and_correct"] >= 0.9, figures
    assert figures["multi_blank"] == 0, figures
    kinds = {q.type for _, q, _ in rows}
    assert {"when", "who", "what", "how_many", "where", "cloze"} <= kinds, kinds
